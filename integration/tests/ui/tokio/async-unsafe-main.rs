#[cleanup::graceful_main]
async unsafe fn main() {}
