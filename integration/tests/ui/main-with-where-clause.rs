#[cleanup::graceful_main]
fn main()
where
    String: Clone,
{
}
