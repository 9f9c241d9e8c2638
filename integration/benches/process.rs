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
//! - peers: the same two figures for the same programs over ctrlc (its
//!   `termination` feature; the handler exits with 143) and over
//!   signal-hook (an iterator thread that re-raises with the default
//!   action), as their users set them up, and for the floors of each
//!   figure: for start-up, a plain `main` whose binary links the crate but
//!   runs none of it (what this crate's weight in the binary costs), and
//!   the same with the three handlers DESIGN.md has installed through
//!   signal-hook registered; for kill to exit, a handler in libc alone
//!   that reads the signal's time, arms the deadline's timer and wakes the
//!   main thread, which dies by the signal (the least any handler keeping
//!   a deadline costs), and the same in a binary that links the crate.
//!   The programs of a figure run in turns (bare, the floors,
//!   `#[graceful_main]`, ctrlc, signal-hook, each round starting one
//!   further along), one table per figure against the plain program, and
//!   under it `#[graceful_main]` against each floor. These programs start
//!   from the page cache as a deployed program does (their copies dropped
//!   from it, then read in by an untimed first run);
//! - drain: 100 000 guards and finalizers run at shutdown, against calling as
//!   many boxed closures in a loop;
//! - `guard(f)` made and dropped in a loop in a `#[graceful_main]` program,
//!   against the same closure boxed, called and freed in the same program;
//! - the guardian (`#[graceful_main(guardian)]`): start-up against a plain
//!   `main` (and `#[graceful_main]` without it), empty and with one durable
//!   cleanup made at once; SIGKILL of the program to
//!   the directory it had `remove_on_exit`ed gone, against SIGKILL to exit
//!   of a plain program; and the guardian process's VmRSS while the program
//!   waits, against a plain program's.

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
    // Each call gives the next copy of the program (see `build`).
    let turns = std::cell::RefCell::new(std::collections::HashMap::<String, usize>::new());
    let program = |name: &str| {
        let mut turns = turns.borrow_mut();
        let turn = turns.entry(name.to_owned()).or_insert(0);
        let copy = *turn % COPIES;
        *turn += 1;
        dir.join(format!("bench_{name}.{copy}"))
    };

    // The start-up and kill programs' copies start as a deployed program's
    // do: read in by their first run (see `build`).
    warm_up(&rows("hello_", &START_UP_FLOORS), &program, |copy, _| {
        start_up(copy);
    });
    warm_up(&rows("wait_", &KILL_FLOORS), &program, |copy, ending| {
        kill_to_end(copy, ending);
    });

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

    peers(trials, &program);

    let runs = (trials / 10).max(10);
    let (mut drains, mut baselines, mut cpus) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let (drain, baseline, cpu) = drain(&program("drain"));
        drains.push(drain);
        baselines.push(baseline);
        cpus.extend(cpu);
    }
    report("100 000 boxed closures in a loop", &baselines, None);
    report(
        "100 000 guards + finalizers at shutdown",
        &drains,
        Some(&baselines),
    );
    if cpus.len() == drains.len() {
        // The wall time less the time the thread waited for a CPU: tells a
        // preempted drain (CPU time below the wall time) from one on a
        // slower CPU (the two alike).
        report("  of it, CPU time of the draining thread", &cpus, None);
    }
    println!();

    // Per-call figures in a program as users write them (divan's harness,
    // `--bench runtime`, has its own per-iteration cost around both).
    let (mut guards, mut boxed) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let (guard, closure) = guard_loop(&program("guard_loop"));
        guards.push(guard);
        boxed.push(closure);
    }
    report("a boxed closure made, called, freed", &boxed, None);
    report("guard(f) made and dropped", &guards, Some(&boxed));
    println!();

    guardian(trials, &program);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The peers of start-up and kill to exit: each program's name after
