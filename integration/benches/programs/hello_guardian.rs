//! Start-up of `#[graceful_main(guardian)]`, as `hello_graceful` measures
//! `#[graceful_main]`: an empty `main` whose process starts a guardian. (A
//! durable cleanup's registration is a cost of its own, as a guard's is.)
#[cleanup::graceful_main(guardian)]
fn main() {}
