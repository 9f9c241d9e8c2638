#[cleanup::graceful_main(quiet = true)]
fn main() {}
