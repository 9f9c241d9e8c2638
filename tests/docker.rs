//! `docker stop` for real (DESIGN.md, "Fleet", "Exit status", "Deadline"):
//! a fixture as the container's PID 1 (or behind `--init`), stopped by the
//! engine, which sends SIGTERM and SIGKILLs at the end of its grace period.
//! An exit code of 143 says the program ended itself; 137 would be the
//! engine's SIGKILL.
//!
//! No image can be pulled here, so the fixtures are built as static
//! binaries (once per test binary, in `target/static`) and imported as the
//! whole file system of a throwaway image, one per test, removed with its
//! container when the test ends, failed or not. Skipped, with the reason on
//! stderr, only where docker is unusable: no `docker`, no daemon answering,
//! or an import it refuses.

mod common;

use std::io::{Read, Write as _};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{Ended, Running, Spawn};

/// The fixtures the image holds, at its root.
const FIXTURES: [&str; 2] = ["fixture_exit_paths", "fixture_fleet"];

/// What `fixture_exit_paths` prints on an orderly end, in this order.
const CLEANUPS: [&str; 5] = [
    "guard:b",
    "guard:a",
    "stack:main",
    "finalizer:b",
    "finalizer:a",
];

/// Any one docker command that takes longer than this fails the test: a
/// hung engine must not hang CI.
const COMMAND_LIMIT: Duration = Duration::from_secs(30);

/// A `docker stop` of a program that ends at once: well under a second,
/// with room for a busy engine.
const PROMPT_STOP: Duration = Duration::from_secs(1);

/// Runs `command` with `input` on its stdin and its output captured; kills
/// it at `limit`.
fn run(command: &mut Command, input: &'static [u8], limit: Duration) -> Result<Output, String> {
    let what = format!("{command:?}");
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| format!("cannot run {what}: {err}"))?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    // Written on its own thread, so that a command that stops reading
    // still meets the deadline; dropped at the end, closing the pipe.
    let writer = thread::spawn(move || stdin.write_all(input));
    let stdout = read_all(child.stdout.take().expect("piped stdout"));
    let stderr = read_all(child.stderr.take().expect("piped stderr"));
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(5)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{what} did not end within {limit:?}"));
            }
            Err(err) => return Err(format!("waiting for {what}: {err}")),
        }
    };
    let _ = writer.join();
    Ok(Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

fn read_all(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        bytes
    })
}

/// `docker <args>`: its stdout, or why it failed.
fn docker(args: &[&str]) -> Result<String, String> {
    docker_with_input(args, b"")
}

