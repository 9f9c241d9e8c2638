//! The runtime of [`cleanup`](https://docs.rs/graceful-cleanup): signals, the
//! shutdown state, guards and finalizers, the deadline and the exit status.
//!
//! Use it through the package `graceful-cleanup`, whose library is named
//! `cleanup` and whose `#[cleanup::graceful_main]` attribute installs all of
//! this around `main`; the guide lives there. Everything here is re-exported
//! by `cleanup` under the same names, and documented as `cleanup::…`.
//!
//! | module | question it answers |
//! |---|---|
//! | `state` | is the process ending, and why? ([`checkpoint`], [`reason`], [`shield`]) |
//! | `token` | how do threads and tasks wait for it? ([`ShutdownToken`]) |
//! | `park` | where they sleep: a futex the signal handler wakes directly |
//! | `registry` | what must run, exactly once? ([`guard`], [`owned_guard`], [`on_exit`]) |
//! | `signals` | the signal handler, the only code in signal context |
//! | [`signal`] | signal numbers by name, for [`ExitReason::Signal`] and [`Child::signal`] |
//! | `shutdown` | the machine from the first signal to the exit, and its watchdog |
//! | `deadline` | how the timeout is shared between body and cleanups |
//! | `exit_status` | how the process leaves (re-raise, code, PID 1) |
//! | [`thread`] | worker threads joined within the budget |
//! | `children` | child processes: forwarded the signal, waited for, reaped ([`spawn`]) |
//! | `hooks` | `std::process::exit` and `panic = "abort"` |
//! | `run` | the entry `#[graceful_main]` calls; [`request_shutdown`], [`exit`] |
//! | `async_main` | the same for `async fn main` (feature `tokio`) |

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
        pub use crate::run::run;
        pub use libc::{SIGALRM, SIGHUP, SIGINT, SIGPIPE, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2};
    }
}
