//! systemd's notify socket: Windows has no service manager of this kind, so
//! there is no address to read and nothing to send.

use std::convert::Infallible;
use std::ffi::OsStr;
use std::io;
use std::time::Duration;

/// Whether a service manager may be listening (`NOTIFY_SOCKET`): never here.
pub(crate) const AVAILABLE: bool = false;

/// The address of a manager's socket: none can exist. A private field, not
/// an empty enum, so that code building a `Notifier` around one is not
/// unreachable to the compiler.
#[derive(Debug)]
pub(crate) struct Addr(Infallible);

/// `NOTIFY_SOCKET` as an address: never one here.
pub(crate) fn addr(raw: &OsStr) -> Option<Addr> {
    let _ = raw;
    None
}

/// One datagram to `addr`: never called, for there is no `addr`.
pub(crate) fn send(addr: &Addr, bytes: &[u8], timeout: Duration) -> io::Result<()> {
    let _ = (bytes, timeout);
    match addr.0 {}
}
