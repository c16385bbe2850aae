//! `livescan verify FILE`: check an export end to end; name the first bad thing.

use livescan::cli::VerifyArgs;
use livescan::exit_code::Exit;
use livescan::pack::verify;

pub fn run(args: VerifyArgs) -> Exit {
    match verify::verify_file(&args.file) {
        Ok(r) => {
            println!(
                "{}: OK — report {} bytes, {} entries in {} frames ({} tar bytes), manifest {} lines, whole-file BLAKE3 {}",
                args.file.display(),
                r.report_bytes,
                r.entries,
                r.frames,
                r.tar_bytes,
                r.manifest_lines,
                r.blake3
            );
            Exit::Ok
        }
        Err(e) => {
            eprintln!("{}: BAD: {e}", args.file.display());
            Exit::Fatal
        }
    }
}
