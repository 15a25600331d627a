//! The long fuzzing run for docs/benchmarks.md: ten million executions in
//! all over the targets of tests/src/fuzz.rs (the share of each set by how
//! costly it is), with the crashes found and the rate.
//!
//! Run: `cargo run --release -p mediation-tests --bin fuzz_long [total]`.

use std::time::Instant;

use mediation_tests::fuzz::{self, Target};

fn main() {
    let total: u64 = std::env::args().nth(1).and_then(|value| value.parse().ok()).unwrap_or(10_000_000);
    std::panic::set_hook(Box::new(|_| {}));
    println!("| target | executions | crashes | executions/s |");
    println!("|---|---|---|---|");
    let shares = [
        (Target::SignalingMessage, 40),
        (Target::SessionDescription, 10),
        (Target::Candidate, 25),
        (Target::RtpPayload, 25),
    ];
    let mut all_crashes = 0;
    for (index, (target, share)) in shares.into_iter().enumerate() {
        let executions = total * share / 100;
        let started = Instant::now();
        let (crashes, inputs) = fuzz::run(target, 0x10_000 + index as u64, executions);
        let rate = executions as f64 / started.elapsed().as_secs_f64();
        println!("| {} | {executions} | {crashes} | {rate:.0} |", target.name());
        for input in inputs {
            eprintln!("crash in {}: {:?}", target.name(), String::from_utf8_lossy(&input));
        }
        all_crashes += crashes;
    }
    println!("\n{total} executions, {all_crashes} crashes");
    if all_crashes > 0 {
        std::process::exit(1);
    }
}
