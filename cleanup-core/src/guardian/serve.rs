//! The guardian process itself: reads what the program tells it, waits for
//! the program to end, and does what the program left undone.
//!
//! Single-threaded, no runtime: one wait on the pipe and the program's end
//! (`sys::guardian::watch`). Its lines go to the program's stderr (see the
//! parent module for how it lets go of it), prefixed `cleanup-guardian[pid]:`.

use std::ffi::OsStr;
use std::time::{Duration, Instant};

use super::durable::{remove, run};
use crate::guardian_link::{Record, Work};
use crate::sys;
use crate::sys::guardian::{Death, Killed, Stderr};

/// Kept for each cleanup still to do after the one being done, as the
/// program's own drain keeps it.
const RESERVE: Duration = Duration::from_millis(25);

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Armed,
    Claimed,
    /// A command whose process the program had started.
    Started,
    Done,
}

struct Entry {
    id: u64,
    work: Work,
    state: State,
    /// For a child: what the guardian holds of it from its registration on,
    /// so that a pid reused since is not signalled (see `sys::guardian`).
    child: Option<sys::guardian::Child>,
}

struct Guardian {
    program: i32,
    name: String,
    timeout: Duration,
    /// The program's stderr, as it is reached once fd 2 is let go of.
    stderr: Stderr,
    /// Whether fd 2 is still the program's stderr.
    holds_stderr: std::cell::Cell<bool>,
    entries: Vec<Entry>,
    oom_kills: Option<u64>,
}

pub(super) fn serve(spec: &OsStr) -> ! {
    let mut fields = crate::sys::os_str::bytes(spec).split(|&b| b == b',');
    let mut number = || -> Option<u64> {
        std::str::from_utf8(fields.next()?).ok()?.parse().ok()
    };
    let (Some(program), Some(timeout_ms)) = (number(), number()) else {
        // Not ours to serve: a mistaken environment. Leave quietly.
        sys::exit::hard_exit(2)
    };
    sys::guardian::close_inherited();
    // The program blocked every signal around the fork; the mask survived
    // the execve.
    sys::signals::unblock_all();
    // A name `ps` shows, where the system has one. (Its own session it has
    // from before its exec.)
    sys::guardian::set_name(c"cleanup-guard");
    let program = program as i32;
    let mut guardian = Guardian {
        program,
        name: sys::guardian::program_name(program).unwrap_or_else(|| "program".to_owned()),
        timeout: Duration::from_millis(timeout_ms),
        stderr: Stderr::remember(),
        holds_stderr: std::cell::Cell::new(true),
        entries: Vec::new(),
        oom_kills: sys::guardian::oom_kills(),
    };
    sys::guardian::trim_code_pages();
    let death = guardian.watch();
    guardian.finish(death);
    // Nothing of the program's is registered here to run.
    sys::exit::hard_exit(0)
}

impl Guardian {
    /// Reads records until the program has ended; returns how it died, as
    /// far as the guardian could learn it.
    fn watch(&mut self) -> Death {
        let mut buf = Vec::with_capacity(4096);
        sys::guardian::watch(self.program, |bytes| {
            buf.extend_from_slice(bytes);
            let (records, used) = Record::decode_all(&buf);
            buf.drain(..used);
            for record in records {
                self.apply(record);
            }
        })
    }

    fn apply(&mut self, record: Record) {
        match record {
            Record::Add(id, work) => {
                let child = match work {
                    Work::Child { pid, .. } => Some(sys::guardian::Child::track(pid)),
                    _ => None,
                };
                self.entries.push(Entry {
                    id,
                    work,
                    state: State::Armed,
                    child,
                });
            }
            Record::Claimed(id) => self.set(id, Some(State::Claimed)),
            Record::Started(id) => self.set(id, Some(State::Started)),
            Record::Done(id) => self.set(id, Some(State::Done)),
            Record::Cancel(id) => self.set(id, None),
        }
    }

    /// `None`: forget it (cancelled).
    fn set(&mut self, id: u64, state: Option<State>) {
        if let Some(at) = self.entries.iter().position(|entry| entry.id == id) {
            match state {
                Some(state) => self.entries[at].state = state,
                None => {
                    self.entries.remove(at);
                }
            }
        }
    }

