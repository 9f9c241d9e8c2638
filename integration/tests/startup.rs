//! A SIGINT during the start-up of an `async fn main` on tokio's
//! multi-thread runtime is never lost (issue 15, item 3): the program ends
//! by the default action (nothing printed) or by a shutdown (its start line
//! first, every guard once, death by SIGINT). The tokio shape of the root's
//! `tests/startup.rs`: the fixture is `fixtures/async_startup.rs`, sent one
//! SIGINT 0–5 ms after the spawn (slept or busy-waited), with no readiness
//! line to wait for, in the test's process group, a group of its own or a
//! session of its own.
//!
//! ```text
//! cargo test -p cleanup-integration --test startup                               # bounded
//! CLEANUP_STARTUP_TRIALS=10000 cargo test -p cleanup-integration --test startup  # many more
//! CLEANUP_SEED=<seed> cargo test -p cleanup-integration --test startup           # one, replayed
//! ```

#![cfg(feature = "tokio")]

#[path = "../../tests/common/mod.rs"]
mod common;

use std::fmt;
use std::os::unix::process::ExitStatusExt as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{Ended, Spawn, SIGINT, SIGKILL, TIMEOUT_SECS};

/// Trials per `cargo test` run unless `CLEANUP_STARTUP_TRIALS` says
/// otherwise: a tokio program starts slower; this stays near ten seconds.
const DEFAULT_TRIALS: usize = 800;
const PARALLEL: usize = 3;
const LATEST: Duration = Duration::from_millis(5);
/// The program's deadline (`CLEANUP_TIMEOUT`) and a margin: still running
/// then, it never acted on the signal.
const TRIAL_WATCHDOG: Duration = Duration::from_secs(TIMEOUT_SECS + 4);
const REPORTS_PRINTED: usize = 10;

#[test]
fn a_sigint_at_any_moment_of_an_async_start_up_ends_the_program_by_default_action_or_shutdown() {
    let seeds = seeds();
    common::fixture_path("async_startup", common::Profile::Current);
    let next = AtomicUsize::new(0);
    let results: Mutex<(usize, usize, Vec<String>)> = Mutex::new((0, 0, Vec::new()));
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL.min(seeds.len()) {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(&seed) = seeds.get(index) else {
                    return;
                };
                let trial = Trial::new(seed);
                let outcome = trial.run();
                let mut results = results.lock().unwrap_or_else(|e| e.into_inner());
                match outcome {
                    Ok(false) => results.0 += 1,
                    Ok(true) => results.1 += 1,
                    Err(report) => {
                        println!("trial {index}: {trial} FAILED");
                        if results.2.len() < REPORTS_PRINTED {
                            println!("{report}");
                        }
                        results.2.push(trial.to_string());
                    }
                }
            });
        }
    });
    let (before, after, failures) = results.into_inner().unwrap_or_else(|e| e.into_inner());
    println!(
        "{} trials in {:.1?}: {before} killed by the default action, {after} shut down, {} failed",
        seeds.len(),
        started.elapsed(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} SIGINTs sent during an async start-up were not acted on as DESIGN.md says \
         (replay one with `CLEANUP_SEED=<seed>`):\n  {}",
        failures.len(),
        seeds.len(),
        failures.join("\n  ")
    );
}

fn seeds() -> Vec<u64> {
    if let Some(seed) = env_number("CLEANUP_SEED") {
        return vec![seed];
    }
    let trials = env_number("CLEANUP_STARTUP_TRIALS").map_or(DEFAULT_TRIALS, |n| n as usize);
    let clock = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos() as u64);
    let base = clock ^ u64::from(std::process::id()).rotate_left(32);
    println!("{trials} trials from base {base}");
    let mut rng = Rng(base);
    (0..trials).map(|_| rng.next() >> 24).collect()
}

fn env_number(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not a number")),
    )
}

