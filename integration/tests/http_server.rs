//! examples/http_server under real load and real signals: SIGTERM in the
//! middle of a stream of requests, and a request slower than the budget.
//!
//! "Accepted" is what the server started to handle: it reports `served F of
//! S requests` at exit (F finished of S started). A request the server never
//! started (a connection still in the listen queue when it stopped accepting)
//! may fail; one it started must get its whole response.

#![cfg(feature = "tokio")]

#[path = "../../tests/common/mod.rs"]
mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::*;

/// What the client threads saw.
#[derive(Default)]
struct Load {
    sent: AtomicU64,
    ok: AtomicU64,
    failed: AtomicU64,
    refused: AtomicU64,
}

/// One request on its own connection: `Some(true)` for a whole 200 response,
/// `Some(false)` for a connection that broke, `None` when refused.
fn request(addr: SocketAddr, path: &str, load: &Load) -> Option<bool> {
    let mut stream = match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
        Ok(stream) => stream,
        Err(_) => {
            load.refused.fetch_add(1, Ordering::SeqCst);
            return None;
        }
    };
    load.sent.fetch_add(1, Ordering::SeqCst);
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("set a read timeout");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let mut response = Vec::new();
    let whole = stream.write_all(request.as_bytes()).is_ok()
        && stream.read_to_end(&mut response).is_ok()
        && response.starts_with(b"HTTP/1.1 200")
        && response.ends_with(b"done\n");
    let counter = if whole { &load.ok } else { &load.failed };
    counter.fetch_add(1, Ordering::SeqCst);
    Some(whole)
}

fn start_server() -> (Running, SocketAddr) {
    start_server_with(Spawn::example("http_server"))
}

fn start_server_with(spawn: Spawn) -> (Running, SocketAddr) {
    let mut server = spawn
        .arg("--port")
        .arg("0")
        .env("CLEANUP_TIMEOUT", "5s")
        .start();
    let line = server.wait_stdout_starting("listening on http://");
    let addr = line["listening on http://".len()..]
        .parse()
        .expect("the address the server printed");
    (server, addr)
}

/// `served F of S requests` from the server's report.
fn served(ended: &Ended) -> (u64, u64) {
    let line = ended
        .stdout
        .iter()
        .find(|line| line.starts_with("served "))
        .unwrap_or_else(|| panic!("no `served …` report\n{ended}"));
    let numbers: Vec<u64> = line
        .split_whitespace()
        .filter_map(|word| word.parse().ok())
        .collect();
    (numbers[0], numbers[1])
}

#[test]
fn sigterm_under_load_finishes_every_accepted_request_and_dies_by_sigterm() {
    let (mut server, addr) = start_server();
    let load = Arc::new(Load::default());
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let (load, stop) = (Arc::clone(&load), Arc::clone(&stop));
            thread::spawn(move || {
                // Each request takes 20 ms in the server, so some are always
                // in flight when the signal comes.
                while !stop.load(Ordering::SeqCst) {
                    if request(addr, "/work/20", &load).is_none() {
                        return;
                    }
                }
            })
        })
        .collect();

    let warm_up = Instant::now() + WATCHDOG;
    while load.ok.load(Ordering::SeqCst) < 300 {
        assert!(
            Instant::now() < warm_up,
            "the server never answered 300 requests"
        );
        thread::sleep(Duration::from_millis(5));
    }
    let sent_before = load.sent.load(Ordering::SeqCst);
    server.signal(SIGTERM);
    let ended = server.finish();
    stop.store(true, Ordering::SeqCst);
    for client in clients {
        client.join().expect("a client thread panicked");
    }

    let (finished, started) = served(&ended);
    let (ok, failed) = (
        load.ok.load(Ordering::SeqCst),
        load.failed.load(Ordering::SeqCst),
    );
    eprintln!(
        "load: {} sent ({sent_before} before SIGTERM), {started} accepted by the server, \
         {finished} finished, {ok} whole responses, {failed} failed (never accepted), \
         exit {:?} after SIGTERM",
        load.sent.load(Ordering::SeqCst),
        ended.after_signal.unwrap()
    );
    ended
        .assert_killed_by(SIGTERM)
        .assert_once_in_order(&["server drained"])
        .assert_stderr_contains("shutdown: SIGTERM received")
        .assert_ended_within(Duration::from_secs(5) + MARGIN);
    assert_eq!(
        finished, started,
        "a request the server started was cut\n{ended}"
    );
    assert_eq!(
        ok, finished,
        "a finished request's response was lost\n{ended}"
    );
    assert!(started >= 300, "the load did not reach the server\n{ended}");
}

#[test]
fn a_request_slower_than_the_budget_is_cut_at_the_deadline_and_the_process_ends_on_time() {
    let (mut server, addr) = start_server();
    let load = Arc::new(Load::default());
    let slow = {
        let load = Arc::clone(&load);
        thread::spawn(move || request(addr, "/slow", &load))
    };
    server.wait_stdout("slow request started");
    assert_eq!(request(addr, "/", &load), Some(true));
    server.signal(SIGTERM);
    let ended = server.finish();
    assert_eq!(slow.join().expect("the slow client"), Some(false));
    ended
        .assert_killed_by(SIGTERM)
        .assert_absent(&["server drained"])
        .assert_stderr_contains("main's future did not finish in time and was dropped")
        .assert_ended_within(Duration::from_secs(5) + MARGIN);
    assert_eq!(
        served(&ended),
        (1, 2),
        "the quick one finished, the slow one was cut\n{ended}"
    );
}

/// The status code of `GET path`, or `None` when refused or broken.
fn status_of(addr: SocketAddr, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.get(9..12)?.parse().ok()
}

#[test]
fn during_the_drain_delay_every_request_is_served_and_readyz_says_503() {
    // Kubernetes sends SIGTERM while it removes the pod from its endpoints:
    // requests keep coming for a while. With a 2 s drain delay, none of them
    // may be refused.
    let (mut server, addr) =
        start_server_with(Spawn::example("http_server").env("CLEANUP_DRAIN_DELAY", "2"));
    assert_eq!(status_of(addr, "/readyz"), Some(200), "ready once bound");
    server.signal(SIGTERM);
    let signalled = Instant::now();
    let load = Load::default();
    let mut readyz = Vec::new();
    // The first 1.5 s of the 2 s delay, a request at a time.
    while signalled.elapsed() < Duration::from_millis(1500) {
        request(addr, "/", &load);
        readyz.push(status_of(addr, "/readyz"));
    }
    let ended = server.finish();
    ended
        .assert_killed_by(SIGTERM)
        .assert_ended_within(Duration::from_secs(5) + MARGIN);
    let (sent, ok) = (
        load.sent.load(Ordering::SeqCst),
        load.ok.load(Ordering::SeqCst),
    );
    eprintln!(
        "during the delay: {ok} of {sent} requests served, {} refused",
        load.refused.load(Ordering::SeqCst)
    );
    assert!(sent > 10, "too few requests to tell ({sent})\n{ended}");
    assert_eq!(
        load.refused.load(Ordering::SeqCst),
        0,
        "refused during the delay\n{ended}"
    );
    assert_eq!(ok, sent, "failed during the delay\n{ended}");
    assert!(
        readyz.iter().all(|status| *status == Some(503)),
        "/readyz during the delay: {readyz:?}\n{ended}"
    );
}
