#[cleanup::graceful_main(flavor = "current_thread")]
fn main() {}
