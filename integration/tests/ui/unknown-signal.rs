#[cleanup::graceful_main(signals = "TERM,WINCH")]
fn main() {}
