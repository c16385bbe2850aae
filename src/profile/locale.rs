//! Timezone, keyboard and locale, from whichever files the root's distribution keeps them in.

use std::collections::BTreeMap;

use serde::Serialize;

use super::read;
use crate::rootfs::RootFs;

#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct Timezone {
    /// The zone name (`Europe/Paris`, `UTC`).
    pub name: Option<String>,
    /// Where it came from: `/etc/localtime` (symlink into zoneinfo), `/etc/timezone`,
    /// `/etc/sysconfig/clock`.
    pub source: Option<String>,
}

#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct Keyboard {
    /// Console keymap (`us`, `de-latin1`, `fr`): what UForge's `keyboard` is.
    pub keymap: Option<String>,
    /// X11 layout, model, variant, options (`/etc/default/keyboard`, xorg.conf.d).
    pub xkb_layout: Option<String>,
    pub xkb_model: Option<String>,
    pub xkb_variant: Option<String>,
    pub xkb_options: Option<String>,
    /// Files the facts came from.
    pub sources: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct Locale {
    /// `LANG` (`en_US.UTF-8`).
    pub lang: Option<String>,
    /// The other `LC_*` and `LANGUAGE` settings of the same file.
    pub settings: BTreeMap<String, String>,
    pub source: Option<String>,
}

pub fn timezone(root: &RootFs) -> Timezone {
    // systemd and most modern hosts: a symlink into a zoneinfo directory.
    if let Some(target) = read::link_target(root, "/etc/localtime") {
        if let Some((_, zone)) = target.rsplit_once("zoneinfo/") {
            // `posix/Europe/Paris` and `right/…` are the same zone.
            let zone = zone
                .strip_prefix("posix/")
                .or_else(|| zone.strip_prefix("right/"))
                .unwrap_or(zone);
            if !zone.is_empty() {
                return Timezone {
                    name: Some(zone.to_string()),
                    source: Some("/etc/localtime".into()),
                };
            }
        }
    }
    // A copied zone file (RHEL 6, Alpine): the name is kept elsewhere.
    if let Some(zone) = read::first_line(root, "/etc/timezone") {
        return Timezone {
            name: Some(zone),
            source: Some("/etc/timezone".into()),
        };
    }
    if let Some(clock) = read::read_assignments(root, "/etc/sysconfig/clock") {
        // RHEL writes ZONE=, SUSE TIMEZONE=.
        if let Some(z) = clock
            .get("ZONE")
            .or_else(|| clock.get("TIMEZONE"))
            .filter(|z| !z.is_empty())
        {
            return Timezone {
                name: Some(z.clone()),
                source: Some("/etc/sysconfig/clock".into()),
            };
        }
    }
    Timezone::default()
}

