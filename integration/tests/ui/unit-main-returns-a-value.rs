#[cleanup::graceful_main]
fn main() {
    0
}
