#[cleanup::graceful_main(exit = "143")]
fn main() {}
