//! `livescan extract FILE --to DIR`.

use livescan::cli::ExtractArgs;
use livescan::exit_code::Exit;
use livescan::pack::extract;

pub fn run(args: ExtractArgs) -> Exit {
    match extract::extract(&args.file, &args.to) {
        Ok(r) => {
            println!(
                "{}: {} files ({} bytes), {} directories, {} symlinks, {} hardlinks restored into {}",
                args.file.display(),
                r.files,
                r.bytes,
                r.dirs,
                r.symlinks,
                r.hardlinks,
                args.to.display()
            );
            for (p, why) in &r.refused {
                eprintln!("  refused {}: {why}", livescan::path_bytes::display(p));
            }
            for w in &r.warnings {
                eprintln!("  warning: {w}");
            }
            if r.refused.is_empty() && r.warnings.is_empty() {
                Exit::Ok
            } else {
                Exit::Partial
            }
        }
        Err(e) => {
            livescan::errorln!("livescan: {}: {e}", args.file.display());
            Exit::Fatal
        }
    }
}
