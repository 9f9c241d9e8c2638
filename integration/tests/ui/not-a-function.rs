#[cleanup::graceful_main]
struct Server;

fn main() {
    let _ = Server;
}
