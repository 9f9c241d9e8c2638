//! The runtime of [`cleanup`](https://docs.rs/graceful-cleanup): signals, the
//! shutdown state, guards and finalizers, the deadline and the exit status.
//!
//! Use it through the package `graceful-cleanup`, whose library is named
//! `cleanup` and whose `#[cleanup::graceful_main]` attribute installs all of
//! this around `main`; the guide lives there. Everything here is re-exported
//! by `cleanup` under the same names, and documented as `cleanup::…`.
//!
//! The modules are layered: each imports only from the layers below it
//! (`tests/structure.rs` checks that no two import each other, even through
//! others), and only `sys` and the registry's slots hold `unsafe`.
//!
//! | layer | module | question it answers |
//! |---|---|---|
//! | platform | `sys` | every system call, a safe function each, per backend (`linux`; the POSIX `unix` that macOS and the BSDs run, and Linux with `--cfg cleanup_portable`) |
//! | | [`signal`] | signal numbers by name, for [`ExitReason::Signal`] and [`Child::signal`] |
//! | | `sync` | locks that survive a panicking holder |
//! | process state, clock, configuration | `log` | the lines (stderr, or `tracing`/`log` events) |
//! | | `notify` | systemd's notify protocol |
//! | | `park` | where threads and tasks sleep until the shutdown (a futex or a self-pipe the handler wakes) |
//! | | `runtime` | whether a runtime thread watches, the door to start one, what each module forgets after a `fork` |
//! | | `state` | is the process ending, and why? ([`checkpoint`], [`reason`], [`shield`]) |
//! | | `token` | how do threads and tasks wait for it? ([`ShutdownToken`]) |
//! | | `deadline` | how the timeout is shared between body and cleanups |
//! | | `config` | the options of `#[graceful_main]` and their environment overrides |
//! | | `exit_status` | how the process leaves: the one status decision, re-raise, code, PID 1 |
//! | | `signals` | the signal handler, the only code in signal context |
//! | registry | `guardian_link` | the records that tell the guardian of each durable cleanup |
//! | | `registry` | what must run, exactly once? ([`guard`], [`owned_guard`], [`Finalizer`]) |
//! | | [`thread`] | worker threads joined within the budget |
//! | | `children` | child processes: forwarded the signal, waited for, reaped ([`spawn`]) |
//! | the end | `shutdown` | the machine from the first signal to the exit: `end`, the one entry every route hands over to |
//! | | `hooks` | `std::process::exit`, `panic = "abort"`, and [`on_exit`] |
//! | surfaces | `guardian` | the guardian's launch and its work ([`remove_on_exit`], [`run_on_exit`]) |
//! | | `run` | the entry `#[graceful_main]` calls; [`request_shutdown`], [`exit`] |
//! | | `async_main` | the same for `async fn main` (feature `tokio`) |

#![warn(missing_docs)]
#![deny(unsafe_code)]

// Under `--cfg loom` the crate is the registry's lock-free protocol alone,
// model-checked by loom (see `registry/slots.rs`).
#[cfg(loom)]
#[path = "registry/slots.rs"]
#[allow(dead_code, unsafe_code)]
mod slots;

/// Every item of the crate but under `--cfg loom`.
macro_rules! not_under_loom {
    ($($item:item)*) => { $( #[cfg(not(loom))] $item )* };
}

not_under_loom! {
    #[cfg(feature = "tokio")]
    mod async_main;
    mod children;
    mod config;
    mod deadline;
    mod exit_status;
    mod guardian;
    mod guardian_link;
    mod hooks;
    mod log;
    mod notify;
    mod park;
    mod registry;
    mod run;
    mod runtime;
    mod shutdown;
    pub mod signal;
    mod signals;
    mod state;
    mod sync;
    mod sys;
    pub mod thread;
    mod token;

    pub use children::{spawn, Child};
    pub use config::{DRAIN_DELAY_ENV, TIMEOUT_ENV};
    pub use deadline::deadline;
    pub use guardian::{remove_on_exit, run_on_exit};
    pub use hooks::on_exit;
    pub use registry::{guard, owned_guard, Finalizer, Guard, Held, OwnedGuard};
    pub use run::{exit, request_shutdown};
    pub use state::{
        checkpoint, is_ready, is_shutting_down, ready, reason, shield, sleep, ExitReason, Shield,
        Shutdown,
    };
    pub use token::{token, Cancelled, ShutdownToken};

    /// What the expansion of `#[graceful_main]` calls. Not a public API: it may
    /// change in any release.
    #[doc(hidden)]
    pub mod __private {
        #[cfg(feature = "tokio")]
        pub use crate::async_main::{run_async, Flavor};
        pub use crate::config::{Config, Exit};
        pub use crate::run::{run, GUARDIAN};
        pub use crate::signal::{
            SIGALRM, SIGHUP, SIGINT, SIGPIPE, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2,
        };
        /// For tests of the close, logoff and shutdown events, which Wine
        /// cannot deliver: runs the console handler as Windows would for
        /// `event` (a `CTRL_*_EVENT` code), on the calling thread.
        #[cfg(windows)]
        pub use crate::signals::console_event;
    }
}
