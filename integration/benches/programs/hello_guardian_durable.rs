//! `hello_guardian` that makes one durable cleanup at once (of a path that
//! does not exist, so its end does nothing). Its first registration is
//! where the launch in the program's memory once stalled for 10 to 22 ms
//! (BENCHMARKS.md, "The guardian's start-up budget" and the sixth step):
//! an empty `main` alone does not show such a stall.
#[cleanup::graceful_main(guardian)]
fn main() {
    let _ = cleanup::remove_on_exit("/nonexistent/cleanup-bench-durable");
}
