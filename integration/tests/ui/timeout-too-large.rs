#[cleanup::graceful_main(timeout = "99999999999999999h")]
fn main() {}
