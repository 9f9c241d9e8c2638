#[cleanup::graceful_main(crate = "cleanup", timeout = "5s", crate = "cleanup")]
fn main() {}
