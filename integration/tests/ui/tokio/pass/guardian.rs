// `guardian` on `async fn main`, as on a sync one.
#[cleanup::graceful_main(guardian, flavor = "current_thread")]
async fn main() {
    let _guard = cleanup::guard(|| {});
    std::future::ready(()).await;
    assert!(!cleanup::is_shutting_down());
}