/// `hello_` and `wait_`, its name in the tables, and how it ends on SIGTERM.
/// The plain program comes first: the tables compare the others with it.
/// Each table has its figure's floor too, second (see [`rows`]).
const PEERS: [(&str, &str, Ending); 4] = [
    ("bare", "plain main", Ending::Signal),
    ("graceful", "#[graceful_main]", Ending::Signal),
    // ctrlc's handler is not told the signal and cannot end by it: it exits
    // with 128 + SIGTERM (see programs/wait_ctrlc.rs).
    ("ctrlc", "ctrlc (termination)", Ending::Code(143)),
    ("signal_hook", "signal-hook (iterator)", Ending::Signal),
];

/// The floors of start-up: a plain `main` whose binary links the crate as
/// `hello_graceful`'s does, never running it (programs/hello_linked.rs):
/// no `#[graceful_main]` starts sooner than its binary loads; and the same
/// with the three registrations through signal-hook that DESIGN.md
/// prescribes (programs/hello_registered.rs).
const START_UP_FLOORS: [(&str, &str); 2] = [
    ("hello_linked", "floor: crate linked, not run"),
    ("hello_registered", "floor + signal-hook's 3 registrations"),
];

/// The floors of kill to exit: a handler in libc alone that does what any
/// handler keeping a deadline must, then dies by the signal
/// (programs/wait_floor.rs); and the same in a binary that links the crate
/// as `wait_graceful`'s does (programs/wait_floor_linked.rs): the exit
/// unmaps what the process mapped.
const KILL_FLOORS: [(&str, &str); 2] = [
    ("wait_floor", "floor: raw handler, clock + timer + wake"),
    (
        "wait_floor_linked",
        "floor: raw handler, in the crate's binary",
    ),
];

