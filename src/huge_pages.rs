//! Transparent huge pages off for this process.
//!
//! mimalloc (the static build's allocator) asks for huge pages on the regions it maps
//! (`MADV_HUGEPAGE`), and on a host whose THP setting is `always` (the RHEL/CentOS 7
//! default) every allocator does without asking. A 2 MiB page is resident whole as soon
//! as one byte of it is touched, and zeroed whole each time a purged region is touched
//! again. Measured on the 2-core test host (musl build, warm `--no-cache` scan of the
//! host, 400 k entries): peak RSS 219–226 → 159–162 MiB, same CPU time within noise (4 K
//! pages fault more often, 67 k → 187 k minor faults, but no fault zeroes 2 MiB); on the
//! 1 M-file tree 323 → 298 MiB. A scan agent sharing the host with its workload should
//! not hold pages it does not use.

/// Sets `PR_SET_THP_DISABLE` (Linux ≥ 3.15; inherited by the helpers the scan runs, which
/// are short-lived). A kernel without it keeps its default: nothing is lost but memory.
/// `MIMALLOC_ALLOW_THP` in the environment leaves the choice to mimalloc, for measurements.
pub fn disable() {
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_some() {
        return;
    }
    // SAFETY: PR_SET_THP_DISABLE takes plain integers and only sets a flag on this
    // process's memory descriptor.
    let r = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
    if r != 0 {
        log::debug!(
            "transparent huge pages stay as the kernel sets them: {}",
            std::io::Error::last_os_error()
        );
    }
}

#[cfg(test)]
mod tests {
    /// `THP_enabled` of `/proc/self/status` (Linux ≥ 5.0), `None` on older kernels.
    fn thp_enabled() -> Option<String> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("THP_enabled:"))
            .map(|v| v.trim().to_string())
    }

    #[test]
    fn the_kernel_sees_huge_pages_disabled() {
        if std::env::var_os("MIMALLOC_ALLOW_THP").is_some() {
            eprintln!("skipped: MIMALLOC_ALLOW_THP is set, so disable() leaves THP alone");
            return;
        }
        super::disable();
        match thp_enabled() {
            Some(v) => assert_eq!(v, "0", "THP_enabled after disable()"),
            None => eprintln!("skipped: this kernel's /proc/self/status has no THP_enabled"),
        }
    }
}
