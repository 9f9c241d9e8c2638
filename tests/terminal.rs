//! Ctrl-C at a real terminal: the kernel sends SIGINT to the whole
//! foreground process group, the program and its child in that group alike.
//! The program must not send the child a second one (to a `cleanup` child,
//! a second SIGINT means "stop now, skip the cleanup"), both must clean up
//! exactly once, and both must die by SIGINT so the shell knows.
//!
//! The terminal is a pane of a private tmux server (`tmux -L <name>`, one
//! per test, killed when the test ends); `bash` runs the fixture
//! (`tests/fixtures/children.rs`, scenario `self`: it runs itself as a child
//! in the process group they share, the terminal's foreground group) with its
//! output in a file the test reads.
//! Skipped, with the reason on stderr, where there is no tmux.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::{fixture_path, Profile, WATCHDOG};

/// Why tmux cannot be used here, if it cannot.
fn no_tmux() -> Option<String> {
    match Command::new("tmux").arg("-V").output() {
        Err(err) => Some(format!("cannot run `tmux`: {err}")),
        Ok(output) if !output.status.success() => Some(format!("`tmux -V` failed: {output:?}")),
        Ok(_) => None,
    }
}

/// A private tmux server running one script in one fixed-size pane, and the
/// file the script writes to. Dropping it kills the server (and with it
/// whatever still runs in the pane) and removes the file.
struct Terminal {
    socket: String,
    /// Where the server's socket is, to remove it with the server: tmux
    /// leaves it behind.
    socket_path: Option<PathBuf>,
    out: PathBuf,
    started: Instant,
}

impl Terminal {
    /// Starts `bash -c <script>` in a new pane; `{out}` and `{fixture}` in
    /// `script` stand for the (quoted) paths of the output file and of the
    /// fixture.
    fn start(test: &str, script: &str) -> Terminal {
        let unique = format!("cleanup-{test}-{}", std::process::id());
        let out = std::env::temp_dir().join(format!("{unique}.out"));
        let _ = std::fs::remove_file(&out);
        let script = script.replace("{out}", &quote(&out)).replace(
            "{fixture}",
            &quote(&fixture_path("children", Profile::Current)),
        );
        let mut terminal = Terminal {
            socket: unique,
            socket_path: None,
            out,
            started: Instant::now(),
        };
        // With the command as separate arguments, tmux runs it without a
        // shell of its own: `bash` is the pane's first process.
        let output = terminal.tmux(&[
            "new-session",
            "-d",
            "-s",
            "test",
            "-x",
            "100",
            "-y",
            "30",
            "bash",
            "--norc",
            "--noprofile",
            "-c",
            &script,
        ]);
        assert!(
            output.status.success(),
            "cannot start tmux: {output:?}\nscript: {script}"
        );
        let socket = terminal.tmux(&["display-message", "-p", "#{socket_path}"]);
        let socket = String::from_utf8_lossy(&socket.stdout).trim().to_owned();
        terminal.socket_path = (!socket.is_empty()).then(|| socket.into());
        terminal
    }

