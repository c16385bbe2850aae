//! `livescan export -o FILE`: scan, then write the report and the overlay in one file.
//! The file is written as `FILE.part` (created 0600, O_EXCL, O_NOFOLLOW) and linked to
//! `FILE` only when complete, so a `FILE` that exists is always a whole export.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use livescan::classify::Category;
use livescan::cli::ExportArgs;
use livescan::config;
use livescan::exit_code::Exit;
use livescan::pack::export::{write_export, ExportOptions};
use livescan::pack::parts::{self, SplitWriter};
use livescan::pack::plan::{self, PackPolicy};
use livescan::report;
use livescan::walk::Excludes;

use crate::{scan_phase, ScanRun};

fn part_path(output: &Path) -> PathBuf {
    let mut p = output.as_os_str().to_owned();
    p.push(".part");
    PathBuf::from(p)
}

/// The scan's JSON report, written to `w` (the export's first section; `upload` streams it).
pub fn report_json(run: &ScanRun, mut w: &mut dyn Write) -> std::io::Result<()> {
    crate::with_report_input(run, |input| report::write_report(&mut w, input))
}

/// The scan as UForge XML, written to `w`: the export carries it next to the JSON report,
/// and it is what `upload` sends as the scan report (docs/upload-protocol.md).
pub fn uforge_xml(run: &ScanRun, mut w: &mut dyn Write) -> std::io::Result<()> {
    crate::with_report_input(run, |input| report::uforge_xml::write_scan(&mut w, input))
}

/// Where the export's sections are spooled (`pack/spool.rs`): beside the export, whose
/// filesystem must have the room anyway; the temporary directory for standard output.
fn spool_dir(output: &Path, to_stdout: bool) -> PathBuf {
    match output.parent() {
        Some(p) if !to_stdout && !p.as_os_str().is_empty() => p.to_path_buf(),
        _ if !to_stdout => PathBuf::from("."),
        _ => std::env::temp_dir(),
    }
}

/// Part `n` of the output: (name while written, final name). Unsplit: FILE.part → FILE.
fn part_names(output: &Path, split: bool, n: usize) -> (PathBuf, PathBuf) {
    let fin = if split {
        parts::part_name(output, n)
    } else {
        output.to_path_buf()
    };
    (part_path(&fin), fin)
}

/// Warn before writing when the target filesystem has less room than the overlay's files
/// take uncompressed (zstd usually needs far less, so this is a warning, not a refusal).
fn check_free_space(out: &File, plan: &plan::Plan, no_overlay: bool) {
    if no_overlay {
        return;
    }
    let need: u64 = plan
        .entries
        .iter()
        .filter(|e| e.meta.kind == livescan::walk::FileKind::Regular && e.hardlink_to.is_none())
        .map(|e| e.meta.blocks.saturating_mul(512).min(e.meta.size))
        .sum();
    if let Ok(st) = nix::sys::statvfs::fstatvfs(out) {
        let free = st.blocks_available().saturating_mul(st.fragment_size());
        if free < need {
            log::warn!(
                "the export target has {free} bytes free and the overlay holds {need} bytes of files \
                 before compression: it may not fit"
            );
        }
    }
}

/// `DIR/HOST-20261201T190000Z.tar.zst`: one new file per run (export never overwrites), in
/// the order they were made. HOST is the scanned system's name.
fn default_output(dir: &Path, root: &Path) -> PathBuf {
    let hostname_file = if root == Path::new("/") {
        PathBuf::from("/proc/sys/kernel/hostname")
    } else {
        root.join("etc/hostname")
    };
    let host: String = std::fs::read_to_string(hostname_file)
        .unwrap_or_default()
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let host = if host.is_empty() { "host".into() } else { host };
    let time: String = crate::now_rfc3339()
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect();
    dir.join(format!("{host}-{time}.tar.zst"))
}

