//! SIGINT/SIGTERM during an upload: set a flag (the only async-signal-safe thing to do);
//! the upload loop sees it between chunks, marks the scan cancelled on the server, and
//! stops. A second signal while that happens kills the process as usual.

use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::signal::{self, SaFlags, SigAction, SigHandler, SigSet, Signal};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    if INTERRUPTED.swap(true, Ordering::SeqCst) {
        // Second signal: give up on a clean cancel.
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(130) };
    }
}

/// Route SIGINT and SIGTERM to the flag.
pub fn install() {
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for sig in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: the handler only touches an atomic and calls _exit.
        if let Err(e) = unsafe { signal::sigaction(sig, &action) } {
            log::warn!("cannot handle {sig}: {e}");
        }
    }
}

pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}