    /// Does what the program left undone, newest first, children first.
    fn finish(&mut self, death: Death) {
        let died = Instant::now();
        let mut todo: Vec<Entry> = Vec::new();
        let mut running = Vec::new();
        for entry in self.entries.drain(..).rev() {
            match (entry.state, &entry.work) {
                (State::Done, _) => drop(entry),
                // A command the program had started may still be running:
                // it is not run a second time. One only claimed (the
                // program died before its `fork`) is run.
                (State::Started, Work::Run(command)) => running.push(command.describe()),
                _ => todo.push(entry),
            }
        }
        if todo.is_empty() && running.is_empty() {
            return;
        }
        // Children first: what they hold may be what the rest removes.
        todo.sort_by_key(|entry| !matches!(entry.work, Work::Child { .. }));
        let count = todo.len();
        let plan: Vec<String> = todo.iter().map(|entry| plan(&entry.work)).collect();
        self.say(&format!(
            "{}[{}] {} without doing {count} durable cleanup{}; doing {} now: {}",
            self.name,
            self.program,
            self.how(death),
            if count == 1 { "" } else { "s" },
            if count == 1 { "it" } else { "them" },
            plan.join(", "),
        ));
        // Said: a reader of the program's stderr may see its end now.
        self.let_go_of_stderr();
        for command in running {
            self.say(&format!(
                "`{command}` was running when the program ended; not run again"
            ));
        }
        let deadline = died + crate::deadline::effective(self.timeout);
        let total = todo.len();
        for (done, entry) in todo.into_iter().enumerate() {
            let left_after = u32::try_from(total - done - 1).unwrap_or(u32::MAX);
            let until = deadline
                .checked_sub(RESERVE * left_after)
                .unwrap_or(deadline)
                .max(Instant::now() + Duration::from_millis(1));
            self.perform(&entry, until);
        }
        self.say(&format!(
            "done in {}",
            crate::log::Secs(died.elapsed())
        ));
    }

    fn perform(&self, entry: &Entry, until: Instant) {
        match &entry.work {
            Work::Remove(path) => match remove(path) {
                Ok(()) => self.say(&format!("removed {}", path.display())),
                Err(err) => self.say(&format!("cannot remove {}: {err}", path.display())),
            },
            Work::Run(command) => {
                let status = run(command, Some(until), None, |line| self.say(&line));
                if status.is_some_and(|status| status.success()) {
                    self.say(&format!("ran `{}`", command.describe()));
                }
            }
            Work::Child { pid, own_group } => {
                let Some(child) = &entry.child else {
                    return;
                };
                match child.kill(*own_group) {
                    Killed::WithGroup => {
                        self.say(&format!("killed child {pid} and its process group"));
                    }
                    Killed::Alone => self.say(&format!("killed child {pid}")),
                    Killed::Not => {}
                }
                child.wait_exit(until);
            }
        }
    }

    fn how(&self, death: Death) -> String {
        match death {
            Death::Unknown(why) => format!("ended ({why})"),
            Death::Signal {
                signal,
                core_dumped,
            } => {
                let name = crate::log::SignalName(signal);
                let oom = signal == crate::signal::SIGKILL
                    && self
                        .oom_kills
                        .zip(sys::guardian::oom_kills())
                        .is_some_and(|(before, after)| after > before);
                let core = if core_dumped { " (core dumped)" } else { "" };
                let by = if oom { " (the OOM killer)" } else { "" };
                format!("was killed by {name}{by}{core}")
            }
            Death::Exit(code) => format!("exited with code {code}"),
        }
    }

    /// Points fd 2 elsewhere: the program's stderr is no longer held.
    fn let_go_of_stderr(&self) {
        if self.holds_stderr.replace(false) {
            sys::guardian::let_go_of_stderr();
        }
    }

    /// One line on the program's stderr: on fd 2 while it is held, then
    /// through `stderr`, when the platform can still reach it.
    fn say(&self, line: &str) {
        let text = format!("cleanup-guardian[{}]: {line}\n", std::process::id());
        if self.holds_stderr.get() {
            crate::log::write_stderr(text.as_bytes());
            return;
        }
        self.stderr.write_line(text.as_bytes());
    }
}

/// What the guardian is about to do for `work`, in a few words.
fn plan(work: &Work) -> String {
    match work {
        Work::Remove(path) => format!("remove {}", path.display()),
        Work::Run(command) => format!("run `{}`", command.describe()),
        Work::Child { pid, own_group: true } => format!("kill child {pid} and its group"),
        Work::Child { pid, .. } => format!("kill child {pid}"),
    }
}
