//! SIGKILL to cleaned: makes the directory named by its argument, has it
//! removed on exit, prints `ready` and waits to be SIGKILLed; the guardian
//! removes the directory.
#[cleanup::graceful_main(guardian)]
fn main() -> std::io::Result<()> {
    let dir = std::env::args_os().nth(1).expect("a directory to make");
    std::fs::create_dir(&dir)?;
    let _dir = cleanup::remove_on_exit(&dir);
    println!("ready");
    cleanup::token().wait();
    Ok(())
}
