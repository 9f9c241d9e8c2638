#[cleanup::graceful_main]
async fn main() {
    std::future::ready(()).await;
}
