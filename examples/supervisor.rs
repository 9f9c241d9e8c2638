//! A supervisor: it serves HTTP from a child process while its main loop runs
//! a build that Ctrl-C must not cut in half.
//!
//! ```text
//! cargo run --example supervisor
//! curl http://127.0.0.1:<port>/        # the port it prints, from another terminal
//! ```
//!
//! Press Ctrl-C during a build. The runtime forwards the signal to the HTTP
//! child at once (`shutdown: forwarding SIGINT to 1 child` on stderr): the
//! child stops accepting, finishes the requests in flight and dies by SIGINT,
//! while the supervisor's build, in its shield, runs to the end — both drain
//! side by side, within one deadline. Then `main` returns, the runtime makes
//! sure the child is gone and reaped, and the supervisor dies by SIGINT too
//! (your shell shows 130).
//! `kill -TERM <supervisor pid>` does the same with SIGTERM. A second Ctrl-C
//! ends the supervisor at once; the runtime still SIGKILLs and reaps the
//! child, so nothing is left behind.
//!
//! One binary, two roles. With `--serve PORT` it is the HTTP child. Without
//! it, it is the supervisor, which starts itself with `--serve` through
//! [`cleanup::spawn`]: a child the runtime tracks, signals and reaps.
//!
//! Arguments of the supervisor: `--port PORT` (default: a free one), the
//! number of steps per build (default 6) and the time each takes in
//! milliseconds (default 500).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
#[cfg(unix)]
use std::os::unix::process::CommandExt as _;
use std::process::{Command, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

#[cleanup::graceful_main(timeout = "30s")]
fn main() -> io::Result<()> {
    match Args::parse() {
        Args::Serve { port } => serve(port),
        Args::Supervise {
            port,
            steps,
            step_time,
        } => supervise(port, steps, step_time),
    }
}

enum Args {
    /// The HTTP child.
    Serve { port: u16 },
    /// The supervisor.
    Supervise {
        port: Option<u16>,
        steps: u64,
        step_time: Duration,
    },
}

impl Args {
    fn parse() -> Args {
        let mut args = std::env::args().skip(1);
        let mut port = None;
        let mut numbers = Vec::new();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--serve" => {
                    return Args::Serve {
                        port: port_arg(args.next()),
                    }
                }
                "--port" => port = Some(port_arg(args.next())),
                number => numbers.push(number.parse::<u64>().expect("steps, step time: numbers")),
            }
        }
        let mut numbers = numbers.into_iter();
        Args::Supervise {
            port,
            steps: numbers.next().unwrap_or(6),
            step_time: Duration::from_millis(numbers.next().unwrap_or(500)),
        }
    }
}

fn port_arg(arg: Option<String>) -> u16 {
    arg.and_then(|port| port.parse().ok())
        .expect("a port number after --serve or --port")
}

// ---------------------------------------------------------------------------
// The supervisor
// ---------------------------------------------------------------------------

