#[cleanup::graceful_main(crate = cleanup)]
fn main() {}
