#[cleanup::graceful_main(guardian, timeout = "5s", guardian)]
fn main() {}
