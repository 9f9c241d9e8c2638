#[cleanup::graceful_main(timeout "5s")]
fn main() {}