/// The rows of one table of [`peers`]: the programs of [`PEERS`] after
/// `prefix`, with the `floors` right after the plain program. The floors
/// end as the plain programs do. `#[graceful_main]` is at
/// `1 + floors.len()`.
fn rows(prefix: &str, floors: &[(&str, &'static str)]) -> Vec<(String, &'static str, Ending)> {
    let mut rows: Vec<_> = PEERS
        .iter()
        .map(|&(name, shown, ending)| (format!("{prefix}{name}"), shown, ending))
        .collect();
    for (at, floor) in floors.iter().enumerate() {
        rows.insert(1 + at, (floor.0.to_owned(), floor.1, Ending::Signal));
    }
    assert_eq!(rows[1 + floors.len()].1, "#[graceful_main]");
    rows
}

/// Runs each program of `rows` once per copy, untimed: the copies' pages
/// were dropped from the page cache at the build (see `build`), and these
/// runs read them in as a deployed program's first run does.
fn warm_up(
    rows: &[(String, &str, Ending)],
    program: &dyn Fn(&str) -> PathBuf,
    run: fn(&PathBuf, Ending),
) {
    for (name, _, ending) in rows {
        for _ in 0..COPIES {
            run(&program(name), *ending);
        }
    }
}

/// Start-up and kill to exit of the plain program, the figure's floors,
/// `#[graceful_main]`, ctrlc and signal-hook, all in turns in the same
/// run, as two tables.
fn peers(trials: usize, program: &dyn Fn(&str) -> PathBuf) {
    println!("peers: {trials} trials each, in turns (each round starting one further along)\n");
    let hello = rows("hello_", &START_UP_FLOORS);
    let graceful = 1 + START_UP_FLOORS.len();
    let mut runs: Vec<_> = hello
        .iter()
        .map(|(name, _, _)| move || start_up(&program(name)))
        .collect();
    let times = in_turns(trials, &mut runs);
    report_peers(
        "start-up (spawn to exit of an empty main)",
        &hello,
        &times,
        |samples, bare| {
            format!(
                "{:+.1} µs over bare",
                (median(samples) - median(bare)) * 1e6
            )
        },
    );
    // What our code costs to start, the binary's weight aside, and then
    // signal-hook's registrations too.
    for (at, (_, shown)) in START_UP_FLOORS.iter().enumerate() {
        println!(
            "  #[graceful_main] over the {shown}: {:+.1} µs",
            (median(&times[graceful]) - median(&times[1 + at])) * 1e6
        );
    }
    println!();

    let wait = rows("wait_", &KILL_FLOORS);
    let graceful = 1 + KILL_FLOORS.len();
    let mut runs: Vec<_> = wait
        .iter()
        .map(|(name, _, ending)| move || kill_to_end(&program(name), *ending))
        .collect();
    let times = in_turns(trials, &mut runs);
    report_peers(
        "kill to exit (kill(SIGTERM) after `ready` to waitpid)",
        &wait,
        &times,
        |samples, bare| format!("×{:.2} the default action", median(samples) / median(bare)),
    );
    for (at, (_, shown)) in KILL_FLOORS.iter().enumerate() {
        println!(
            "  #[graceful_main] against {shown}: ×{:.2}",
            median(&times[graceful]) / median(&times[1 + at])
        );
    }
    println!();
}

/// One table of [`peers`]: each program's median and p99 (the rows of
/// `times` are in the order of `rows`), and `against(its samples, the
/// plain program's)`.
fn report_peers(
    title: &str,
    rows: &[(String, &str, Ending)],
    times: &[Vec<f64>],
    against: impl Fn(&[f64], &[f64]) -> String,
) {
    // As wide as the longest name: the floors' are long.
    let width = rows
        .iter()
        .map(|(_, name, _)| name.chars().count())
        .max()
        .unwrap_or(0);
    println!("{title}");
    println!(
        "  {:<width$} {:>10} {:>10}   against bare",
        "program", "median", "p99"
    );
    let bare = &times[0];
    for (index, ((_, name, _), samples)) in rows.iter().zip(times).enumerate() {
        let versus = if index == 0 {
            "—".to_string()
        } else {
            against(samples, bare)
        };
        println!(
            "  {name:<width$} {:>10} {:>10}   {versus}",
            show(median(samples)),
            show(percentile(samples, 0.99))
        );
    }
}

/// The three figures of the guardian.
fn guardian(trials: usize, program: &dyn Fn(&str) -> PathBuf) {
    // A guardian outlives its program by design: as this process's orphan
    // (not init's), it can be waited for, so that no trial runs beside the
    // previous one's guardian still at work.
    // SAFETY: prctl(2) with an integer option; it only sets a flag on us.
    let result = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) };
    assert_eq!(result, 0, "PR_SET_CHILD_SUBREAPER failed");

    // Read in, as the start-up programs were (see `warm_up`).
    for _ in 0..COPIES {
        start_up(&program("hello_guardian"));
        reap(-1);
        start_up(&program("hello_guardian_durable"));
        reap(-1);
    }
    let (mut bare, mut graceful, mut guarded, mut durable) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..trials {
        bare.push(start_up(&program("hello_bare")));
        graceful.push(start_up(&program("hello_graceful")));
        guarded.push(start_up(&program("hello_guardian")));
        // Its guardian, now ours: it leaves once it has read the end of
        // the pipe.
        reap(-1);
        durable.push(start_up(&program("hello_guardian_durable")));
        reap(-1);
    }
    report("start-up, plain main", &bare, None);
    report("start-up, #[graceful_main]", &graceful, Some(&bare));
    report(
        "start-up, #[graceful_main(guardian)]",
        &guarded,
        Some(&bare),
    );
    report(
        "the same, one durable cleanup made at once",
        &durable,
        Some(&bare),
    );
    println!(
        "  start-up cost of guardian: {:.1} µs over a plain main, {:.1} µs over #[graceful_main]; with one durable cleanup {:.1} µs over a plain main (median differences)\n",
        (median(&guarded) - median(&bare)) * 1e6,
        (median(&guarded) - median(&graceful)) * 1e6,
        (median(&durable) - median(&bare)) * 1e6
    );

    let scratch = std::env::temp_dir().join(format!("cleanup-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir(&scratch).expect("create the scratch directory");
    let mut trial = 0;
    let (bare, cleaned) = alternate(
        trials,
        || sigkill_to_exit(&program("wait_bare")),
        || {
            trial += 1;
            sigkill_to_cleaned(&program("guardian_kill"), &scratch.join(trial.to_string()))
        },
    );
    let _ = std::fs::remove_dir_all(&scratch);
    report("SIGKILL to exit, plain program", &bare, None);
    report("SIGKILL to cleaned, by the guardian", &cleaned, Some(&bare));
    println!();

    let (bare, rss) = alternate(
        trials,
        || program_rss(&program("wait_bare")),
        || guardian_rss(&program("wait_guardian")),
    );
    report_kib("VmRSS of a plain program, waiting", &bare, None);
    let guardian: Vec<f64> = rss.iter().map(|(guardian, _, _)| *guardian).collect();
    let anon: Vec<f64> = rss.iter().map(|(_, anon, _)| *anon).collect();
    let program: Vec<f64> = rss.iter().map(|(_, _, program)| *program).collect();
    report_kib("VmRSS of the guardian", &guardian, Some(&bare));
    report_kib("  of which RssAnon", &anon, None);
    report_kib("VmRSS of the program it watches", &program, Some(&bare));
}

/// Seconds from `kill(SIGKILL)` to `waitpid` returning, after `ready`.
fn sigkill_to_exit(program: &PathBuf) -> f64 {
    use std::os::unix::process::ExitStatusExt as _;
    let mut child = start_ready(program, None);
    let started = Instant::now();
    // SAFETY: kill(2) on our own child, not yet reaped.
    let result = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) };
    assert_eq!(result, 0, "kill failed");
    let status = child.wait().expect("wait for the program");
    let elapsed = started.elapsed();
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status}");
    elapsed.as_secs_f64()
}

