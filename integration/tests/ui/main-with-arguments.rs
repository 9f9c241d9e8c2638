#[cleanup::graceful_main]
fn main(args: Vec<String>) {
    println!("{args:?}");
}
