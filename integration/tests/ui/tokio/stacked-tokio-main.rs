#[cleanup::graceful_main]
#[tokio::main(flavor = "current_thread")]
async fn main() {
    std::future::ready(()).await;
}
