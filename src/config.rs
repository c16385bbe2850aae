//! The configuration file (`/etc/livescan/livescan.toml`); flags override it, lists add up.
