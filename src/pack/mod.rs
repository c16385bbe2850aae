//! The overlay: every file no package can rebuild, packed into the export — a tar stream
//! (PAX: xattrs, ACLs, SELinux labels, hardlinks, sparse files, any names) in zstd frames,
//! with the scan report before it and a manifest and trailer after it ([`container`]).
//! [`plan`] chooses what goes in, [`source`] reads each file of the live system safely,
//! [`tar_header`] encodes members, [`export`] writes it all in one pass.

pub mod acl;
pub mod container;
pub mod export;
pub mod extract;
pub mod frames;
pub mod inspect;
pub mod parts;
pub mod plan;
pub mod source;
pub mod spool;
pub mod tar_header;
pub mod tar_reader;
pub mod verify;
pub mod writeback;
