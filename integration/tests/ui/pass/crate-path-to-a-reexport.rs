// `crate = "…"` naming a module that re-exports the facade, as a crate that
// wraps it for its users would. (A dependency renamed in Cargo.toml is built
// by tests/renamed_dependency.rs: trybuild has one manifest for every case.)
mod runtime {
    pub use cleanup::*;
}

#[cleanup::graceful_main(crate = "crate::runtime", timeout = "2s", signals = "TERM", exit = "code")]
fn main() -> Result<(), std::num::ParseIntError> {
    let _guard = runtime::guard(|| {});
    assert!(!runtime::is_shutting_down());
    "42".parse::<u8>()?;
    Ok(())
}
