// The package name where the code's name for it belongs.
#[cleanup::graceful_main(crate = "graceful-cleanup")]
fn main() {}
