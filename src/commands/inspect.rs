//! `livescan inspect FILE [--json]`.

use livescan::cli::InspectArgs;
use livescan::exit_code::Exit;
use livescan::pack::inspect;

pub fn run(args: InspectArgs) -> Exit {
    let i = match inspect::inspect(&args.file) {
        Ok(i) => i,
        Err(e) => {
            livescan::errorln!("livescan: {}: {e}", args.file.display());
            return Exit::Fatal;
        }
    };
    if args.json {
        match serde_json::to_string_pretty(&i) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                livescan::errorln!("livescan: {e}");
                return Exit::Fatal;
            }
        }
        return Exit::Ok;
    }
    let os = i.host["os_release"]["PRETTY_NAME"]
        .as_str()
        .unwrap_or("unknown distribution");
    let host = i.host["hostname"].as_str().unwrap_or("unknown host");
    println!("{}: {host}, {os}", args.file.display());
    println!(
        "  scanned root {}, started {}",
        i.scan["root"], i.scan["started"]
    );
    for (m, n) in &i.packages {
        println!("  {n} {m} packages");
    }
    let t = &i.totals;
    println!(
        "  {} added, {} modified, {} deleted paths",
        t["added"], t["modified"], t["deleted"]
    );
    println!(
        "  overlay: {} entries, {} bytes of files, {} tar bytes in {} frames; export {} bytes",
        i.entries, i.file_bytes, i.tar_bytes, i.frames, i.export_bytes
    );
    println!(
        "  {} listed but not packed, {} changed or vanished while packed",
        i.not_packed, i.events
    );
    if !i.top_directories.is_empty() {
        println!("  largest directories:");
        for (d, b) in &i.top_directories {
            println!("    {b:>14}  {d}");
        }
    }
    Exit::Ok
}
