// `_` is not a binding: each value is dropped at the end of its statement,
// so the guard's cleanup would run at once and the shield would cover
// nothing. Named bindings, and a finalizer's handle bound to `_`, are fine.
#[cleanup::graceful_main]
fn main() {
    let _ = cleanup::guard(|| println!("cleanup"));
    let _ = cleanup::shield();
    let _guard = cleanup::guard(|| println!("cleanup"));
    let _shield = cleanup::shield();
    let _ = cleanup::on_exit(|| println!("finalizer"));
    std::thread::spawn(|| {
        _ = cleanup::owned_guard(String::new(), drop);
    });
}