/// Seconds from `kill(SIGKILL)` of a program with a guardian to the
/// directory it had `remove_on_exit`ed gone: the parent directory is
/// watched with inotify, so the harness sleeps until the removal (no
/// polling loop taking one of the two cores from the guardian). The
/// program is reaped only afterwards, as a parent that is not looking
/// would: the guardian reads how it died from its zombie.
fn sigkill_to_cleaned(program: &PathBuf, dir: &std::path::Path) -> f64 {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt as _;
    use std::os::unix::process::ExitStatusExt as _;

    let mut child = start_ready(program, Some(dir));
    assert!(dir.is_dir(), "the program made {}", dir.display());
    let guardian = guardian_of(child.id() as libc::pid_t);
    let parent = CString::new(dir.parent().expect("a parent").as_os_str().as_bytes())
        .expect("a path without NUL");
    // SAFETY: inotify_init1(2) and inotify_add_watch(2) with a
    // NUL-terminated path; the descriptor is closed below.
    let inotify = unsafe { libc::inotify_init1(libc::IN_CLOEXEC) };
    assert!(inotify >= 0, "inotify_init1 failed");
    // SAFETY: as above.
    let watch = unsafe { libc::inotify_add_watch(inotify, parent.as_ptr(), libc::IN_DELETE) };
    assert!(watch >= 0, "inotify_add_watch failed");

    let started = Instant::now();
    // SAFETY: kill(2) on our own child, not yet reaped.
    let result = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) };
    assert_eq!(result, 0, "kill failed");
    let mut fd = libc::pollfd {
        fd: inotify,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: poll(2) on one live pollfd.
    let ready = unsafe { libc::poll(&mut fd, 1, 5_000) };
    let elapsed = started.elapsed();
    // SAFETY: close(2) of our own inotify descriptor.
    unsafe { libc::close(inotify) };
    assert_eq!(ready, 1, "the directory was not removed within 5 s");
    assert!(!dir.exists(), "{} is still there", dir.display());

    let status = child.wait().expect("wait for the program");
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status}");
    // The next trial starts once this guardian has left.
    reap(guardian);
    elapsed.as_secs_f64()
}

