//! Start-up of `#[graceful_main(guardian)]`: the guardian process started,
//! one durable cleanup registered (of a path that does not exist), and the
//! program ends at once, doing it itself.
#[cleanup::graceful_main(guardian)]
fn main() {
    let _ = cleanup::remove_on_exit("/nonexistent/cleanup-bench");
}