    /// `tmux -L <ours> <args>`, with none of the outer environment's tmux
    /// or cleanup settings.
    fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .env_remove("TMUX")
            .env_remove("CLEANUP_TIMEOUT")
            .env("RUST_BACKTRACE", "0")
            .stdin(Stdio::null())
            .output()
            .expect("running tmux")
    }

    /// Ctrl-C, typed at the pane.
    fn ctrl_c(&self) {
        let output = self.tmux(&["send-keys", "-t", "test", "C-c"]);
        assert!(output.status.success(), "send-keys failed: {output:?}");
    }

    /// Whether the pane still runs: its session ends with its last process.
    fn running(&self) -> bool {
        self.tmux(&["has-session", "-t", "test"]).status.success()
    }

    /// The lines written to the output file so far.
    fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Polls until `done` holds for the output, or fails at the watchdog.
    #[track_caller]
    fn wait_until(&self, what: &str, done: impl Fn(&Terminal) -> bool) {
        while !done(self) {
            if self.started.elapsed() > WATCHDOG {
                panic!(
                    "the watchdog's time ran out waiting for {what}\n{}",
                    self.report()
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Polls until a line of the output is `line`.
    #[track_caller]
    fn wait_for_line(&self, line: &str) {
        self.wait_until(&format!("`{line}`"), |terminal| {
            terminal.lines().iter().any(|seen| seen == line)
        });
    }

    /// How many lines are exactly `line`.
    fn count(&self, line: &str) -> usize {
        self.lines().iter().filter(|seen| *seen == line).count()
    }

    /// The output, and what the pane shows, for a failure message.
    fn report(&self) -> String {
        let pane = self.tmux(&["capture-pane", "-p", "-t", "test"]);
        format!(
            "--- {} ---\n{}\n--- pane ---\n{}---",
            self.out.display(),
            self.lines().join("\n"),
            String::from_utf8_lossy(&pane.stdout)
        )
    }

    /// Each of these lines exactly once, in this order (others may come
    /// between them).
    #[track_caller]
    fn assert_once_in_order(&self, lines: &[&str]) {
        let seen = self.lines();
        let mut positions = Vec::new();
        for line in lines {
            let count = seen.iter().filter(|seen| seen == line).count();
            assert_eq!(
                count,
                1,
                "expected `{line}` exactly once\n{}",
                self.report()
            );
            positions.push(seen.iter().position(|seen| seen == line));
        }
        assert!(
            positions.windows(2).all(|pair| pair[0] < pair[1]),
            "expected this order: {lines:?}\n{}",
            self.report()
        );
    }

    /// How many lines contain `text`.
    fn count_containing(&self, text: &str) -> usize {
        self.lines()
            .iter()
            .filter(|seen| seen.contains(text))
            .count()
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        // Fails harmlessly when the server has exited with its last session.
        let _ = self.tmux(&["kill-server"]);
        if let Some(socket) = &self.socket_path {
            let _ = std::fs::remove_file(socket);
        }
        let _ = std::fs::remove_file(&self.out);
    }
}

/// `path` in single quotes, for bash.
fn quote(path: &Path) -> String {
    let path = path.to_str().expect("a UTF-8 path");
    format!("'{}'", path.replace('\'', r"'\''"))
}

/// What both programs print, in order, when each cleans up exactly once:
/// the child first (its parent waits for it), then the parent.
const BOTH_CLEANED_UP: [&str; 6] = [
    "child-guard",
    "child-finalizer",
    "guard:a",
    "stack:main",
    "finalizer:a",
    // The parent's stderr, last.
    "shutdown: done",
];

/// Checks that the parent and its child each saw one SIGINT (none was
/// forwarded on top of the terminal's: the child in our group gets SIGTERM
/// instead) and cleaned up exactly once. The child ends by whichever of the
/// two reached it first (nearly always the terminal's SIGINT); the parent
/// by SIGINT.
#[track_caller]
fn assert_both_cleaned_up_once(terminal: &Terminal) {
    let mut order: Vec<&str> = BOTH_CLEANED_UP.to_vec();
    order.pop();
    terminal.assert_once_in_order(&order);
    let report = || terminal.report();
    let child_ends =
        ["SIGINT", "SIGTERM"].map(|sig| terminal.count(&format!("child-status:killed by {sig}")));
    assert_eq!(
        child_ends.iter().sum::<usize>(),
        1,
        "expected the child to die once, by SIGINT or SIGTERM\n{}",
        report()
    );
    assert_eq!(
        terminal.count_containing("shutdown: SIGINT received"),
        2,
        "expected one `SIGINT received` from each program\n{}",
        report()
    );
    // Both are in the terminal's foreground group: both say how to force
    // (the child in its start line, or after the forwarded SIGTERM).
    assert_eq!(
        terminal.count_containing("press Ctrl-C again to force"),
        2,
        "expected the hint to press Ctrl-C again from each program\n{}",
        report()
    );
    assert_eq!(
        terminal.count_containing("forwarding SIGINT"),
        0,
        "the child may have had the terminal's SIGINT already\n{}",
        report()
    );
    assert_eq!(
        terminal.count_containing("second SIGINT"),
        0,
        "a second SIGINT reached one of them\n{}",
        report()
    );
    assert_eq!(
        terminal.count_containing("exiting by SIGINT") + child_ends[1],
        2,
        "expected the parent to end by SIGINT, the child by SIGINT or SIGTERM\n{}",
        report()
    );
}

#[test]
fn ctrl_c_reaches_parent_and_child_once_and_both_clean_up_and_die_by_sigint() {
    if let Some(why) = no_tmux() {
        eprintln!("skipped: {why}");
        return;
    }
    // bash is in the foreground group too and gets the Ctrl-C. Without a
    // trap, it would die by SIGINT as soon as its child did (see the next
    // test) and never print `exit=`; its trap lets it go on and say how
    // the fixture ended.
    let terminal = Terminal::start(
        "ctrl-c",
        "trap 'echo bash:SIGINT >> {out}' INT; \
         {fixture} self > {out} 2>&1; \
         echo \"exit=$?\" >> {out}",
    );
    terminal.wait_for_line("ready");
    terminal.ctrl_c();
    terminal.wait_until("`exit=`", |terminal| {
        terminal
            .lines()
            .iter()
            .any(|line| line.starts_with("exit="))
    });
    assert_both_cleaned_up_once(&terminal);
    // 130: killed by SIGINT (128 + 2), as bash reports a signal's death.
    terminal.assert_once_in_order(&["finalizer:a", "bash:SIGINT", "exit=130"]);
}

#[test]
fn ctrl_c_stops_a_shell_loop_running_the_program() {
    if let Some(why) = no_tmux() {
        eprintln!("skipped: {why}");
        return;
    }
    // bash's "wait and cooperative exit": having got the Ctrl-C itself, it
    // goes on with the loop only if the program handled it and exited
    // normally; if the program died by SIGINT, bash kills itself with
    // SIGINT too, and the loop and the script stop there.
    let terminal = Terminal::start(
        "loop",
        "for i in 1 2 3; do {fixture} self; echo \"after $i\"; done > {out} 2>&1; \
         echo loop-done >> {out}",
    );
    terminal.wait_for_line("ready");
    terminal.ctrl_c();
    // The pane closes when bash is gone; a loop that goes on prints
    // `after 1` and starts the fixture again.
    terminal.wait_until("the end of the script", |terminal| {
        terminal.count("after 1") > 0 || !terminal.running()
    });
    assert_eq!(
        (terminal.count("after 1"), terminal.count("loop-done")),
        (0, 0),
        "the loop went on after Ctrl-C: the program did not die by SIGINT\n{}",
        terminal.report()
    );
    assert_eq!(
        terminal.count("ready"),
        1,
        "expected one run of the program\n{}",
        terminal.report()
    );
    assert_both_cleaned_up_once(&terminal);
}

/// The child in its own process group is not in the terminal's foreground
/// group: the Ctrl-C reaches only the parent, which forwards SIGINT to it.
/// Only the parent, whose group the person at the terminal interrupted, says
/// that a second Ctrl-C forces the exit; the child's lines, on the same
/// stderr, say which process speaks.
#[test]
fn only_the_foreground_group_is_told_to_press_ctrl_c_again_and_the_child_says_who_it_is() {
    if let Some(why) = no_tmux() {
        eprintln!("skipped: {why}");
        return;
    }
    let terminal = Terminal::start(
        "own-group",
        "trap 'echo bash:SIGINT >> {out}' INT; \
         {fixture} self-group > {out} 2>&1; \
         echo \"exit=$?\" >> {out}",
    );
    terminal.wait_for_line("ready");
    terminal.ctrl_c();
    terminal.wait_until("`exit=`", |terminal| {
        terminal
            .lines()
            .iter()
            .any(|line| line.starts_with("exit="))
    });
    let lines = terminal.lines();
    let pid = lines
        .iter()
        .find_map(|line| line.strip_prefix("child:"))
        .unwrap_or_else(|| panic!("no `child:<pid>` line\n{}", terminal.report()));
    // (The child's timeout is the time its parent waits for it: 7.125 s of 10 s.)
    let child = format!("fixture_children[{pid}]: shutdown: SIGINT received, draining (7.1s)");
    let parent = "shutdown: SIGINT received, draining (10s); press Ctrl-C again to force";
    let said = |what: &str| lines.iter().filter(|line| *line == what).count();
    assert_eq!(
        (said(parent), said(&child)),
        (1, 1),
        "expected `{parent}` from the parent and `{child}` (no hint) from the child\n{}",
        terminal.report()
    );
    assert_eq!(
        terminal.count_containing("again to force"),
        1,
        "only the parent may say how to force\n{}",
        terminal.report()
    );
    assert!(
        lines
            .iter()
            .filter(|line| line.contains("shutdown: done"))
            .any(|line| line.starts_with(&format!("fixture_children[{pid}]: "))),
        "the child's end line names it\n{}",
        terminal.report()
    );
}
