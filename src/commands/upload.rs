//! `livescan upload --url URL --user NAME --from FILE`.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use livescan::cli::UploadArgs;
use livescan::exit_code::Exit;
use livescan::ship::uforge_http::UforgeHttp;
use livescan::ship::upload::{upload_file, UploadOptions};
use livescan::ship::{credentials, ShipError};

pub fn run(args: UploadArgs) -> Exit {
    if args.url.contains('@')
        && args
            .url
            .split("://")
            .nth(1)
            .is_some_and(|r| r.split('/').next().is_some_and(|h| h.contains('@')))
    {
        eprintln!("livescan: --url must not carry credentials; use --user and LIVESCAN_PASSWORD");
        return Exit::Usage;
    }
    let password = match credentials::password() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("livescan: {e}");
            return Exit::Usage;
        }
    };
    let target = UforgeHttp::new(&args.url, &args.user, &password, Duration::from_secs(120))
        .with_bwlimit(args.bwlimit);
    if args.check {
        return match target.check() {
            Ok(()) => {
                println!("{}: reachable, credentials accepted", args.url);
                Exit::Ok
            }
            Err(e) => fail(e),
        };
    }
    let Some(from) = &args.from else {
        eprintln!("livescan: give --from FILE (an export made by `livescan export`); live streaming uploads are not built yet");
        return Exit::Usage;
    };
    let opts = UploadOptions {
        name: args.name.clone(),
        chunk_size: usize::try_from(args.chunk_size.clamp(4096, 64 << 20)).unwrap_or(8 << 20),
        retries: args.retries,
        backoff: Duration::from_millis(args.backoff_ms),
    };
    livescan::ship::interrupt::install();
    let tty = std::io::stderr().is_terminal();
    let started = Instant::now();
    let mut last_log = Instant::now();
    let mut progress = |done: u64, total: u64| {
        let secs = started.elapsed().as_secs_f64().max(0.001);
        let rate = done as f64 / secs;
        if tty {
            let eta = if rate > 0.0 {
                (total.saturating_sub(done)) as f64 / rate
            } else {
                0.0
            };
            eprint!(
                "\r{:>5.1}%  {} / {} bytes  {:.1} MB/s  ETA {:.0} s   ",
                done as f64 * 100.0 / total.max(1) as f64,
                done,
                total,
                rate / 1e6,
                eta
            );
        } else if last_log.elapsed() >= Duration::from_secs(10) {
            // Plain lines for the journal: one every 10 s.
            last_log = Instant::now();
            log::info!("upload: {done} of {total} bytes ({:.1} MB/s)", rate / 1e6);
        }
    };
    match upload_file(&target, from, &opts, &mut progress) {
        Ok(s) => {
            if tty {
                eprintln!();
            }
            println!(
                "livescan: uploaded {} bytes to {} in {:.1} s ({} resumed, {} sent, {} retries)",
                s.bytes, s.scan_uri, s.seconds, s.resumed_from, s.sent, s.retries
            );
            Exit::Ok
        }
        Err(e) => fail(e),
    }
}

fn fail(e: ShipError) -> Exit {
    eprintln!("livescan: upload: {e}");
    match e {
        ShipError::Rejected(_) => Exit::UploadRejected,
        // Retryable, a conflict that outlived the retries, or an interrupt: run again.
        _ => Exit::UploadRetryable,
    }
}
