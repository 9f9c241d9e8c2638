//! Nothing to import: this package holds the examples, tests and benchmarks
//! of `graceful-cleanup` that need tokio, axum or divan (see its
//! `Cargo.toml`), so that the facade's own examples build without them.
