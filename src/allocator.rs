//! The static (musl) build's allocator: mimalloc, returning freed memory at once.
//!
//! musl's own malloc unmaps every large block on free (each export buffer faulted in anew)
//! and is slow under threads: on a 1 M-file tree mimalloc halved the scan's user CPU
//! (11.1 → 5.7 s) and brought the export's CPU to that of `tar | zstd -T0`. glibc builds
//! keep glibc's malloc.
//!
//! mimalloc keeps freed pages for `purge_delay` (1 s in mimalloc 3) before giving them back.
//! A scan frees the walk's records while it builds the report's, so with the delay both are
//! resident at once: peak RSS 571 MiB on the 1 M-file tree, 455 MiB with the delay at 0.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc 2 and 3's `mi_option_e` (libmimalloc-sys does not
/// name it). Checked against the option's documented default before it is set, so a
/// renumbering in a later mimalloc leaves the allocator alone instead of changing another
/// option.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
const PURGE_DELAY_DEFAULTS_MS: [std::os::raw::c_long; 2] = [10, 1000];

/// Purge freed memory immediately. Called first thing in `main`; the environment
/// (`MIMALLOC_PURGE_DELAY`) still wins when set, for measurements.
pub fn return_freed_memory_at_once() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: both functions only read/write mimalloc's option table, are thread-safe, and
    // take a plain integer; no pointer crosses the boundary.
    unsafe {
        let current = libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY);
        if PURGE_DELAY_DEFAULTS_MS.contains(&current) {
            libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0);
        }
    }
}
