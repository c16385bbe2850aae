//! livescan: scan a live Linux system and find what its packages cannot rebuild.
//!
//! The modules follow the data flow of a scan:
//! [`walk`] (what is on disk) → [`pkgdb`] (what the package manager recorded) →
//! [`classify`] (added / modified / deleted, and why) → [`report`] (JSON report and
//! the human summary, with the host's install [`profile`]). [`scan`] wires them together; [`rootfs`] resolves paths inside
//! the scanned root, [`config`] and [`exit_code`] are shared by every command.

pub mod accounts;
pub mod classify;
pub mod cli;
pub mod config;
pub mod exit_code;
#[doc(hidden)]
pub mod fuzz_targets;
pub mod huge_pages;
pub mod journal;
pub mod lock;
pub mod memory_use;
pub mod open_cloexec;
pub mod pack;
pub mod path_bytes;
pub mod path_order;
pub mod pkgdb;
pub mod profile;
pub mod receiver;
pub mod report;
pub mod rootfs;
pub mod scan;
#[doc(hidden)]
pub mod shared_fixtures;
pub mod ship;
pub mod spare_capacity;
pub mod uforge;
pub mod walk;
