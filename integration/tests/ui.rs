//! The misuse cases of `#[graceful_main]`, compiled as a user would write
//! them: each must fail with one error that points at the mistake and says
//! what to do. Regenerate the `.stderr` files with
//! `TRYBUILD=overwrite cargo test -p cleanup-integration --test ui`, and
//! again with `--no-default-features`, then read them.
//!
//! `tests/ui/*.rs` hold in every build, and `pass/` must compile and run in
//! every build; `no-tokio/` only without the `tokio` feature, `tokio/` only
//! with it, where `tokio/pass/` are the `async fn main` forms that must
//! compile and run; `no-anyhow/` only without `anyhow` and `eyre`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/ui/pass/*.rs");
    #[cfg(not(feature = "tokio"))]
    t.compile_fail("tests/ui/no-tokio/*.rs");
    #[cfg(not(any(feature = "anyhow", feature = "eyre")))]
    t.compile_fail("tests/ui/no-anyhow/*.rs");
    #[cfg(feature = "tokio")]
    {
        t.compile_fail("tests/ui/tokio/*.rs");
        t.pass("tests/ui/tokio/pass/*.rs");
    }
}
