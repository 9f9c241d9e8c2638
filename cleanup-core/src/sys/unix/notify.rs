//! systemd's notify socket: a Linux service manager's, so off Linux there
//! is none to reach and the protocol compiles to nothing.

use std::os::unix::net::SocketAddr;

/// Whether a service manager may be listening (`NOTIFY_SOCKET`).
pub(crate) const AVAILABLE: bool = cfg!(target_os = "linux");

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
