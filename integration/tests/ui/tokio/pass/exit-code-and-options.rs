#[cleanup::graceful_main(
    flavor = "multi_thread",
    worker_threads = 1,
    timeout = "1s",
    signals = "TERM,INT",
    exit = "code",
    quiet
)]
pub async fn main() -> std::process::ExitCode {
    #![allow(unused_variables)]
    let unused = 1;
    // The body is a `'static` future: it may hold what it creates across awaits.
    let held = String::from("held");
    std::future::ready(()).await;
    assert_eq!(held, "held");
    if cleanup::is_shutting_down() {
        return std::process::ExitCode::FAILURE;
    }
    std::process::ExitCode::SUCCESS
}