/// splitmix64: a trial's choices from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One program, one SIGINT, all from the seed.
struct Trial {
    seed: u64,
    tasks: usize,
    spin: bool,
    guarded: bool,
    /// 0: the test's group; 1: a group of its own; 2: a session of its own.
    group: u64,
    after: Duration,
    busy_wait: bool,
}

impl Trial {
    fn new(seed: u64) -> Trial {
        let mut rng = Rng(seed);
        Trial {
            seed,
            tasks: rng.below(5) as usize,
            spin: rng.below(2) == 0,
            guarded: rng.below(2) == 0,
            group: rng.below(3),
            after: Duration::from_micros(rng.below(LATEST.as_micros() as u64 + 1)),
            busy_wait: rng.below(2) == 0,
        }
    }

    /// Starts the program, signals it, checks how it ended: whether a
    /// shutdown ran, or what went wrong.
    fn run(&self) -> Result<bool, String> {
        let mut spawn = Spawn::fixture("async_startup")
            .arg(self.tasks.to_string())
            .arg(if self.spin { "spin" } else { "await" })
            .arg(if self.guarded { "guard" } else { "bare" })
            .short_timeout();
        spawn = match self.group {
            0 => spawn,
            1 => spawn.own_process_group(),
            _ => spawn.new_session(),
        };
        // Started with SIGINT ignored (this test run in the background), the
        // program would drop a SIGINT that comes before its handlers: the
        // parent's doing, which no program can undo. Tested as from a terminal.
        if common::sigint_ignored() {
            spawn = spawn.default_signal_actions();
        }
        let mut running = spawn.start();
        if self.busy_wait {
            let from = Instant::now();
            while from.elapsed() < self.after {
                std::hint::spin_loop();
            }
        } else {
            std::thread::sleep(self.after);
        }
        running.signal(SIGINT);
        if !running.ends_within(TRIAL_WATCHDOG) {
            let threads = common::signal_state(running.pid());
            running.signal(SIGKILL);
            return Err(format!(
                "still running {TRIAL_WATCHDOG:?} after its SIGINT: the signal was never \
                 acted on\nits threads then:\n{threads}{}",
                running.finish()
            ));
        }
        self.check(&running.finish())
    }

    fn check(&self, ended: &Ended) -> Result<bool, String> {
        let fail = |why: &str| Err(format!("{why}\n{ended}"));
        let killed_by_sigint = ended.status.signal() == Some(SIGINT);
        let shutdown_lines: Vec<&str> = ended
            .stderr
            .lines()
            .filter(|line| line.starts_with("shutdown: "))
            .collect();
        if shutdown_lines.is_empty() {
            if !killed_by_sigint || !ended.stderr.is_empty() {
                return fail("no shutdown, yet not killed by SIGINT's default action either");
            }
            if ended.count("ready") > 0 {
                return fail("killed by the default action after the handlers were installed");
            }
            return Ok(false);
        }
        if !shutdown_lines[0].starts_with("shutdown: SIGINT received, draining") {
            return fail("the shutdown's first line is not its start line");
        }
        if !killed_by_sigint {
            return fail("a shutdown by SIGINT must end in death by SIGINT");
        }
        if self.guarded {
            let mut owed = vec!["guard:main".to_owned(), "finalizer:main".to_owned()];
            owed.extend((0..self.tasks).map(|n| format!("guard:task:{n}")));
            for line in &owed {
                if ended.count(line) != 1 {
                    return fail(&format!("`{line}` not printed exactly once"));
                }
            }
        }
        Ok(true)
    }
}

impl fmt::Display for Trial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let group = ["same", "own", "session"][self.group as usize];
        write!(
            f,
            "seed {}: {} tasks, {}, {}, {group} group, SIGINT after {:?} ({})",
            self.seed,
            self.tasks,
            if self.spin { "spin" } else { "await" },
            if self.guarded { "guard" } else { "bare" },
            self.after,
            if self.busy_wait {
                "busy-waited"
            } else {
                "slept"
            }
        )
    }
}
