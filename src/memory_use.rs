//! The process's resident memory at phase boundaries, logged at debug level
//! (`RUST_LOG=livescan=debug`): what a scan holds when, without a heap profiler. The peak
//! of a large scan is made of the records one phase holds while the next builds its own;
//! this says which phase that is.

/// Logs `VmRSS` and `VmHWM` (the peak so far) after `phase`. Reads `/proc/self/status`
/// only when debug logging is on.
pub fn log_after(phase: &str) {
    if !log::log_enabled!(log::Level::Debug) {
        return;
    }
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return;
    };
    if let Some((rss, peak)) = resident_kib(&status) {
        log::debug!(
            "memory after {phase}: {} MiB resident, peak {} MiB",
            rss / 1024,
            peak / 1024
        );
    }
}

/// (`VmRSS`, `VmHWM`) in KiB from the text of `/proc/PID/status`.
fn resident_kib(status: &str) -> Option<(u64, u64)> {
    let kib = |field: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
    };
    Some((kib("VmRSS:")?, kib("VmHWM:")?))
}

#[cfg(test)]
mod tests {
    use super::resident_kib;

    #[test]
    fn parses_the_status_fields() {
        let s = "Name:\tlivescan\nVmHWM:\t  287104 kB\nVmRSS:\t  131072 kB\nThreads:\t3\n";
        assert_eq!(resident_kib(s), Some((131_072, 287_104)));
        assert_eq!(resident_kib("VmRSS:\t12 kB\n"), None);
        // This kernel's own file has both, the peak at least the current size.
        let own = std::fs::read_to_string("/proc/self/status").expect("procfs");
        let (rss, peak) = resident_kib(&own).expect("VmRSS and VmHWM");
        assert!(rss > 0 && peak >= rss);
    }
}
