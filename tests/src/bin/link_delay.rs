//! Propagation delay for the emulated village link (tests/e2e/link.mjs):
//! holds every packet the kernel queues to NFQUEUE `--queue` for
//! `--delay-ms`, then lets it go, in order. The kernel here has no netem
//! qdisc, and nftables lacks its queue expression, so the link's namespace
//! sends its packets here through an iptables `NFQUEUE` rule (with
//! `--queue-bypass`, so that without this program they pass undelayed).
//! Runs inside the namespace until killed; prints `ready` once bound.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use clap::Parser;
use nfq::{Queue, Verdict};

#[derive(Parser)]
struct Args {
    /// The NFQUEUE number the iptables rules send packets to.
    #[arg(long, default_value_t = 0)]
    queue: u16,
    /// How long each packet is held.
    #[arg(long)]
    delay_ms: u64,
}

/// Packets held at most (beyond this the kernel drops: a full village router).
const HELD_AT_MOST: u32 = 8192;
/// How long to sleep when nothing is due and nothing arrives.
const IDLE: Duration = Duration::from_micros(500);

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let delay = Duration::from_millis(args.delay_ms);
    let mut queue = Queue::open()?;
    queue.bind(args.queue)?;
    queue.set_queue_max_len(args.queue, HELD_AT_MOST)?;
    // Only the verdict is needed, never the packet's bytes.
    queue.set_copy_range(args.queue, 0)?;
    queue.set_nonblocking(true);
    println!("ready");
    let mut held = VecDeque::new();
    loop {
        let mut busy = false;
        match queue.recv() {
            Ok(message) => {
                held.push_back((Instant::now() + delay, message));
                busy = true;
            }
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
            // The kernel's answer to a verdict it could not apply arrives
            // here; the packet is gone either way.
            Err(error) => eprintln!("link_delay: {error}"),
        }
        let now = Instant::now();
        while held.front().is_some_and(|(due, _)| *due <= now) {
            let (_, mut message) = held.pop_front().expect("front checked");
            message.set_verdict(Verdict::Accept);
            if let Err(error) = queue.verdict(message) {
                // A packet the kernel no longer holds (it gave up on it) is gone either way.
                eprintln!("link_delay: a verdict failed: {error}");
            }
            busy = true;
        }
        if !busy {
            std::thread::sleep(IDLE);
        }
    }
}
