// The path is used as given: one that does not resolve is reported at the string.
#[cleanup::graceful_main(crate = "my_cleanup")]
fn main() {}
