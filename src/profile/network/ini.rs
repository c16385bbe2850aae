//! The INI dialect of NetworkManager keyfiles and systemd units: `[Section]`, `Key=Value`,
//! `#`/`;` comments, sections that may repeat (networkd's `[Address]`, `[Route]`), and
//! systemd's trailing-backslash continuation lines. Total and bounded by the input.

#[derive(Debug, Default)]
pub struct Section {
    pub name: String,
    pub entries: Vec<(String, String)>,
}

impl Section {
    /// The last value of `key` (later assignments override).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key`, in order; an empty assignment resets the list (systemd).
    pub fn all(&self, key: &str) -> Vec<&str> {
        let mut out = Vec::new();
        for (k, v) in &self.entries {
            if k == key {
                if v.is_empty() {
                    out.clear();
                } else {
                    out.push(v.as_str());
                }
            }
        }
        out
    }
}

/// Lines with `\` continuations joined (each joined with a space), trimmed, empty ones
/// dropped; a line starting with one of `comment` (outside a continuation) is dropped.
/// Shared by keyfile/unit-style files and Debian's `interfaces`.
pub(super) fn logical_lines(text: &str, comment: &[char]) -> Vec<String> {
    let mut out = Vec::new();
    let mut pending = String::new();
    for raw in text.lines() {
        let line = raw.trim();
        if pending.is_empty() && line.starts_with(comment) {
            continue;
        }
        if let Some(cont) = line.strip_suffix('\\') {
            pending.push_str(cont);
            pending.push(' ');
            continue;
        }
        pending.push_str(line);
        let l = std::mem::take(&mut pending);
        if !l.trim().is_empty() {
            out.push(l);
        }
    }
    out
}

/// Sections in file order; entries before any section header go to a section named "".
pub fn parse(text: &str) -> Vec<Section> {
    let mut sections = vec![Section::default()];
    for line in logical_lines(text, &['#', ';']) {
        let line = line.trim();
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            sections.push(Section {
                name: name.trim().to_string(),
                entries: Vec::new(),
            });
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            if let Some(last) = sections.last_mut() {
                last.entries
                    .push((k.trim().to_string(), unquote(v.trim()).to_string()));
            }
        }
    }
    sections
}

/// systemd allows a value in double quotes; NetworkManager does not quote. Only a value
/// wholly in matching quotes is unquoted.
fn unquote(v: &str) -> &str {
    if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
        &v[1..v.len() - 1]
    } else {
        v
    }
}

/// Boolean as systemd and NetworkManager write it.
pub fn boolean(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "yes" | "true" | "on" | "y" => Some(true),
        "0" | "no" | "false" | "off" | "n" => Some(false),
        _ => None,
    }
}
