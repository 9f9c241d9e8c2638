use std::error::Error;

async fn answer() -> Result<u8, std::num::ParseIntError> {
    "42".parse()
}

// `?` must infer its error type from `main`'s return type, as in a plain `main`.
#[cleanup::graceful_main(timeout = "5s", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn Error>> {
    let answer = answer().await?;
    assert_eq!(answer, 42);
    Ok(())
}
