#[derive(Debug)]
struct AppError;

#[cleanup::graceful_main]
async fn main() -> Result<(), AppError> {
    std::fs::read_to_string("app.toml")?;
    Ok(())
}
