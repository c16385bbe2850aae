//! `old_kernel PROGRAM [ARGS…]`: run PROGRAM as if on a Linux 3.10 kernel (CentOS 7), by
//! answering ENOSYS to every system call added after 3.10. Used by tests/static_binary.rs
//! to show the static musl build never depends on one. Test-only; no libseccomp: the
//! classic BPF program is built here, installed with prctl(PR_SET_NO_NEW_PRIVS) and
//! seccomp(SECCOMP_SET_MODE_FILTER), then PROGRAM is exec'd and inherits the filter.
//! `old_kernel --list` prints the table below.
//!
//! x86_64 numbers 0–313 all existed in 3.10 (313 = finit_module, 3.8); everything from 314
//! on is newer. The filter answers ENOSYS to `nr >= 314` — so also to calls newer than this
//! table — and to the x32 ABI (bit 30), which CentOS 7 kernels do not enable. It cannot
//! catch new *flags* of old calls (e.g. O_TMPFILE, 3.11): those fail with EINVAL on 3.10.

use std::os::unix::process::CommandExt;

/// x86_64 system calls newer than Linux 3.10: (number, name, first kernel version), from
/// arch/x86/entry/syscalls/syscall_64.tbl and each call's merge release.
const NEWER_THAN_3_10: &[(u32, &str, &str)] = &[
    (314, "sched_setattr", "3.14"),
    (315, "sched_getattr", "3.14"),
    (316, "renameat2", "3.15"),
    (317, "seccomp", "3.17"),
    (318, "getrandom", "3.17"),
    (319, "memfd_create", "3.17"),
    (320, "kexec_file_load", "3.17"),
    (321, "bpf", "3.18"),
    (322, "execveat", "3.19"),
    (323, "userfaultfd", "4.3"),
    (324, "membarrier", "4.3"),
    (325, "mlock2", "4.4"),
    (326, "copy_file_range", "4.5"),
    (327, "preadv2", "4.6"),
    (328, "pwritev2", "4.6"),
    (329, "pkey_mprotect", "4.9"),
    (330, "pkey_alloc", "4.9"),
    (331, "pkey_free", "4.9"),
    (332, "statx", "4.11"),
    (333, "io_pgetevents", "4.18"),
    (334, "rseq", "4.18"),
    // 335–423 are unused on x86_64 (kept free to align the numbers across architectures).
    (424, "pidfd_send_signal", "5.1"),
    (425, "io_uring_setup", "5.1"),
    (426, "io_uring_enter", "5.1"),
    (427, "io_uring_register", "5.1"),
    (428, "open_tree", "5.2"),
    (429, "move_mount", "5.2"),
    (430, "fsopen", "5.2"),
    (431, "fsconfig", "5.2"),
    (432, "fsmount", "5.2"),
    (433, "fspick", "5.2"),
    (434, "pidfd_open", "5.3"),
    (435, "clone3", "5.3"),
    (436, "close_range", "5.9"),
    (437, "openat2", "5.6"),
    (438, "pidfd_getfd", "5.6"),
    (439, "faccessat2", "5.8"),
    (440, "process_madvise", "5.10"),
    (441, "epoll_pwait2", "5.11"),
    (442, "mount_setattr", "5.12"),
    (443, "quotactl_fd", "5.14"),
    (444, "landlock_create_ruleset", "5.13"),
    (445, "landlock_add_rule", "5.13"),
    (446, "landlock_restrict_self", "5.13"),
    (447, "memfd_secret", "5.14"),
    (448, "process_mrelease", "5.15"),
    (449, "futex_waitv", "5.16"),
    (450, "set_mempolicy_home_node", "5.17"),
    (451, "cachestat", "6.5"),
    (452, "fchmodat2", "6.6"),
    (453, "map_shadow_stack", "6.6"),
    (454, "futex_wake", "6.7"),
    (455, "futex_wait", "6.7"),
    (456, "futex_requeue", "6.7"),
    (457, "statmount", "6.8"),
    (458, "listmount", "6.8"),
    (459, "lsm_get_self_attr", "6.8"),
    (460, "lsm_set_self_attr", "6.8"),
    (461, "lsm_list_modules", "6.8"),
    (462, "mseal", "6.10"),
    (463, "setxattrat", "6.13"),
    (464, "getxattrat", "6.13"),
    (465, "listxattrat", "6.13"),
    (466, "removexattrat", "6.13"),
    (467, "open_tree_attr", "6.15"),
    (468, "file_getattr", "6.17"),
    (469, "file_setattr", "6.17"),
];