/// The bare program's VmRSS, in KiB, once it is ready.
fn program_rss(program: &PathBuf) -> f64 {
    let mut child = start_ready(program, None);
    let rss = vm_rss(child.id() as libc::pid_t, "VmRSS");
    let _ = child.kill();
    let _ = child.wait();
    rss
}

/// The guardian's VmRSS and RssAnon, and its program's VmRSS, in KiB,
/// once the guardian waits.
fn guardian_rss(program: &PathBuf) -> (f64, f64, f64) {
    use std::os::unix::process::ExitStatusExt as _;
    let mut child = start_ready(program, None);
    let pid = child.id() as libc::pid_t;
    let guardian = guardian_of(pid);
    // Settled: asleep in its poll, having read the record of the program's
    // durable cleanup.
    let deadline = Instant::now() + Duration::from_secs(5);
    while proc_state(guardian) != Some('S') || pipe_unread(guardian) {
        assert!(Instant::now() < deadline, "the guardian never settled");
        std::thread::sleep(Duration::from_micros(200));
    }
    let figures = (
        vm_rss(guardian, "VmRSS"),
        vm_rss(guardian, "RssAnon"),
        vm_rss(pid, "VmRSS"),
    );
    // SAFETY: kill(2) on our own child, not yet reaped.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let status = child.wait().expect("wait for the program");
    assert_eq!(status.signal(), Some(libc::SIGTERM), "{status}");
    reap(guardian);
    figures
}

/// Starts `program` (with `arg`), its stdout piped, and waits for `ready`.
fn start_ready(program: &PathBuf, arg: Option<&std::path::Path>) -> std::process::Child {
    let mut command = Command::new(program);
    command.stdout(Stdio::piped()).stderr(Stdio::null());
    if let Some(arg) = arg {
        command.arg(arg);
    }
    let mut child = command.spawn().expect("start the program");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().expect("piped stdout"))
        .read_line(&mut line)
        .expect("read the ready line");
    assert_eq!(line.trim(), "ready", "{}", program.display());
    child
}

/// The guardian of `pid`: its child that has named itself `cleanup-guard`
/// (before, its name is the executable's); under the portable backend,
/// which cannot rename a process, its child whose argv[0] is
/// `cleanup-guardian` (from its exec on).
fn guardian_of(pid: libc::pid_t) -> libc::pid_t {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        let found = children.split_whitespace().find(|child| {
            if cfg!(cleanup_portable) {
                return std::fs::read(format!("/proc/{child}/cmdline"))
                    .is_ok_and(|argv| argv.starts_with(b"cleanup-guardian\0"));
            }
            std::fs::read_to_string(format!("/proc/{child}/comm"))
                .is_ok_and(|comm| comm.trim_end() == "cleanup-guard")
        });
        if let Some(found) = found {
            return found.parse().expect("a pid");
        }
        assert!(Instant::now() < deadline, "no guardian under {pid}");
        std::thread::sleep(Duration::from_micros(100));
    }
}

/// Field 3 of `/proc/<pid>/stat`; `None` once it is gone.
fn proc_state(pid: libc::pid_t) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// Whether the guardian's pipe (its descriptor 3) still holds bytes it
/// has not read: `/proc/<pid>/fdinfo` does not say, so ask FIONREAD on
/// the same pipe reopened through `/proc/<pid>/fd/3`.
fn pipe_unread(guardian: libc::pid_t) -> bool {
    use std::os::fd::AsRawFd as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let Ok(pipe) = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(format!("/proc/{guardian}/fd/3"))
    else {
        return false;
    };
    let mut unread: libc::c_int = 0;
    // SAFETY: ioctl(2) FIONREAD into a live c_int, on a descriptor we own.
    let result = unsafe { libc::ioctl(pipe.as_raw_fd(), libc::FIONREAD, &mut unread) };
    result == 0 && unread > 0
}

