//! coap-load: a closed-loop CoAP load generator for loopback benchmarks.
//!
//! Every client is a thread with its own UDP socket (so the server sees one
//! endpoint per client). Each keeps `--inflight` confirmable GETs outstanding;
//! a response is matched by Message ID and token, parsed with the engine's own
//! codec (`mpcoap::codec`) and its code checked. Lost requests are retransmitted
//! after `--timeout-ms` (doubling) up to `--retries` times, then counted as
//! timeouts. The report ends with one `RESULT {json}` line for scripts.

mod wire;

use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

const USAGE: &str = "\
usage: coap-load --port PORT [options]
  --host ADDR         server address (default 127.0.0.1)
  --port PORT         server port (required)
  --path PATH         Uri-Path of the GET, e.g. /bench (default /)
  --clients N         clients, each its own socket and thread (default 8)
  --inflight N        requests outstanding per client (default 1)
  --requests N        total measured requests (default 100000)
  --duration SECS     measure for SECS seconds instead of a request count
  --warmup N          unmeasured requests per client first (default 200)
  --timeout-ms MS     first retransmission timeout (default 1000)
  --retries N         retransmissions before a request counts as timed out (default 0)
  --expect C.DD       expected response code (default 2.05)
  --payload-len N     also require a payload of exactly N bytes
  --label TEXT        name put into the RESULT line (default: host:port)
";

/// A new socket (new source port) before the 16-bit Message ID space wraps,
/// so no server takes a new request for a duplicate of one it still remembers.
const MIDS_PER_SOCKET: u32 = 60_000;

#[derive(Clone)]
struct Config {
    server: SocketAddr,
    path: String,
    clients: usize,
    inflight: usize,
    requests: Option<u64>,
    duration: Option<Duration>,
    warmup: u64,
    timeout: Duration,
    retries: u32,
    expect: u8,
    payload_len: Option<usize>,
    label: String,
}

