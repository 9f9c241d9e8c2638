#[cleanup::graceful_main]
fn start() {}

fn main() {
    start();
}
