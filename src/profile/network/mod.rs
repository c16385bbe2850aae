//! NICs, addresses, routes, DNS, and the configuration files that define them.

use serde::Serialize;

use super::LiveSources;
use crate::rootfs::RootFs;

#[derive(Debug, Clone, Serialize, Default)]
pub struct Network {}

pub fn collect(_root: &RootFs, _live: &LiveSources) -> Network {
    Network::default()
}
