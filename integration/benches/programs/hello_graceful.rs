//! Start-up of `#[graceful_main]`: the same empty `main`, under the runtime.
#[cleanup::graceful_main]
fn main() {}
