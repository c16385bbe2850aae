//! `livescan upload --url URL --user NAME --from FILE`.

use std::io::{IsTerminal, Seek, Write};
use std::time::{Duration, Instant};

use std::io::BufWriter;

use livescan::cli::UploadArgs;
use livescan::config;
use livescan::exit_code::Exit;
use livescan::pack::export::{write_export, ExportOptions};
use livescan::pack::plan::{self, PackPolicy};
use livescan::ship::stream::ChunkSink;
use livescan::ship::uforge_http::{Credentials, UforgeHttp};
use livescan::ship::upload::{upload_file, UploadOptions};
use livescan::ship::{credentials, ShipError};
use livescan::ship::{ReportBody, UploadTarget};
use livescan::uforge::Distribution;

use super::upload_settings::Settings;

pub fn run(args: UploadArgs, cfg: config::Config) -> Exit {
    let args = match Settings::resolve(args, &cfg) {
        Ok(s) => s,
        Err(e) => {
            livescan::errorln!("livescan: {e}");
            return Exit::Usage;
        }
    };
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
    let creds = match &args.api_key {
        Some(public) => credentials::api_secret().map(|secret| Credentials::ApiKey {
            public: public.clone(),
            secret,
            form: args.api_key_signature,
        }),
        None => credentials::password().map(Credentials::Basic),
    };
    let creds = match creds {
        Ok(c) => c,
        Err(e) => {
            livescan::errorln!("livescan: {e}");
            return Exit::Usage;
        }
    };
    let tls = match livescan::ship::tls::config(args.ca_file.as_deref(), args.insecure) {
        Ok(t) => t,
        Err(e) => {
            livescan::errorln!("livescan: --ca-file: {e}");
            return Exit::Usage;
        }
    };
    let target = UforgeHttp::new(&args.url, &args.user, creds, Duration::from_secs(120), tls)
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
        if tty && total == 0 {
            // A live stream: its size is known only at the end.
            eprint!("\r{done} bytes  {:.1} MB/s   ", rate / 1e6);
        } else if tty {
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
    let Some(from) = &args.from else {
        return live(&args, cfg, &target, &opts, &mut progress);
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
    livescan::errorln!("livescan: upload: {e}");
    match e {
        ShipError::Rejected(_) => Exit::UploadRejected,
        // Retryable, a conflict that outlived the retries, or an interrupt: run again.
        _ => Exit::UploadRetryable,
    }
}

/// Scan this host and stream the export to the server as it is written.
fn live(
    args: &Settings,
    cfg: config::Config,
    target: &UforgeHttp,
    opts: &UploadOptions,
    progress: &mut (dyn FnMut(u64, u64) + Send),
) -> Exit {
    let run = match crate::scan_phase(&args.scan, &cfg) {
        Ok(r) => r,
        Err(exit) => return exit,
    };
    // The XML is both the scan report sent first and a section of the stream: written once,
    // to an unnamed temporary file (not memory), sent from there and copied from there.
    let xml = match xml_file(&run) {
        Ok(f) => f,
        Err(e) => {
            livescan::errorln!("livescan: building the UForge XML report: {e}");
            return Exit::Fatal;
        }
    };
    let result = &run.result;
    let host = &result.host;
    let name = args
        .name
        .clone()
        .or_else(|| host.hostname.clone())
        .unwrap_or_else(|| "unknown-host".into());
    // The scanned root's distribution (not the agent's build architecture).
    let dist: Distribution = result.profile.distribution.to_uforge();
    let inst = match target.instance(&name, host.machine_id.as_deref(), &dist, true) {
        Ok(i) => i,
        Err(e) => return fail(e),
    };
    // A live stream is new bytes every time: always a new scan (never spliced by offset).
    let scan = match target.create_scan(&inst, &name, "", ReportBody::UforgeXmlFile(&xml)) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let plan = plan::build(
        &result.root,
        result.classification.files.iter(),
        &PackPolicy::default(),
    );
    let export_opts = ExportOptions {
        level: args.level,
        overlay: true,
        spool_dir: std::env::temp_dir(),
    };
    let json_fill = |w: &mut dyn Write| super::export::report_json(&run, w);
    let xml_fill = |w: &mut dyn Write| {
        let mut f = &xml;
        f.rewind()?;
        std::io::copy(&mut f, w).map(|_| ())
    };
    let sink = ChunkSink::new(target, &scan, opts, progress);
    let written = write_export(
        BufWriter::with_capacity(1 << 20, sink),
        &json_fill,
        Some(&xml_fill),
        &result.root,
        &result.accounts,
        &plan,
        &export_opts,
    );
    let (w, summary) = match written {
        Ok(x) => x,
        Err(e) => {
            livescan::errorln!("livescan: streaming the overlay: {e}");
            return Exit::UploadRetryable;
        }
    };
    let sink = match w.into_inner() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("livescan: streaming the overlay: {}", e.error());
            return Exit::UploadRetryable;
        }
    };
    match sink.finish(&summary.blake3) {
        Ok((bytes, sent, retries)) => {
            println!(
                "livescan: streamed {bytes} bytes to {} ({sent} sent, {retries} retries)",
                scan.uri
            );
            if result.errors.is_empty() && summary.events.is_empty() && summary.skipped.is_empty() {
                Exit::Ok
            } else {
                Exit::Partial
            }
        }
        Err(e) => fail(e),
    }
}

/// The scan's UForge XML in an unnamed file of the temporary directory.
fn xml_file(run: &crate::ScanRun) -> std::io::Result<std::fs::File> {
    let file = tempfile::tempfile()?;
    let mut w = std::io::BufWriter::with_capacity(1 << 16, file);
    super::export::uforge_xml(run, &mut w)?;
    w.into_inner().map_err(|e| e.into_error())
}
