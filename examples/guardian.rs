//! Nothing left behind after `kill -9`: a pid file, a temporary directory
//! and a child server, cleaned up by the guardian when the program cannot.
//!
//! ```text
//! cargo run --example guardian -- [--dir DIR]     # DIR: the system's temporary directory by default
//! ```
//!
//! It prints what it made (its pid, the pid file, the temporary directory,
//! the server's process group) and waits. From another terminal:
//!
//! ```text
//! ls DIR/guardian.*                     # the pid file and the temporary directory
//! ps -o pid,pgid,comm --ppid <pid>      # the server (sh) and the guardian (cleanup-guard)
//! kill -9 <pid>
//! ls DIR/guardian.*                     # nothing
//! ps -o pid,comm -g <server>            # nothing: the shell and its sleep are gone
//! pgrep -l cleanup-guard                # nothing: the guardian did its work and left
//! ```
//!
//! No cleanup code runs in a SIGKILLed process. `#[graceful_main(guardian)]`
//! started a second, small process before `main`'s body (`cleanup-guard` in
//! `ps`, in a session of its own), and each durable cleanup told it what to
//! do: [`cleanup::remove_on_exit`] for the pid file and the directory, and
//! [`cleanup::spawn`] for the server. When the program dies without doing
//! them, the guardian kills the server's whole process group (the shell and
//! the `sleep` it is waiting on, which the shell's parent-death signal would
//! not reach), removes the directory and the pid file, and says so on the
//! program's stderr (`cleanup-guardian[…]: guardian[…] was killed by SIGKILL
//! without doing 3 durable cleanups; doing them now`, then one line each).
//!
//! Ctrl-C or `kill <pid>` end it the ordinary way: the program forwards the
//! signal to the server, waits for it, and removes the directory and the
//! pid file itself; the guardian sees that nothing is left to do and exits
//! without a word.
//!
//! The server stands for any child that must not outlive the program: a
//! shell loop, in its own process group, that writes a heartbeat into the
//! temporary directory every second.
//!
//! Unlike the pid file of the `pidfile_tempdir` example, this one is removed
//! whatever it holds by then: a durable cleanup is data (a path), not a
//! closure, so it cannot check. The file is created exclusively, so while
//! this process lives nobody else can have taken the name.

use std::fs::{self, OpenOptions};
use std::io::{self, Write as _};
#[cfg(unix)]
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The server: a heartbeat into the directory given as `$0`, every second.
const SERVER: &str = r#"while :; do date +%T > "$0/heartbeat"; sleep 1; done"#;

#[cleanup::graceful_main(guardian)]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut dir = std::env::temp_dir();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--dir" => dir = args.next().ok_or("--dir needs a directory")?.into(),
            other => return Err(format!("unknown argument `{other}`").into()),
        }
    }
    let pid = std::process::id();

    // The pid file: created exclusively, so a second instance fails here
    // instead of taking it over.
    let pid_path = dir.join("guardian.pid");
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&pid_path)
        .map_err(|err| format!("{}: {err}", pid_path.display()))?;
    // Registered at once: from here on, even a SIGKILL does not leave it.
    let _pid_file = cleanup::remove_on_exit(&pid_path);
    writeln!(file, "{pid}")?;

    let work_dir = create_work_dir(&dir)?;
    let _work_dir = cleanup::remove_on_exit(&work_dir);
    fs::write(work_dir.join("partial.dat"), b"half-written state")?;

    let mut server = Command::new("sh");
    server
        .arg("-c")
        .arg(SERVER)
        .arg(&work_dir)
        .stdin(Stdio::null());
    // (The guardian, and this example, are Unix's: on Windows the program
    // says so at start and runs on without one.)
    #[cfg(unix)]
    server.process_group(0);
    let server = cleanup::spawn(&mut server)?;

    println!(
        "ready: pid {pid}, pid file {}, temporary directory {}, server {} (its own process group)",
        pid_path.display(),
        work_dir.display(),
        server.id(),
    );
    println!("try: kill -9 {pid}");
    cleanup::token().wait();
    Ok(())
}

/// A fresh directory under `base`, named after this process.
fn create_work_dir(base: &std::path::Path) -> io::Result<PathBuf> {
    let dir = base.join(format!("guardian.{}", std::process::id()));
    fs::create_dir(&dir)?;
    Ok(dir)
}
