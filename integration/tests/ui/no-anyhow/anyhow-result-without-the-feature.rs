// Without the `anyhow` feature, a stop that reaches `main` through `?`
// would be printed as an `Error:`. The warning names the feature; it is
// denied here so that trybuild shows it.
#![deny(deprecated)]

#[cleanup::graceful_main]
fn main() -> anyhow::Result<()> {
    cleanup::checkpoint()?;
    Ok(())
}