pub fn keyboard(root: &RootFs) -> Keyboard {
    let mut k = Keyboard::default();
    let note = |k: &mut Keyboard, path: &str| {
        if !k.sources.iter().any(|s| s == path) {
            k.sources.push(path.to_string());
        }
    };
    let non_empty =
        |m: &BTreeMap<String, String>, key: &str| m.get(key).filter(|v| !v.is_empty()).cloned();
    // systemd (RHEL/CentOS 7+, SLES 12+, Arch, Debian with systemd).
    if let Some(vc) = read::read_assignments(root, "/etc/vconsole.conf") {
        if let Some(km) = non_empty(&vc, "KEYMAP") {
            k.keymap = Some(km);
            note(&mut k, "/etc/vconsole.conf");
        }
    }
    // RHEL/CentOS ≤ 6 (KEYTABLE, LAYOUT) and SLES ≤ 11 (KEYTABLE="us.map.gz").
    if let Some(kb) = read::read_assignments(root, "/etc/sysconfig/keyboard") {
        if k.keymap.is_none() {
            if let Some(t) = non_empty(&kb, "KEYTABLE").or_else(|| non_empty(&kb, "KEYMAP")) {
                let t = t.trim_end_matches(".gz").trim_end_matches(".map");
                k.keymap = Some(t.to_string());
                note(&mut k, "/etc/sysconfig/keyboard");
            }
        }
        if let Some(l) = non_empty(&kb, "LAYOUT") {
            k.xkb_layout = Some(l);
            k.xkb_model = non_empty(&kb, "MODEL");
            k.xkb_variant = non_empty(&kb, "VARIANT");
            note(&mut k, "/etc/sysconfig/keyboard");
        }
    }
    // Debian and Ubuntu (console-setup reads XKB settings for the console too).
    if let Some(d) = read::read_assignments(root, "/etc/default/keyboard") {
        if let Some(l) = non_empty(&d, "XKBLAYOUT") {
            k.xkb_layout = Some(l);
            k.xkb_model = non_empty(&d, "XKBMODEL");
            k.xkb_variant = non_empty(&d, "XKBVARIANT");
            k.xkb_options = non_empty(&d, "XKBOPTIONS");
            note(&mut k, "/etc/default/keyboard");
        }
    }
    // Alpine (setup-keymap): /etc/conf.d/loadkmap KEYMAP=/etc/keymap/us.bmap.gz.
    if k.keymap.is_none() {
        if let Some(l) = read::read_assignments(root, "/etc/conf.d/loadkmap") {
            if let Some(path) = non_empty(&l, "KEYMAP") {
                let name = path.rsplit('/').next().unwrap_or(&path);
                k.keymap = Some(
                    name.trim_end_matches(".gz")
                        .trim_end_matches(".bmap")
                        .into(),
                );
                note(&mut k, "/etc/conf.d/loadkmap");
            }
        }
    }
    // localectl's X11 file (RHEL 7+, Arch): Option "XkbLayout" "us".
    let xorg = "/etc/X11/xorg.conf.d/00-keyboard.conf";
    if k.xkb_layout.is_none() {
        if let Some(text) = read::read_config(root, xorg) {
            for line in text.lines() {
                let words: Vec<&str> = line.split('"').collect();
                // `Option "XkbLayout" "us"` splits into ["Option ", "XkbLayout", " ", "us", ""].
                if words.len() >= 4 && words[0].trim() == "Option" {
                    let v = Some(words[3].to_string()).filter(|v| !v.is_empty());
                    match words[1] {
                        "XkbLayout" => k.xkb_layout = v,
                        "XkbModel" => k.xkb_model = v,
                        "XkbVariant" => k.xkb_variant = v,
                        "XkbOptions" => k.xkb_options = v,
                        _ => continue,
                    }
                    note(&mut k, xorg);
                }
            }
        }
    }
    // A console that only has an XKB layout (Debian) uses that layout's keymap.
    if k.keymap.is_none() {
        k.keymap = k
            .xkb_layout
            .as_ref()
            .map(|l| l.split(',').next().unwrap_or(l).to_string());
    }
    k
}

pub fn locale(root: &RootFs) -> Locale {
    for (path, lang_key) in [
        ("/etc/locale.conf", "LANG"),           // systemd
        ("/etc/default/locale", "LANG"),        // Debian, Ubuntu
        ("/etc/sysconfig/i18n", "LANG"),        // RHEL/CentOS ≤ 6
        ("/etc/sysconfig/language", "RC_LANG"), // SLES ≤ 11
    ] {
        let Some(vars) = read::read_assignments(root, path) else {
            continue;
        };
        let lang = vars.get(lang_key).filter(|v| !v.is_empty()).cloned();
        let settings: BTreeMap<String, String> = vars
            .iter()
            .filter(|(k, v)| (k.starts_with("LC_") || *k == "LANGUAGE") && !v.is_empty())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if lang.is_some() || !settings.is_empty() {
            return Locale {
                lang,
                settings,
                source: Some(path.into()),
            };
        }
    }
    Locale::default()
}
