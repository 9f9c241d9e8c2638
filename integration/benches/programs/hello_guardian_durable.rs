//! `hello_guardian` that makes one durable cleanup at once (of a path that
//! does not exist, so its end does nothing). Its first registration is
//! where a launch sharing the program's memory stalled for a scheduler
//! tick (BENCHMARKS.md, "The guardian's start-up budget"): an empty `main`
//! alone does not show it.
#[cleanup::graceful_main(guardian)]
fn main() {
    let _ = cleanup::remove_on_exit("/nonexistent/cleanup-bench-durable");
}
