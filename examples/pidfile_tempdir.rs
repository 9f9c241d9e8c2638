//! A pid file and a temporary directory that do not outlive the process,
//! however it ends.
//!
//! ```text
//! cargo run --example pidfile_tempdir -- [--dir DIR] [--end HOW]
//! ```
//!
//! The pid file is created exclusively (`create_new`): a second instance
//! refuses to start, unless the pid in the file is no longer running (a stale
//! file left by a SIGKILL, the one case no cleanup can cover). On the way out
//! it is removed only if it still holds our pid — another instance may have
//! taken over the name since. The temporary directory is removed on every exit
//! path.
//!
//! `--end` picks the exit path: `signal` (default: wait for Ctrl-C or
//! SIGTERM), `return`, `error`, `panic`, `exit` (`cleanup::exit(3)`),
//! `process-exit` (`std::process::exit(4)`).

use std::fs::{self, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[cleanup::graceful_main]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut dir = std::env::temp_dir();
    let mut end = String::from("signal");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--dir" => dir = args.next().ok_or("--dir needs a directory")?.into(),
            "--end" => end = args.next().ok_or("--end needs a value")?,
            other => return Err(format!("unknown argument `{other}`").into()),
        }
    }

    let pid_path = dir.join("pidfile_tempdir.pid");
    let _pid_file = create_pid_file(&pid_path)?;
    let (work_dir, _work_dir_guard) = create_temp_dir(&dir)?;
    fs::write(work_dir.join("partial.dat"), b"half-written state")?;
    println!(
        "ready: pid file {} holds {}, temporary directory {}",
        pid_path.display(),
        std::process::id(),
        work_dir.display()
    );

    match end.as_str() {
        "return" => Ok(()),
        "error" => Err("the work failed".into()),
        "panic" => panic!("the work panicked"),
        "exit" => cleanup::exit(3),
        "process-exit" => std::process::exit(4),
        _ => loop {
            cleanup::sleep(Duration::from_secs(1))?;
        },
    }
}

/// Creates the pid file exclusively; the guard removes it only while it still
/// holds our pid.
fn create_pid_file(path: &Path) -> io::Result<cleanup::Guard> {
    let pid = std::process::id();
    let mut file = match OpenOptions::new().write(true).create_new(true).open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
            let holder = fs::read_to_string(path)?;
            if Path::new("/proc").join(holder.trim()).exists() {
                return Err(io::Error::new(
                    err.kind(),
                    format!(
                        "{} holds pid {}, which is running: another instance is active",
                        path.display(),
                        holder.trim()
                    ),
                ));
            }
            println!(
                "stale pid file from pid {} (not running), replaced",
                holder.trim()
            );
            fs::remove_file(path)?;
            OpenOptions::new().write(true).create_new(true).open(path)?
        }
        Err(err) => return Err(err),
    };
    writeln!(file, "{pid}")?;
    let path = path.to_owned();
    Ok(cleanup::guard(move || match fs::read_to_string(&path) {
        Ok(holder) if holder.trim() == pid.to_string() => match fs::remove_file(&path) {
            Ok(()) => println!("pid file removed"),
            Err(err) => eprintln!("pid file {}: {err}", path.display()),
        },
        _ => println!("pid file now belongs to another process, left in place"),
    }))
}

/// Creates a fresh directory under `base`; the guard removes it and all it holds.
fn create_temp_dir(base: &Path) -> io::Result<(PathBuf, cleanup::Guard)> {
    let dir = base.join(format!("pidfile_tempdir.{}", std::process::id()));
    fs::create_dir(&dir)?;
    let guard = cleanup::guard({
        let dir = dir.clone();
        move || match fs::remove_dir_all(&dir) {
            Ok(()) => println!("temporary directory removed"),
            Err(err) => eprintln!("temporary directory {}: {err}", dir.display()),
        }
    });
    Ok((dir, guard))
}
