//! systemd's notify socket: the address `NOTIFY_SOCKET` names, and one
//! datagram to it. A Linux service manager's, so off Linux there is none to
//! reach and the protocol compiles to nothing.

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::Path;
use std::time::Duration;

/// Whether a service manager may be listening (`NOTIFY_SOCKET`).
pub(crate) const AVAILABLE: bool = cfg!(target_os = "linux");

/// The address of a manager's socket.
pub(crate) type Addr = SocketAddr;

/// `NOTIFY_SOCKET` as an address: `/path` or `@abstract`; `None` for anything else (`vsock:`…).
pub(crate) fn addr(raw: &OsStr) -> Option<Addr> {
    match raw.as_bytes().first()? {
        b'/' => SocketAddr::from_pathname(Path::new(raw)).ok(),
        b'@' => abstract_addr(&raw.as_bytes()[1..]),
        _ => None,
    }
}

/// One datagram to `addr` from a fresh unbound socket, waiting at most `timeout` for room.
pub(crate) fn send(addr: &Addr, bytes: &[u8], timeout: Duration) -> io::Result<()> {
    let socket = UnixDatagram::unbound()?;
    socket.set_write_timeout(Some(timeout))?;
    socket.send_to_addr(bytes, addr)?;
    Ok(())
}

/// The address of an abstract socket (`NOTIFY_SOCKET=@name`), where the
/// system has them (Linux).
pub(crate) fn abstract_addr(name: &[u8]) -> Option<SocketAddr> {
    #[cfg(target_os = "linux")]
    {
        use std::os::linux::net::SocketAddrExt as _;
        SocketAddr::from_abstract_name(name).ok()
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = name;
        None
    }
}

/// The name of an abstract socket's address, where the system has them.
#[cfg(test)]
pub(crate) fn abstract_name(addr: &SocketAddr) -> Option<Vec<u8>> {
    #[cfg(target_os = "linux")]
    {
        use std::os::linux::net::SocketAddrExt as _;
        addr.as_abstract_name().map(<[u8]>::to_vec)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = addr;
        None
    }
}
