#[cleanup::graceful_main(timout = "5s")]
fn main() {}
