//! The misuse cases of `#[graceful_main]`, compiled as a user would write
//! them: each must fail with one error that points at the mistake and says
//! what to do. Regenerate the `.stderr` files with
//! `TRYBUILD=overwrite cargo test --test ui`, then read them.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
