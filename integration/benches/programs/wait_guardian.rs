//! The guardian's memory: a program with a guardian and one durable cleanup
//! (so the guardian has read a record), waiting. The harness reads the
//! guardian's VmRSS.
#[cleanup::graceful_main(guardian)]
fn main() {
    let _ = cleanup::remove_on_exit("/nonexistent/cleanup-bench");
    println!("ready");
    cleanup::token().wait();
}
