// The same for eyre (and color-eyre, which returns `eyre::Report`).
#![deny(deprecated)]

#[cleanup::graceful_main]
fn main() -> Result<(), eyre::Report> {
    cleanup::checkpoint()?;
    Ok(())
}
