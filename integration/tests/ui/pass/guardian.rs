// `guardian` with other options: the program ends normally, so it runs its
// own cleanups and the guardian has nothing to do.
#[cleanup::graceful_main(guardian, timeout = "2s", quiet)]
fn main() -> Result<(), std::num::ParseIntError> {
    let _guard = cleanup::guard(|| {});
    assert!(!cleanup::is_shutting_down());
    "42".parse::<u8>()?;
    Ok(())
}
