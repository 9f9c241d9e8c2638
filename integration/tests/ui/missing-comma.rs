#[cleanup::graceful_main(timeout = "5s" quiet)]
fn main() {}