/// Waits for `pid` (-1: any), a guardian whose program has ended, so
/// this process's child (see `PR_SET_CHILD_SUBREAPER` above).
fn reap(pid: libc::pid_t) {
    let mut status = 0;
    // SAFETY: waitpid(2) into a live int.
    let reaped = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert!(
        reaped > 0 && (pid < 0 || reaped == pid),
        "waitpid({pid}): {}",
        std::io::Error::last_os_error()
    );
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "the guardian {reaped} ended with status {status:#x}"
    );
}

/// A `… kB` line of `/proc/<pid>/status`, in KiB.
fn vm_rss(pid: libc::pid_t, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.trim().strip_suffix(" kB")?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} for {pid}"))
}

/// Copies of each program that the trials take in turn (see [`build`]).
const COPIES: usize = 6;

/// Builds the programs with the release profile; returns their directory.
fn build() -> PathBuf {
    let names = [
        "hello_bare",
        "hello_graceful",
        "wait_bare",
        "wait_graceful",
        "hello_ctrlc",
        "hello_signal_hook",
        "wait_ctrlc",
        "wait_signal_hook",
        "hello_linked",
        "hello_registered",
        "wait_floor",
        "wait_floor_linked",
        "drain",
        "guard_loop",
        "hello_guardian",
        "hello_guardian_durable",
        "guardian_kill",
        "wait_guardian",
    ];
    let mut command = Command::new(env!("CARGO"));
    // Without this package's default features (the facade's `tokio`,
    // `anyhow`, `eyre`, for its tests): the programs are synchronous and
    // built as their users build them, with the facade's defaults (none).
    // They made `#[graceful_main]`'s binary 54 KB bigger.
    command.current_dir(env!("CARGO_MANIFEST_DIR")).args([
        "build",
        "--release",
        "--quiet",
        "--no-default-features",
    ]);
    for name in names {
        command.args(["--example", &format!("bench_{name}")]);
    }
    let status = command.status().expect("run cargo build");
    assert!(status.success(), "building the benchmark programs failed");
    let exe = std::env::current_exe().expect("the bench binary's path");
    // target/release/deps/process-… → target/release/examples
    let built = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/release")
        .join("examples");
    // Run copies, as a deployed program is (`install`, an image's layer):
    // the linker's own output file, the same bytes, took 35 µs more of
    // CPU to start and 14 µs more from kill to exit here (its page cache
    // pages map differently), for the plain programs too. And copies differ
    // among themselves: two copies of one program took +36 and +64 µs of
    // CPU over a plain `main` to start, in the same run. So there are
    // `COPIES` of each, taken in turn, and a median is over all of them.
    // And the copies of the start-up and kill programs (all `hello_` and
    // `wait_` ones but the guardian's waiting one) leave the page cache at
    // once: how a fresh copy's pages sit there (as the copy wrote
    // them) is not how a deployed program's do (as its first run read them
    // in), and the two differed here by up to 2 page faults a start, 10
    // to 30 µs, from one file to the next. `warm_up` reads them in.
    let copies =
        std::env::temp_dir().join(format!("cleanup-bench-programs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&copies);
    std::fs::create_dir(&copies).expect("create the programs' directory");
    for name in names {
        let file = format!("bench_{name}");
        for copy in 0..COPIES {
            let path = copies.join(format!("{file}.{copy}"));
            std::fs::copy(built.join(&file), &path).expect("copy a program");
            if name.starts_with("hello_") || name.starts_with("wait_") && name != "wait_guardian" {
                drop_from_page_cache(&path);
            }
        }
    }
    copies
}

/// Writes `path`'s pages out and drops them from the page cache: the next
/// run of the program reads them in, as a deployed program's first does.
fn drop_from_page_cache(path: &std::path::Path) {
    use std::os::fd::AsRawFd as _;
    let file = std::fs::File::open(path).expect("open a program's copy");
    // Dirty pages stay: written out first.
    file.sync_all().expect("write a program's copy out");
    // SAFETY: posix_fadvise(2) on a file open here, the whole of it; it
    // only advises the kernel.
    let result = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    assert_eq!(result, 0, "posix_fadvise failed on {}", path.display());
}

/// Runs `a` and `b` in turns, `trials` times each.
fn alternate<A, B>(
    trials: usize,
    mut a: impl FnMut() -> A,
    mut b: impl FnMut() -> B,
) -> (Vec<A>, Vec<B>) {
    let (mut first, mut second) = (Vec::new(), Vec::new());
    for _ in 0..trials {
        first.push(a());
        second.push(b());
    }
    (first, second)
}

/// Runs each of `runs` once a round, `trials` rounds, each round starting
/// one further along (so that none always goes first); the results of
/// each, in the order of `runs`.
fn in_turns<T>(trials: usize, runs: &mut [impl FnMut() -> T]) -> Vec<Vec<T>> {
    let count = runs.len();
    let mut results: Vec<Vec<T>> = (0..count).map(|_| Vec::with_capacity(trials)).collect();
    for round in 0..trials {
        for turn in 0..count {
            let index = (round + turn) % count;
            results[index].push(runs[index]());
        }
    }
    results
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

/// How a waiting program ends on SIGTERM.
#[derive(Clone, Copy)]
enum Ending {
    /// Killed by it: the default action, or the signal re-raised with it.
    Signal,
    /// `exit(code)`.
    Code(i32),
}

/// Seconds from `kill(SIGTERM)` to `waitpid` returning.
fn kill_to_exit(program: &PathBuf) -> f64 {
    kill_to_end(program, Ending::Signal)
}

/// As [`kill_to_exit`], for a program that ends as `ending` says.
fn kill_to_end(program: &PathBuf, ending: Ending) -> f64 {
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
    let ended = match ending {
        Ending::Signal => status.signal() == Some(libc::SIGTERM),
        Ending::Code(code) => status.code() == Some(code),
    };
    assert!(ended, "{}: {status}", program.display());
    elapsed.as_secs_f64()
}

/// `guard(f)`'s time per iteration and a boxed closure's, in seconds, as
/// the program reports.
fn guard_loop(program: &PathBuf) -> (f64, f64) {
    let output = Command::new(program)
        .output()
        .expect("run the guard loop program");
    assert!(
        output.status.success(),
        "guard loop failed: {}",
        output.status
    );
    let text = String::from_utf8_lossy(&output.stdout);
    let field = |name: &str| -> f64 {
        text.split_whitespace()
            .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
            .and_then(|value| value.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("no {name} in {text:?}"))
    };
    (field("guard_ns") * 1e-9, field("boxed_ns") * 1e-9)
}

/// The drain's time and the baseline's, in seconds, as the program reports.
fn drain(program: &PathBuf) -> (f64, f64, Option<f64>) {
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
    let cpu = text.contains("cpu_us=").then(|| field("cpu_us="));
    (field("drain_us="), field("baseline_us="), cpu)
}

fn median(samples: &[f64]) -> f64 {
    percentile(samples, 0.5)
}

fn percentile(samples: &[f64], p: f64) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// As [`report`], for sizes in KiB.
fn report_kib(what: &str, samples: &[f64], baseline: Option<&[f64]>) {
    let ratio = baseline.map_or(String::new(), |base| {
        format!(
            "   ×{:.2} the baseline's median",
            median(samples) / median(base)
        )
    });
    println!(
        "{what:<42} {:>6} KiB / {:>6} KiB (max {:.0}){ratio}",
        median(samples),
        percentile(samples, 0.99),
        samples.iter().copied().fold(0.0, f64::max)
    );
}

/// Seconds as a duration, to a tenth of its unit.
fn show(seconds: f64) -> String {
    format!("{:.1?}", Duration::from_secs_f64(seconds))
}

fn report(what: &str, samples: &[f64], baseline: Option<&[f64]>) {
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
