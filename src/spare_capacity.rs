//! Give the pages of a vector's unused capacity back to the kernel without moving it.
//!
//! The classifier consumes the walk's records from the end while it builds the report's.
//! `shrink_to_fit` was meant to return the drained tail, but mimalloc (the static build's
//! allocator) keeps a block that shrinks by less than half and copies it into a new one
//! when it shrinks by more: the tail stayed resident, and each halving briefly held both
//! copies (the 1 M-file scan's peak, 473 MiB). `madvise(MADV_DONTNEED)` frees the tail's
//! pages where they are; the capacity stays reserved, and is never read again.

/// Below this, a release is not worth the system call.
const MIN_RELEASE: usize = 1 << 20;

/// Frees the whole pages that lie in `v`'s spare capacity. `v` keeps its length, its
/// capacity and its contents; the spare capacity reads as zeros if it is ever written
/// and read again (it is uninitialised memory to Rust either way).
pub fn release<T>(v: &mut Vec<T>) {
    if std::mem::size_of::<T>() == 0 {
        return;
    }
    let base = v.as_mut_ptr() as usize;
    let size = std::mem::size_of::<T>();
    // SAFETY: the range is the vector's own allocation past its last element: no live
    // value is there, and nothing else uses that memory (the allocator hands the block
    // out whole).
    unsafe { drop_pages(base + v.len() * size, base + v.capacity() * size) }
}

/// `MADV_DONTNEED` on the whole pages inside `[start, end)`, when they are worth a system
/// call. The pages read as zeros if touched again.
///
/// # Safety
/// Nothing may read the bytes of `[start, end)` as values afterwards, and the range must
/// lie inside one allocation of the caller's.
unsafe fn drop_pages(start: usize, end: usize) {
    // SAFETY: sysconf has no preconditions.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
    let begin = start.next_multiple_of(page);
    let end = end / page * page;
    if end <= begin || end - begin < MIN_RELEASE {
        return;
    }
    // SAFETY: whole pages inside the caller's allocation, holding nothing that is read
    // again (the caller's promise). MADV_DONTNEED only drops them.
    unsafe {
        libc::madvise(begin as *mut libc::c_void, end - begin, libc::MADV_DONTNEED);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rss_kib() -> u64 {
        let s = std::fs::read_to_string("/proc/self/status").unwrap();
        s.lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    #[test]
    fn drained_tail_leaves_memory_and_the_rest_stays() {
        let len = (64 << 20) / 8; // 64 MiB of u64s
        let mut v: Vec<u64> = (0..len as u64).collect();
        let before = rss_kib();
        v.truncate(len / 4);
        release(&mut v);
        let after = rss_kib();
        // Three quarters of 64 MiB went back (other test threads allocate too: half, at least).
        assert!(
            before.saturating_sub(after) >= 24 << 10,
            "RSS {before} -> {after} KiB"
        );
        assert_eq!(v.len(), len / 4);
        assert!(v.iter().enumerate().all(|(i, &x)| x == i as u64));
        // The capacity is still usable.
        v.extend(0..1000);
        assert_eq!(v[len / 4 + 999], 999);
    }

    #[test]
    fn small_or_full_vectors_are_left_alone() {
        let mut v: Vec<u8> = Vec::with_capacity(100);
        v.push(1);
        release(&mut v);
        assert_eq!(v, [1]);
        let mut z: Vec<()> = vec![(); 10];
        release(&mut z);
        assert_eq!(z.len(), 10);
    }
}