/// The same, with `input` on its stdin.
fn docker_with_input(args: &[&str], input: &'static [u8]) -> Result<String, String> {
    let output = run(Command::new("docker").args(args), input, COMMAND_LIMIT)?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        Err(format!(
            "`docker {}` failed ({}): {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// The same, where a failure fails the test.
#[track_caller]
fn docker_ok(args: &[&str]) -> String {
    docker(args).unwrap_or_else(|why| panic!("{why}"))
}

/// The image's content, a tar of the static fixtures; `Err` says why
/// docker cannot be used here.
fn image_tar() -> Result<&'static [u8], &'static str> {
    static TAR: OnceLock<Result<Vec<u8>, String>> = OnceLock::new();
    TAR.get_or_init(|| {
        // Asked first: where docker is unusable, skip without the build.
        docker(&["info", "--format", "{{.ServerVersion}}"])?;
        let dir = build_static();
        let output = run(
            Command::new("tar").arg("-C").arg(&dir).args(["-c", "."]),
            b"",
            COMMAND_LIMIT,
        )
        .unwrap_or_else(|why| panic!("{why}"));
        assert!(
            output.status.success(),
            "tar of {} failed: {}",
            dir.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        let _ = std::fs::remove_dir_all(&dir);
        Ok(output.stdout)
    })
    .as_ref()
    .map(Vec::as_slice)
    .map_err(String::as_str)
}

/// Builds the fixtures as static executables (nothing in the image to load
/// them with) in `target/static`, its own target directory: the outer
/// build's lock is not held for long, and this build's flags do not rebuild
/// the outer one. Returns a fresh directory holding just them.
fn build_static() -> PathBuf {
    let exe = std::env::current_exe().expect("the path of the test binary");
    // target/<profile>/deps/docker-<hash>
    let target = exe.ancestors().nth(3).unwrap_or_else(|| {
        panic!(
            "test binary outside target/<profile>/deps: {}",
            exe.display()
        )
    });
    let target_dir = target.join("static");
    let triple = "x86_64-unknown-linux-gnu";
    // Niced: other test binaries run meanwhile, some of them timing ends.
    let mut command = Command::new("nice");
    command
        .args(["-n", "10"])
        .arg(env!("CARGO"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "--quiet", "--target", triple, "--target-dir"])
        .arg(&target_dir)
        // With an explicit `--target`, the flag reaches the fixtures and not
        // the proc macros, which cannot be static.
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
    for fixture in FIXTURES {
        command.args(["--example", fixture]);
    }
    let output =
        run(&mut command, b"", Duration::from_secs(600)).unwrap_or_else(|why| panic!("{why}"));
    assert!(
        output.status.success(),
        "the static build of the fixtures failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let built = target_dir.join(triple).join("debug").join("examples");
    let dir = target_dir.join(format!("image-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a directory for the image");
    for fixture in FIXTURES {
        let from = built.join(fixture);
        std::fs::copy(&from, dir.join(fixture))
            .unwrap_or_else(|err| panic!("cannot copy {}: {err}", from.display()));
    }
    dir
}

/// A name no other test, test binary or earlier run uses.
fn unique(test: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970")
        .subsec_nanos();
    format!("cleanup-test-{}-{nanos:09}-{test}", std::process::id())
}

/// The variable under which a test that cannot use docker fails rather
/// than skips (`.ci/run` sets it, and starts an engine first).
const REQUIRE_DOCKER: &str = "CLEANUP_REQUIRE_DOCKER";

/// A test that cannot run here: under [`REQUIRE_DOCKER`] a failure; else
/// said on the terminal, past the test harness's capture (which would hide
/// it behind an `ok`), with what to do.
fn skip<T>(test: &str, why: &str) -> Option<T> {
    if std::env::var_os(REQUIRE_DOCKER).is_some_and(|value| value == "1") {
        panic!("{why} ({REQUIRE_DOCKER}=1: a docker test may not skip)");
    }
    let line = format!(
        "\ntests/docker.rs: `{test}` SKIPPED, did not run: {why}; start a docker engine \
         (`dockerd`), or see .ci/run\n"
    );
    // Not `eprintln!`: the harness captures that and prints it only on failure.
    let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
    None
}

/// An image of its own and a container to run it in, both removed when
/// this is dropped (a failed test included).
struct Container {
    name: String,
    image: String,
}

impl Container {
    /// `None` (with the reason said) where docker is unusable; a failure
    /// instead under `CLEANUP_REQUIRE_DOCKER=1`, which CI sets.
    fn new(test: &str) -> Option<Container> {
        let tar = match image_tar() {
            Ok(tar) => tar,
            Err(why) => return skip(test, &format!("docker is unusable here: {why}")),
        };
        let name = unique(test);
        let image = format!("{name}:test");
        if let Err(why) = docker_with_input(&["import", "-", &image], tar) {
            return skip(test, &format!("docker cannot import an image here: {why}"));
        }
        Some(Container { name, image })
    }

    /// `docker run` (attached: its output and exit status are the
    /// program's) of `program` with the `docker run` options `options`,
    /// once the program has printed `ready`.
    fn start(&self, options: &[&str], program: &[&str]) -> Running {
        let mut spawn = Spawn::program("docker", "docker")
            .arg("run")
            .arg("--name")
            .arg(&self.name)
            .arg("--network")
            .arg("none");
        for arg in options.iter().chain([&self.image.as_str()]).chain(program) {
            spawn = spawn.arg(arg);
        }
        spawn.start_ready()
    }

    /// `docker stop [-t <grace>]`, and how long the command took.
    #[track_caller]
    fn stop(&self, grace: Option<u32>) -> Duration {
        let grace = grace.map(|secs| secs.to_string());
        let mut args = vec!["stop"];
        if let Some(grace) = &grace {
            args.extend(["-t", grace]);
        }
        args.push(&self.name);
        let start = Instant::now();
        docker_ok(&args);
        start.elapsed()
    }

    /// The exit code the engine recorded (`.State.ExitCode`).
    #[track_caller]
    fn exit_code(&self) -> i32 {
        let code = docker_ok(&["inspect", "-f", "{{.State.ExitCode}}", &self.name]);
        code.parse()
            .unwrap_or_else(|err| panic!("exit code `{code}`: {err}"))
    }

    /// `docker logs`: the program's stdout lines and its stderr.
    #[track_caller]
    fn logs(&self) -> (Vec<String>, String) {
        let output = run(
            Command::new("docker").args(["logs", &self.name]),
            b"",
            COMMAND_LIMIT,
        )
        .unwrap_or_else(|why| panic!("{why}"));
        assert!(output.status.success(), "`docker logs` failed");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        (stdout.lines().map(str::to_owned).collect(), stderr)
    }

    /// The engine's account of the stop, from `docker events`.
    #[track_caller]
    fn stop_events(&self, since: SystemTime) -> StopEvents {
        let seconds = |at: SystemTime| {
            let at = at.duration_since(UNIX_EPOCH).expect("a clock after 1970");
            format!("{}.{:09}", at.as_secs(), at.subsec_nanos())
        };
        let events = docker_ok(&[
            "events",
            "--since",
            &seconds(since),
            "--until",
            &seconds(SystemTime::now()),
            "--filter",
            &format!("container={}", self.name),
            "--format",
            "{{.Action}} {{.TimeNano}} {{index .Actor.Attributes \"signal\"}}",
        ]);
        let mut stop = StopEvents {
            sigterm: None,
            sigkill: false,
            died: None,
            raw: events.clone(),
        };
        for line in events.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let at = fields.get(1).and_then(|nanos| nanos.parse::<u64>().ok());
            match (fields.first(), fields.get(2)) {
                (Some(&"kill"), Some(&"15")) => stop.sigterm = stop.sigterm.or(at),
                (Some(&"kill"), Some(&"9")) => stop.sigkill = true,
                (Some(&"die"), _) => stop.died = at,
                _ => {}
            }
        }
        stop
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        // Best effort: a test that failed has already said why.
        let _ = docker(&["rm", "--force", &self.name]);
        let _ = docker(&["rmi", "--force", &self.image]);
    }
}

/// What `docker events` says of a stop.
struct StopEvents {
    /// When the engine sent SIGTERM, in nanoseconds since the epoch.
    sigterm: Option<u64>,
    /// Whether it sent SIGKILL.
    sigkill: bool,
    /// When the container's process ended.
    died: Option<u64>,
    raw: String,
}

impl StopEvents {
    /// From the engine's SIGTERM to the end of the program, by the engine's
    /// clock, with no SIGKILL between.
    #[track_caller]
    fn ended_by_itself(&self) -> Duration {
        assert!(
            !self.sigkill,
            "the engine SIGKILLed the program:\n{}",
            self.raw
        );
        match (self.sigterm, self.died) {
            (Some(sigterm), Some(died)) if died >= sigterm => Duration::from_nanos(died - sigterm),
            _ => panic!("no SIGTERM then death in `docker events`:\n{}", self.raw),
        }
    }
}

/// The stderr line the runtime ends with.
#[track_caller]
fn assert_last_line(ended: &Ended, text: &str) {
    let last = ended.stderr.lines().last().unwrap_or_default();
    assert!(
        last.contains(text),
        "expected `{text}` on the last stderr line\n{ended}"
    );
}

#[test]
fn docker_stop_of_pid_1_runs_every_cleanup_and_exits_with_143_at_once() {
    let Some(container) = Container::new("pid1") else {
        return;
    };
    let running = container.start(&[], &["/fixture_exit_paths", "sleep"]);
    let since = SystemTime::now();
    let took = container.stop(None);
    let ended = running.finish();
    eprintln!("docker stop took {took:?}");
    assert!(took < PROMPT_STOP, "`docker stop` took {took:?}\n{ended}");
    assert_eq!(container.exit_code(), 143, "{ended}");
    // `docker run` exits with the container's code.
    ended.assert_code(143).assert_once_in_order(&CLEANUPS);
    assert_last_line(&ended, "exiting with code 143 (PID 1)");
    let (stdout, stderr) = container.logs();
    for line in CLEANUPS {
        assert!(
            stdout.iter().any(|seen| seen == line),
            "no `{line}` in `docker logs`:\n{stdout:#?}\n{stderr}"
        );
    }
    assert!(
        stderr.contains("shutdown: SIGTERM received"),
        "`docker logs` lacks the shutdown's first line:\n{stderr}"
    );
    let after = container.stop_events(since).ended_by_itself();
    eprintln!("SIGTERM to death, by the engine: {after:?}");
}

#[test]
fn docker_stop_of_a_hung_finalizer_at_default_settings_ends_before_the_sigkill() {
    let Some(container) = Container::new("hung-default") else {
        return;
    };
    // `#[graceful_main]` with nothing set: a 10 s timeout, docker's own
    // grace period, and no drain delay. The hung finalizer sits between
    // `a` and `b`.
    let running = container.start(&[], &["/fixture_exit_paths", "hang-finalizer"]);
    let since = SystemTime::now();
    let took = container.stop(None);
    let ended = running.finish();
    eprintln!("docker stop took {took:?}");
    assert_eq!(
        container.exit_code(),
        143,
        "137 is docker's SIGKILL: the program did not end itself\n{ended}"
    );
    ended
        .assert_code(143)
        .assert_once_in_order(&[
            "guard:b",
            "guard:a",
            "stack:main",
            "finalizer:b",
            "finalizer:hang:start",
            "finalizer:a",
        ])
        .assert_absent(&["finalizer:hang:end"]);
    let after = container.stop_events(since).ended_by_itself();
    eprintln!("SIGTERM to death, by the engine: {after:?}");
    assert!(after < Duration::from_secs(10), "{after:?}\n{ended}");
    assert!(
        took < Duration::from_secs(10),
        "`docker stop` took {took:?}"
    );
}

#[test]
fn docker_stop_t_2_with_a_2s_timeout_ends_a_hung_finalizer_before_the_sigkill() {
    let Some(container) = Container::new("hung-2s") else {
        return;
    };
    let running = container.start(
        &["-e", "CLEANUP_TIMEOUT=2", "-e", "CLEANUP_DRAIN_DELAY=0"],
        &["/fixture_fleet", "hung"],
    );
    let since = SystemTime::now();
    let took = container.stop(Some(2));
    let ended = running.finish();
    eprintln!("docker stop -t 2 took {took:?}");
    assert_eq!(
        container.exit_code(),
        143,
        "137 is docker's SIGKILL: the program did not end itself\n{ended}"
    );
    ended
        .assert_code(143)
        .assert_once(&["finalizer:hang:start"])
        .assert_stderr_contains("draining (2s)");
    assert_last_line(&ended, "exiting with code 143 (PID 1)");
    let after = container.stop_events(since).ended_by_itself();
    eprintln!("SIGTERM to death, by the engine: {after:?}");
    assert!(after < Duration::from_secs(2), "{after:?}\n{ended}");
    // The command itself also waits for the engine's bookkeeping.
    assert!(took < Duration::from_secs(4), "`docker stop` took {took:?}");
}

#[test]
fn docker_stop_behind_init_runs_every_cleanup_and_exits_with_143() {
    let Some(container) = Container::new("init") else {
        return;
    };
    // docker-init (tini) is PID 1 and forwards the SIGTERM; the program is
    // PID 2, dies by the re-raised signal, and tini exits with 128 + 15.
    let running = container.start(&["--init"], &["/fixture_exit_paths", "sleep"]);
    let since = SystemTime::now();
    let took = container.stop(None);
    let ended = running.finish();
    eprintln!("docker stop --init took {took:?}");
    assert!(took < PROMPT_STOP, "`docker stop` took {took:?}\n{ended}");
    assert_eq!(container.exit_code(), 143, "{ended}");
    ended.assert_code(143).assert_once_in_order(&CLEANUPS);
    assert_last_line(&ended, "exiting by SIGTERM");
    let (stdout, _) = container.logs();
    for line in CLEANUPS {
        assert!(
            stdout.iter().any(|seen| seen == line),
            "no `{line}` in `docker logs`:\n{stdout:#?}"
        );
    }
    container.stop_events(since).ended_by_itself();
}
