//! Baseline for start-up: a plain `main` that does nothing.
fn main() {}