fn supervise(port: Option<u16>, steps: u64, step_time: Duration) -> io::Result<()> {
    let port = match port {
        Some(port) => port,
        // Ask the kernel for a free port, and let it go for the child to
        // take. (Another program could take it in between; a real supervisor
        // would pass the listening socket itself down to the child.)
        None => TcpListener::bind("127.0.0.1:0")?.local_addr()?.port(),
    };

    let mut command = Command::new(std::env::current_exe()?);
    command
        .arg("--serve")
        .arg(port.to_string())
        .stdin(Stdio::null());
    // The child's own process group. A terminal's Ctrl-C goes to the whole
    // foreground process group; in its own group the child hears of a stop
    // only from the supervisor's runtime, which forwards it: one signal
    // from one place, whether the stop comes from a terminal, `kill` or
    // `docker stop`, and the whole group of the child gets it. (The child
    // still writes to the terminal: only reading from it is barred to a
    // background group, and its stdin is /dev/null.) Unix only: on Windows
    // the child shares the console, and its job object ends it with us.
    #[cfg(unix)]
    command.process_group(0);
    // Tracked: on shutdown the runtime forwards the signal to it, waits for
    // it within the budget, then SIGKILLs and reaps whatever is left.
    let mut server = cleanup::spawn(&mut command)?;
    println!(
        "supervisor: http child pid {} on http://127.0.0.1:{port}/",
        server.id()
    );

    // Wait until the child answers, or ends, or a signal comes.
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let give_up = Instant::now() + Duration::from_secs(10);
    while !answers(addr) {
        if let Some(status) = server.try_wait()? {
            return Err(io::Error::other(format!(
                "the http child ended before serving: {status}"
            )));
        }
        if Instant::now() > give_up {
            return Err(io::Error::other("the http child did not answer within 10s"));
        }
        cleanup::sleep(Duration::from_millis(25))?;
    }
    println!(
        "supervisor ready (pid {}): Ctrl-C stops the server and finishes the build",
        std::process::id()
    );

    for round in 1.. {
        // Do not start a new build once shutting down.
        if let Err(shutdown) = cleanup::checkpoint() {
            if let Some(reason) = cleanup::reason() {
                println!("supervisor: {reason}; build done, returning");
            }
            return Err(shutdown.into());
        }
        if let Some(status) = server.try_wait()? {
            return Err(io::Error::other(format!("the http child ended: {status}")));
        }
        build(round, steps, step_time);
        // Between builds, a signal ends the wait at once.
        let _ = cleanup::sleep(step_time);
    }
    Ok(())
}

/// One build: a critical section that a signal does not cut in half.
fn build(round: u32, steps: u64, step_time: Duration) {
    let _shield = cleanup::shield();
    let mut told = false;
    for step in 1..=steps {
        println!("build {round}: step {step}/{steps}");
        thread::sleep(step_time);
        // Inside the shield `checkpoint()` says Ok, but the truth is known.
        if cleanup::is_shutting_down() && !told && step < steps {
            println!("build {round}: shutdown requested, finishing the build first");
            told = true;
        }
    }
    println!("build {round}: done");
}

/// Whether `GET /` at `addr` gets a `200 OK`.
fn answers(addr: SocketAddr) -> bool {
    let get = || -> io::Result<bool> {
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        write!(
            stream,
            "GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response)?;
        Ok(response.starts_with(b"HTTP/1.1 200 OK\r\n"))
    };
    get().unwrap_or(false)
}

// ---------------------------------------------------------------------------
// The HTTP child
// ---------------------------------------------------------------------------

/// How often the accept loop looks for a new connection.
const POLL: Duration = Duration::from_millis(20);

fn serve(port: u16) -> io::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    // Non-blocking, so that the loop can wait in `cleanup::sleep`, which ends
    // as soon as the forwarded signal arrives.
    listener.set_nonblocking(true)?;
    println!("http: listening on 127.0.0.1:{port}");

    let mut in_flight: Vec<JoinHandle<()>> = Vec::new();
    let shutdown = loop {
        match listener.accept() {
            Ok((stream, _)) => in_flight.push(thread::spawn(move || {
                if let Err(err) = respond(stream) {
                    eprintln!("http: request failed: {err}");
                }
            })),
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                if let Err(shutdown) = cleanup::sleep(POLL) {
                    break shutdown;
                }
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
        in_flight.retain(|request| !request.is_finished());
    };

    // Stop accepting (connections not yet accepted are refused), then let
    // the requests in flight finish.
    drop(listener);
    for request in in_flight {
        let _ = request.join();
    }
    println!("http: stopped accepting, drained");
    // `Err(Shutdown)`: the runtime sees a shutdown done as asked, and the
    // process dies by the signal the supervisor forwarded.
    Err(shutdown.into())
}

/// Answers one request: `GET /` gets `200 OK` and a line of text.
fn respond(mut stream: TcpStream) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut request = Vec::new();
    let mut chunk = [0; 1024];
    while !request.windows(4).any(|end| end == b"\r\n\r\n") && request.len() < 16 * 1024 {
        let read = stream.read(&mut chunk)?;
        if read == 0 {
            break;
        }
        request.extend_from_slice(&chunk[..read]);
    }
    let (status, body) = if request.starts_with(b"GET / ") {
        (
            "200 OK",
            format!("hello from the http child (pid {})\n", std::process::id()),
        )
    } else {
        ("404 Not Found", "not found\n".to_owned())
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}
