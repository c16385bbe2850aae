//! Memory size and CPU count: live facts (`/proc/meminfo`, `/sys/devices/system/cpu/online`,
//! `/proc/cpuinfo`), unknown for an image scanned without captured trees.

use serde::Serialize;

use super::LiveSources;

#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct Hardware {
    /// `MemTotal` of `/proc/meminfo`, in bytes (UForge's `memorySize`).
    pub memory_bytes: Option<u64>,
    /// `SwapTotal` of `/proc/meminfo`, in bytes (active swap; storage lists swap devices).
    pub swap_bytes: Option<u64>,
    /// Online CPUs (`/sys/devices/system/cpu/online`, else `processor` lines of cpuinfo).
    pub cpus: Option<u32>,
    /// `model name` of `/proc/cpuinfo` (x86) or its equivalent, when there is one.
    pub cpu_model: Option<String>,
}

pub fn collect(live: &LiveSources) -> Hardware {
    let read = |p: Option<std::path::PathBuf>| {
        use std::io::Read;
        let f = std::fs::File::open(p?).ok()?;
        let mut s = String::new();
        // /proc/cpuinfo of a 512-CPU host is ~1 MiB; nothing here needs more.
        f.take(4 << 20).read_to_string(&mut s).ok()?;
        Some(s)
    };
    let meminfo = read(live.proc("meminfo"));
    let cpuinfo = read(live.proc("cpuinfo"));
    let cpus = read(live.sys("devices/system/cpu/online"))
        .and_then(|s| count_cpu_list(s.trim()))
        .or_else(|| {
            let n = cpuinfo
                .as_deref()?
                .lines()
                .filter(|l| l.split(':').next().map(str::trim) == Some("processor"))
                .count();
            u32::try_from(n).ok().filter(|&n| n > 0)
        });
    Hardware {
        memory_bytes: meminfo
            .as_deref()
            .and_then(|m| meminfo_bytes(m, "MemTotal")),
        swap_bytes: meminfo
            .as_deref()
            .and_then(|m| meminfo_bytes(m, "SwapTotal")),
        cpus,
        cpu_model: cpuinfo.as_deref().and_then(|c| {
            c.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                matches!(k.trim(), "model name" | "cpu model" | "cpu" | "Processor")
                    .then(|| v.trim().to_string())
                    .filter(|v| !v.is_empty())
            })
        }),
    }
}

/// `MemTotal:        8029036 kB` → bytes.
pub fn meminfo_bytes(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        if k.trim() != key {
            return None;
        }
        let mut it = v.split_whitespace();
        let n: u64 = it.next()?.parse().ok()?;
        match it.next() {
            Some("kB") => n.checked_mul(1024),
            None => Some(n),
            Some(_) => None,
        }
    })
}

/// `0-3,6,8-9` → 7. `None` for anything malformed.
pub fn count_cpu_list(list: &str) -> Option<u32> {
    let mut n: u32 = 0;
    for part in list.split(',') {
        let part = part.trim();
        let add = match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
                b.checked_sub(a)?.checked_add(1)?
            }
            None => {
                part.parse::<u32>().ok()?;
                1
            }
        };
        n = n.checked_add(add)?;
    }
    (n > 0).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(count_cpu_list("0"), Some(1));
        assert_eq!(count_cpu_list("0-3,6,8-9"), Some(7));
        assert_eq!(count_cpu_list("3-1"), None);
        assert_eq!(count_cpu_list(""), None);
        assert_eq!(count_cpu_list("0-4294967295"), None);
    }

    #[test]
    fn meminfo() {
        let m =
            "MemTotal:        8029036 kB\nMemFree:  1 kB\nSwapTotal: 0 kB\nHugePages_Total: 0\n";
        assert_eq!(meminfo_bytes(m, "MemTotal"), Some(8029036 * 1024));
        assert_eq!(meminfo_bytes(m, "SwapTotal"), Some(0));
        assert_eq!(meminfo_bytes(m, "HugePages_Total"), Some(0));
        assert_eq!(meminfo_bytes(m, "Nope"), None);
    }

    /// On this machine the counts equal what the kernel says elsewhere.
    #[test]
    fn this_host() {
        let h = collect(&LiveSources {
            proc_dir: Some("/proc".into()),
            sys_dir: Some("/sys".into()),
        });
        let online = std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .ok();
        assert!(h.cpus.is_some() && h.cpus >= online, "{h:?} vs {online:?}");
        let mut info: libc::sysinfo = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::sysinfo(&mut info) }, 0);
        let total = info.totalram as u64 * u64::from(info.mem_unit);
        assert_eq!(h.memory_bytes, Some(total), "MemTotal equals sysinfo(2)");
    }
}
