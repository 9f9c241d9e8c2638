//! Process-level figures, release builds, each beside its baseline, the two
//! programs of a pair alternating so that both see the same machine:
//!
//! ```text
//! cargo bench -p cleanup-integration --bench process   # TRIALS=500 to change the count
//! ```
//!
//! - start-up: spawn to exit of an empty `#[graceful_main]` against an empty
//!   plain `main`;
//! - kill to exit: from `kill(SIGTERM)` to `waitpid` returning, for a program
//!   with nothing to clean against one that dies by the default action;
//! - drain: 100 000 guards and finalizers run at shutdown, against calling as
//!   many boxed closures in a loop.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn main() {
    let trials: usize = std::env::var("TRIALS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(300);
    let dir = build();
    let program = |name: &str| dir.join(format!("bench_{name}"));

    println!("{trials} trials each, alternating; times are median / p99\n");
    let (bare, graceful) = alternate(
        trials,
        || start_up(&program("hello_bare")),
        || start_up(&program("hello_graceful")),
    );
    report("start-up, plain main", &bare, None);
    report("start-up, #[graceful_main]", &graceful, Some(&bare));
    println!(
        "  start-up cost of #[graceful_main]: {:.1} µs (median difference)\n",
        (median(&graceful) - median(&bare)) * 1e6
    );

    let (bare, graceful) = alternate(
        trials,
        || kill_to_exit(&program("wait_bare")),
        || kill_to_exit(&program("wait_graceful")),
    );
    report("kill to exit, default action", &bare, None);
    report("kill to exit, #[graceful_main]", &graceful, Some(&bare));
    println!();

    let runs = (trials / 10).max(10);
    let mut drains = Vec::new();
    let mut baselines = Vec::new();
    for _ in 0..runs {
        let (drain, baseline) = drain(&program("drain"));
        drains.push(drain);
        baselines.push(baseline);
    }
    report("100 000 boxed closures in a loop", &baselines, None);
    report(
        "100 000 guards + finalizers at shutdown",
        &drains,
        Some(&baselines),
    );
}

/// Builds the programs with the release profile; returns their directory.
fn build() -> PathBuf {
    let names = [
        "hello_bare",
        "hello_graceful",
        "wait_bare",
        "wait_graceful",
        "drain",
    ];
    let mut command = Command::new(env!("CARGO"));
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "--release", "--quiet"]);
    for name in names {
        command.args(["--example", &format!("bench_{name}")]);
    }
    let status = command.status().expect("run cargo build");
    assert!(status.success(), "building the benchmark programs failed");
    let exe = std::env::current_exe().expect("the bench binary's path");
    // target/release/deps/process-… → target/release/examples
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("target/release")
        .join("examples")
}

/// Runs `a` and `b` in turns, `trials` times each.
fn alternate(
    trials: usize,
    mut a: impl FnMut() -> f64,
    mut b: impl FnMut() -> f64,
) -> (Vec<f64>, Vec<f64>) {
    let (mut first, mut second) = (Vec::new(), Vec::new());
    for _ in 0..trials {
        first.push(a());
        second.push(b());
    }
    (first, second)
}

/// Seconds from spawn to the end of a program that exits at once.
fn start_up(program: &PathBuf) -> f64 {
    let started = Instant::now();
    let status = Command::new(program)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run the program");
    let elapsed = started.elapsed();
    assert!(status.success(), "{} failed: {status}", program.display());
    elapsed.as_secs_f64()
}

/// Seconds from `kill(SIGTERM)` to `waitpid` returning.
fn kill_to_exit(program: &PathBuf) -> f64 {
    use std::os::unix::process::ExitStatusExt as _;
    let mut child = Command::new(program)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the program");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().expect("piped stdout"))
        .read_line(&mut line)
        .expect("read the ready line");
    assert_eq!(line.trim(), "ready");
    let started = Instant::now();
    // SAFETY: kill(2) on our own child, not yet reaped.
    let result = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(result, 0, "kill failed");
    let status = child.wait().expect("wait for the program");
    let elapsed = started.elapsed();
    assert_eq!(
        status.signal(),
        Some(libc::SIGTERM),
        "{}: {status}",
        program.display()
    );
    elapsed.as_secs_f64()
}

/// The drain's time and the baseline's, in seconds, as the program reports.
fn drain(program: &PathBuf) -> (f64, f64) {
    let output = Command::new(program)
        .output()
        .expect("run the drain program");
    assert!(output.status.success(), "drain failed: {}", output.status);
    let text = String::from_utf8_lossy(&output.stdout);
    let field = |name: &str| -> f64 {
        let value = text
            .split_whitespace()
            .find_map(|word| word.strip_prefix(name))
            .unwrap_or_else(|| panic!("no `{name}` in {text:?}"));
        value.parse::<f64>().expect("a number") / 1e6
    };
    assert!(text.contains("ran=100000"), "not every cleanup ran: {text}");
    (field("drain_us="), field("baseline_us="))
}

fn median(samples: &[f64]) -> f64 {
    percentile(samples, 0.5)
}

fn percentile(samples: &[f64], p: f64) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn report(what: &str, samples: &[f64], baseline: Option<&[f64]>) {
    let show = |s: f64| format!("{:.1?}", Duration::from_secs_f64(s));
    let ratio = baseline.map_or(String::new(), |base| {
        format!(
            "   ×{:.2} the baseline's median",
            median(samples) / median(base)
        )
    });
    println!(
        "{what:<42} {:>10} / {:>10}{ratio}",
        show(median(samples)),
        show(percentile(samples, 0.99))
    );
}
