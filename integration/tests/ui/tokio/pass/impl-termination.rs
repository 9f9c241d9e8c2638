use std::process::{ExitCode, Termination};

#[cleanup::graceful_main(flavor = "current_thread")]
async fn main() -> impl Termination {
    std::future::ready(ExitCode::SUCCESS).await
}