fn parse_args() -> Result<Config, String> {
    let mut host = "127.0.0.1".to_string();
    let mut port: Option<u16> = None;
    let mut cfg = Config {
        server: "127.0.0.1:5683".parse().map_err(|e| format!("{e}"))?,
        path: "/".into(),
        clients: 8,
        inflight: 1,
        requests: None,
        duration: None,
        warmup: 200,
        timeout: Duration::from_millis(1000),
        retries: 0,
        expect: 0x45,
        payload_len: None,
        label: String::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            return Err(String::new());
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let num = |v: &str| v.parse::<u64>().map_err(|_| format!("{flag}: not a number: {v}"));
        match flag.as_str() {
            "--host" => host = value,
            "--port" => port = Some(num(&value)?.try_into().map_err(|_| "--port: out of range")?),
            "--path" => cfg.path = value,
            "--clients" => cfg.clients = num(&value)?.max(1) as usize,
            "--inflight" => cfg.inflight = num(&value)?.max(1) as usize,
            "--requests" => cfg.requests = Some(num(&value)?),
            "--duration" => {
                let s: f64 = value.parse().map_err(|_| format!("--duration: not a number: {value}"))?;
                cfg.duration = Some(Duration::from_secs_f64(s));
            }
            "--warmup" => cfg.warmup = num(&value)?,
            "--timeout-ms" => cfg.timeout = Duration::from_millis(num(&value)?.max(1)),
            "--retries" => cfg.retries = num(&value)? as u32,
            "--expect" => cfg.expect = parse_code(&value)?,
            "--payload-len" => cfg.payload_len = Some(num(&value)? as usize),
            "--label" => cfg.label = value,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    let port = port.ok_or("--port is required")?;
    cfg.server = format!("{host}:{port}").parse().map_err(|e| format!("--host: {e}"))?;
    if cfg.requests.is_none() && cfg.duration.is_none() {
        cfg.requests = Some(100_000);
    }
    if cfg.label.is_empty() {
        cfg.label = cfg.server.to_string();
    }
    Ok(cfg)
}

/// "2.05" -> 0x45.
fn parse_code(s: &str) -> Result<u8, String> {
    let (class, detail) = s.split_once('.').ok_or_else(|| format!("bad code {s}"))?;
    let class: u8 = class.parse().map_err(|_| format!("bad code {s}"))?;
    let detail: u8 = detail.parse().map_err(|_| format!("bad code {s}"))?;
    if class > 7 || detail > 31 {
        return Err(format!("bad code {s}"));
    }
    Ok(class << 5 | detail)
}

/// What one client counted.
#[derive(Default)]
struct Tally {
    ok: u64,
    /// Wrong code, wrong type, RST, unparsable or wrong payload length.
    errors: u64,
    timeouts: u64,
    retransmissions: u64,
    /// Responses that matched nothing outstanding (late duplicates).
    strays: u64,
    /// Latency of each measured, successful request, in microseconds.
    latencies_us: Vec<u32>,
    first_error: Option<String>,
}

struct Slot {
    mid: u16,
    token: [u8; 4],
    len: usize,
    datagram: [u8; 64],
    first_sent: Instant,
    deadline: Instant,
    attempts: u32,
    measured: bool,
}

/// Shared budget of measured requests and the stop flag for duration runs.
struct Shared {
    budget: AtomicI64,
    stop: AtomicBool,
}

impl Shared {
    fn take(&self, counted: bool) -> bool {
        if self.stop.load(Ordering::Relaxed) {
            return false;
        }
        !counted || self.budget.fetch_sub(1, Ordering::Relaxed) > 0
    }
}

fn new_socket(server: SocketAddr) -> std::io::Result<UdpSocket> {
    let bind = if server.is_ipv4() { "127.0.0.1:0" } else { "[::1]:0" };
    let sock = UdpSocket::bind(bind)?;
    sock.connect(server)?;
    Ok(sock)
}

fn run_client(id: usize, cfg: &Config, shared: &Shared, barrier: &Barrier) -> Result<Tally, String> {
    let mut tally = Tally::default();
    let mut sock = new_socket(cfg.server).map_err(|e| format!("socket: {e}"))?;
    let mut mids_on_socket = 0u32;
    // Different clients start in different parts of the MID/token space.
    let mut mid: u16 = (id as u16).wrapping_mul(7919).wrapping_add(1);
    let mut counter: u32 = (id as u32) << 24;
    let mut slots: Vec<Slot> = Vec::with_capacity(cfg.inflight);
    let mut rx = [0u8; 2048];
    let mut warmup_left = cfg.warmup;
    let mut measuring = false;
    let mut draining = false;

    loop {
        // A duration run ends at the stop flag: what is still in flight is
        // neither a success nor a timeout, and waiting for it would stretch
        // the measured interval.
        if measuring && cfg.duration.is_some() && shared.stop.load(Ordering::Relaxed) {
            break;
        }
        if !measuring && warmup_left == 0 && slots.is_empty() {
            barrier.wait();
            measuring = true;
        }
        // Fill the window.
        while !draining && slots.len() < cfg.inflight {
            let counted = warmup_left == 0;
            if counted && !measuring {
                break; // wait for the warm-up to drain and the others to finish theirs
            }
            if !shared.take(counted) {
                draining = true;
                break;
            }
            if mids_on_socket >= MIDS_PER_SOCKET {
                break; // drain, then switch sockets
            }
            mid = mid.wrapping_add(1);
            counter = counter.wrapping_add(1);
            mids_on_socket += 1;
            let token = counter.to_be_bytes();
            let mut datagram = [0u8; 64];
            let len = wire::build_get(&mut datagram, mid, &token, &cfg.path)?;
            let now = Instant::now();
            send(&sock, &datagram[..len])?;
            slots.push(Slot {
                mid,
                token,
                len,
                datagram,
                first_sent: now,
                deadline: now + cfg.timeout,
                attempts: 1,
                measured: counted,
            });
            if !counted {
                warmup_left -= 1;
            }
        }
        if slots.is_empty() {
            if draining || shared.stop.load(Ordering::Relaxed) {
                break;
            }
            if mids_on_socket >= MIDS_PER_SOCKET {
                sock = new_socket(cfg.server).map_err(|e| format!("socket: {e}"))?;
                mids_on_socket = 0;
            }
            continue;
        }
        // Wait for a response or the earliest deadline.
        let now = Instant::now();
        let next = slots.iter().map(|s| s.deadline).min().unwrap_or(now);
        let wait = next.saturating_duration_since(now).max(Duration::from_micros(100));
        sock.set_read_timeout(Some(wait)).map_err(|e| format!("set_read_timeout: {e}"))?;
        match sock.recv(&mut rx) {
            Ok(n) => {
                let at = Instant::now();
                let data = &rx[..n];
                let Some(mid_rx) = wire::mid_of(data) else {
                    tally.errors += 1;
                    note(&mut tally, format!("unparsable {n}-byte datagram"));
                    continue;
                };
                let Some(pos) = slots.iter().position(|s| s.mid == mid_rx) else {
                    tally.strays += 1;
                    continue;
                };
                let slot = slots.swap_remove(pos);
                match wire::check_response(data, slot.mid, &slot.token, cfg.expect, cfg.payload_len) {
                    Ok(()) => {
                        if slot.measured {
                            tally.ok += 1;
                            let us = at.duration_since(slot.first_sent).as_micros();
                            tally.latencies_us.push(us.min(u32::MAX as u128) as u32);
                        }
                    }
                    Err(why) => {
                        if slot.measured {
                            tally.errors += 1;
                        }
                        note(&mut tally, why);
                    }
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
                // ICMP port unreachable: the server is not there (yet/any more).
                if measuring {
                    tally.errors += 1;
                }
                note(&mut tally, "connection refused".into());
                thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(format!("recv: {e}")),
        }
        // Retransmit or give up on whatever is due.
        let now = Instant::now();
        let mut i = 0;
        while i < slots.len() {
            let Some(slot) = slots.get_mut(i) else { break };
            if slot.deadline > now {
                i += 1;
                continue;
            }
            if slot.attempts <= cfg.retries {
                slot.attempts += 1;
                slot.deadline = now + cfg.timeout * (1 << (slot.attempts - 1).min(16));
                tally.retransmissions += 1;
                send(&sock, &slot.datagram[..slot.len])?;
                i += 1;
            } else {
                if slot.measured {
                    tally.timeouts += 1;
                }
                slots.swap_remove(i);
            }
        }
    }
    Ok(tally)
}

fn send(sock: &UdpSocket, datagram: &[u8]) -> Result<(), String> {
    match sock.send(datagram) {
        Ok(_) => Ok(()),
        // An earlier datagram drew ICMP unreachable; the retry logic copes.
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => Ok(()),
        Err(e) => Err(format!("send: {e}")),
    }
}

fn note(tally: &mut Tally, why: String) {
    if tally.first_error.is_none() {
        tally.first_error = Some(why);
    }
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.saturating_sub(1).min(sorted.len() - 1)).copied().unwrap_or(0)
}

fn main() -> ExitCode {
    let cfg = match parse_args() {
        Ok(c) => c,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("coap-load: {e}");
            }
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let shared = Arc::new(Shared {
        budget: AtomicI64::new(cfg.requests.unwrap_or(i64::MAX as u64) as i64),
        stop: AtomicBool::new(false),
    });
    // Clients plus this thread, which starts the clock once all warmed up.
    let barrier = Arc::new(Barrier::new(cfg.clients + 1));
    let mut handles = Vec::new();
    for id in 0..cfg.clients {
        let (cfg, shared, barrier) = (cfg.clone(), shared.clone(), barrier.clone());
        handles.push(thread::spawn(move || {
            let r = run_client(id, &cfg, &shared, &barrier);
            if r.is_err() {
                // Do not leave the others waiting at the barrier forever.
                shared.stop.store(true, Ordering::Relaxed);
            }
            r
        }));
    }
    barrier.wait();
    let start = Instant::now();
    let mut stopped_at = None;
    if let Some(d) = cfg.duration {
        thread::sleep(d);
        shared.stop.store(true, Ordering::Relaxed);
        stopped_at = Some(start.elapsed());
    }
    let mut total = Tally::default();
    let mut failure = None;
    for h in handles {
        match h.join() {
            Ok(Ok(t)) => {
                total.ok += t.ok;
                total.errors += t.errors;
                total.timeouts += t.timeouts;
                total.retransmissions += t.retransmissions;
                total.strays += t.strays;
                total.latencies_us.extend(t.latencies_us);
                if total.first_error.is_none() {
                    total.first_error = t.first_error;
                }
            }
            Ok(Err(e)) => failure = Some(e),
            Err(_) => failure = Some("client thread panicked".into()),
        }
    }
    // A duration run's interval ends at the stop flag; the few responses a
    // client takes before it sees the flag (at most its window) are noise.
    let elapsed = stopped_at.unwrap_or_else(|| start.elapsed()).as_secs_f64();
    if let Some(e) = failure {
        eprintln!("coap-load: {e}");
        return ExitCode::from(1);
    }
    total.latencies_us.sort_unstable();
    let lat = &total.latencies_us;
    let (p50, p99, max) = (percentile(lat, 50.0), percentile(lat, 99.0), lat.last().copied().unwrap_or(0));
    let rps = total.ok as f64 / elapsed.max(1e-9);
    println!(
        "{}: {} clients x {} in flight, GET {}: {} ok, {} errors, {} timeouts, {} retransmissions, {} strays in {:.3} s",
        cfg.label, cfg.clients, cfg.inflight, cfg.path, total.ok, total.errors, total.timeouts,
        total.retransmissions, total.strays, elapsed
    );
    println!("  {rps:.0} req/s, latency p50 {p50} us, p99 {p99} us, max {max} us");
    if let Some(e) = &total.first_error {
        println!("  first error: {e}");
    }
    println!(
        "RESULT {{\"label\":\"{}\",\"clients\":{},\"inflight\":{},\"path\":\"{}\",\"ok\":{},\"errors\":{},\"timeouts\":{},\"retransmissions\":{},\"strays\":{},\"elapsed_s\":{:.3},\"rps\":{:.1},\"p50_us\":{},\"p99_us\":{},\"max_us\":{}}}",
        json_escape(&cfg.label), cfg.clients, cfg.inflight, json_escape(&cfg.path), total.ok, total.errors,
        total.timeouts, total.retransmissions, total.strays, elapsed, rps, p50, p99, max
    );
    if total.ok == 0 || total.errors > 0 {
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

fn json_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}
