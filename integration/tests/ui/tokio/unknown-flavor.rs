#[cleanup::graceful_main(flavor = "single_thread")]
async fn main() {}
