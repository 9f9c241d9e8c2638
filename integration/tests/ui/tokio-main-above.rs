// tokio's attribute runs first and hands `#[graceful_main]` a `main` that
// blocks on a runtime of its own.
#[tokio::main(flavor = "current_thread")]
#[cleanup::graceful_main]
async fn main() {
    std::future::ready(()).await;
}
