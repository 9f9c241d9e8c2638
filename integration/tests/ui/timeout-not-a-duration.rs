#[cleanup::graceful_main(timeout = "ten seconds")]
fn main() {}
