mod runtime {
    pub use cleanup::*;
}

#[cleanup::graceful_main(crate = "self::runtime", flavor = "current_thread")]
async fn main() {
    std::future::ready(()).await;
    assert!(!runtime::token().is_cancelled());
}
