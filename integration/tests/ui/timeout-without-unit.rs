#[cleanup::graceful_main(timeout = "30")]
fn main() {}
