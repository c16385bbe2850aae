//! Commands of the `livescan` binary beyond `scan` (which lives in main.rs): each takes its
//! parsed arguments and returns the exit code. Library code does the work.

pub mod config_check;
pub mod export;
pub mod extract;
pub mod inspect;
pub mod upload;
mod upload_settings;
pub mod verify;
