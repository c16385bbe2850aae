//! rpm databases: the header blob ([`header`]) and the three storage backends.

pub mod bdb;
pub mod header;
pub mod ndb;
pub mod sqlite;