/// The first x86_64 number after 3.10.
const FIRST_NEW: u32 = 314;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;
const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;

// Classic BPF opcodes (linux/bpf_common.h: BPF_LD = 0, BPF_W = 0, BPF_ABS = 0x20,
// BPF_JMP = 5, BPF_JEQ = 0x10, BPF_JGE = 0x30, BPF_K = 0, BPF_RET = 6) and seccomp returns.
const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JMP_JEQ_K: u16 = 0x15;
const BPF_JMP_JGE_K: u16 = 0x35;
const BPF_RET_K: u16 = 0x06;
const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
// struct seccomp_data: int nr; __u32 arch; …
const OFFSET_NR: u32 = 0;
const OFFSET_ARCH: u32 = 4;

fn stmt(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

fn filter() -> Vec<libc::sock_filter> {
    let enosys = SECCOMP_RET_ERRNO | libc::ENOSYS as u32;
    vec![
        // Another architecture's calls (i386 through int 0x80) have other numbers: kill.
        stmt(BPF_LD_W_ABS, OFFSET_ARCH),
        jump(BPF_JMP_JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
        stmt(BPF_RET_K, SECCOMP_RET_KILL_PROCESS),
        stmt(BPF_LD_W_ABS, OFFSET_NR),
        // x32 numbers have bit 30 set, so they are >= FIRST_NEW too: one test covers both.
        jump(BPF_JMP_JGE_K, FIRST_NEW, 0, 1),
        stmt(BPF_RET_K, enosys),
        stmt(BPF_RET_K, SECCOMP_RET_ALLOW),
    ]
}

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    // The table and the rule must agree: every listed call is caught by `nr >= FIRST_NEW`.
    assert!(NEWER_THAN_3_10
        .iter()
        .all(|&(nr, _, _)| (FIRST_NEW..X32_SYSCALL_BIT).contains(&nr)));
    if args.first().is_some_and(|a| a == "--list") {
        for (nr, name, version) in NEWER_THAN_3_10 {
            println!("{nr}\t{name}\t{version}");
        }
        return;
    }
    let Some((program, rest)) = args.split_first() else {
        eprintln!("usage: old_kernel PROGRAM [ARGS...] | old_kernel --list");
        std::process::exit(2);
    };
    let mut prog = filter();
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_mut_ptr(),
    };
    // SAFETY: plain syscalls with valid arguments; fprog outlives them.
    unsafe {
        // Variadic: pass full-width unsigned longs, as the kernel reads them.
        let one: libc::c_ulong = 1;
        let zero: libc::c_ulong = 0;
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, one, zero, zero, zero) != 0 {
            eprintln!(
                "old_kernel: PR_SET_NO_NEW_PRIVS: {}",
                std::io::Error::last_os_error()
            );
            std::process::exit(1);
        }
        if libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER as libc::c_ulong,
            zero,
            &fprog as *const libc::sock_fprog,
        ) != 0
        {
            eprintln!("old_kernel: seccomp: {}", std::io::Error::last_os_error());
            std::process::exit(1);
        }
    }
    let err = std::process::Command::new(program).args(rest).exec();
    eprintln!("old_kernel: exec {}: {err}", program.to_string_lossy());
    std::process::exit(127);
}