pub fn run(args: ExportArgs, cfg: config::Config) -> Exit {
    let mut extra_categories = Vec::new();
    for name in &args.pack_category {
        match Category::from_name(name) {
            Some(c) => extra_categories.push(c),
            None => {
                livescan::errorln!("livescan: --pack-category {name}: no such category");
                return Exit::Usage;
            }
        }
    }
    for p in &args.pack {
        if !p.is_absolute() {
            livescan::errorln!("livescan: --pack {}: must be an absolute path", p.display());
            return Exit::Usage;
        }
    }
    let output = match (&args.output, &cfg.export.dir) {
        (Some(o), _) => o.clone(),
        (None, Some(dir)) => default_output(dir, &args.scan.root),
        (None, None) => {
            livescan::errorln!(
                "livescan: export needs -o FILE (or [export] dir in the configuration file)"
            );
            return Exit::Usage;
        }
    };
    let to_stdout = output == Path::new("-");
    if to_stdout && args.split.is_some() {
        livescan::errorln!("livescan: --split needs a file name, not -");
        return Exit::Usage;
    }
    let split = args.split;
    let names = |n: usize| part_names(&output, split.is_some(), n);
    // Open before scanning: fail fast, and the scan sees our own file (then skips it).
    let out_file = if to_stdout {
        None
    } else {
        let (first_part, first_final) = names(1);
        if first_final.symlink_metadata().is_ok() {
            livescan::errorln!(
                "livescan: {} exists; export never overwrites",
                first_final.display()
            );
            return Exit::Usage;
        }
        match parts::create_exclusive(&first_part) {
            Ok(f) => Some(f),
            Err(e) => {
                livescan::errorln!("livescan: creating {}: {e}", first_part.display());
                return Exit::OutputIncomplete;
            }
        }
    };
    let remove_parts = |why: &str| {
        if out_file.is_some() {
            let mut n = 1;
            while std::fs::remove_file(names(n).0).is_ok() {
                n += 1;
            }
            livescan::errorln!("livescan: {why}; the partial output was removed");
        }
    };
    let mut own_files = Vec::new();
    if let Some(f) = &out_file {
        if let Ok(m) = f.metadata() {
            own_files.push((m.dev(), m.ino()));
        }
    }

    let run = match scan_phase(&args.scan, &cfg) {
        Ok(r) => r,
        Err(exit) => {
            remove_parts("scan failed");
            return exit;
        }
    };
    let ScanRun { result, .. } = &run;
    let c = &result.classification;
    // Written while the export is, straight into its sections: a failure there is a
    // failed export (the partial output is removed below).
    let json_fill = |w: &mut dyn Write| report_json(&run, w);
    let xml_fill = |w: &mut dyn Write| uforge_xml(&run, w);

    let policy = PackPolicy {
        extra_categories,
        forced: Excludes::new(args.pack.iter().map(|p| p.as_os_str().as_bytes().to_vec())),
        max_file_size: args.max_file_size,
        own_files,
    };
    let plan = plan::build(&result.root, c.files.iter(), &policy);
    if let Some(f) = &out_file {
        check_free_space(f, &plan, args.no_overlay);
    }
    let opts = ExportOptions {
        level: args.level.or(cfg.export.level).unwrap_or(3),
        overlay: !args.no_overlay,
        spool_dir: spool_dir(&output, to_stdout),
    };
    let written = match &out_file {
        Some(f) => {
            let first = f.try_clone();
            first.and_then(|first| {
                let writer = SplitWriter::new(
                    first,
                    names(1).0,
                    split.unwrap_or(u64::MAX),
                    Box::new({
                        let output = output.clone();
                        move |n| part_names(&output, true, n).0
                    }),
                );
                let (w, s) = write_export(
                    BufWriter::with_capacity(1 << 20, writer),
                    &json_fill,
                    Some(&xml_fill),
                    &result.root,
                    &result.accounts,
                    &plan,
                    &opts,
                )?;
                let parts = w.into_inner().map_err(|e| e.into_error())?.finish()?;
                Ok((s, parts))
            })
        }
        None => write_export(
            BufWriter::with_capacity(1 << 20, std::io::stdout()),
            &json_fill,
            Some(&xml_fill),
            &result.root,
            &result.accounts,
            &plan,
            &opts,
        )
        .and_then(|(mut w, s)| {
            w.flush()?;
            Ok((s, Vec::new()))
        }),
    };
    let (summary, written_parts) = match written {
        Ok(s) => s,
        Err(e) => {
            livescan::errorln!("livescan: writing the export: {e}");
            remove_parts("the export is incomplete");
            return Exit::OutputIncomplete;
        }
    };
    for (n, part) in written_parts.iter().enumerate() {
        let fin = names(n + 1).1;
        // link(2) refuses an existing name: never replace an export that appeared meanwhile.
        if let Err(e) = std::fs::hard_link(part, &fin) {
            livescan::errorln!(
                "livescan: {} is complete but could not be named {}: {e}",
                part.display(),
                fin.display()
            );
            return Exit::OutputIncomplete;
        }
        let _ = std::fs::remove_file(part);
    }
    if !args.scan.quiet {
        eprintln!(
            "livescan: export {}{}: {} entries ({} of files, {} tar bytes) in {} frames, {} bytes; {} listed but not packed, {} skipped, {} changed while packed",
            if to_stdout { "to standard output".to_string() } else { output.display().to_string() },
            if written_parts.len() > 1 { format!(" in {} parts", written_parts.len()) } else { String::new() },
            summary.entries,
            summary.file_bytes,
            summary.tar_bytes,
            summary.frames,
            summary.bytes_written,
            summary.not_packed,
            summary.skipped.len(),
            summary.events.len(),
        );
        for s in summary.skipped.iter().take(10) {
            eprintln!(
                "  skipped {}: {:?}",
                String::from_utf8_lossy(&s.path),
                s.event
            );
        }
        for (p, ev) in summary.events.iter().take(10) {
            eprintln!("  {}: {ev:?}", String::from_utf8_lossy(p));
        }
    }
    if result.errors.is_empty() && summary.skipped.is_empty() && summary.events.is_empty() {
        Exit::Ok
    } else {
        Exit::Partial
    }
}
