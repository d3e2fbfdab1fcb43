//! The CPU time of one review, without TLS, HTTP or the network:
//! `webhook::review` on an AdmissionReview read from a file, in a loop;
//! then on the same review with `agent-inject` off (the cost of the pods
//! that ask for nothing). Five rounds each; the fastest round is printed,
//! in microseconds per review (the others are the machine's noise).
//! `bench/injector.sh` runs it on its typical pod.
//!
//!   cargo run --release -p arca-injector --example review_cost -- REVIEW.json [N]

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;
use std::time::Instant;

use arca_injector::settings::Settings;
use arca_injector::webhook::{Outcome, review};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Microseconds per review, the fastest of five rounds of `n`.
fn cost(body: &[u8], s: &Settings, n: u32) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..n {
            std::hint::black_box(review(std::hint::black_box(body), s));
        }
        best = best.min(t.elapsed().as_secs_f64() * 1e6 / f64::from(n));
    }
    best
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1) else {
        eprintln!("usage: review_cost REVIEW.json [N]");
        return ExitCode::from(2);
    };
    let n: u32 = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(20_000);
    let body = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let flags = ["-vault-address=https://arca.arca-system.svc:8200".to_owned()];
    let s = match arca_injector::settings::parse(&flags, |_| None) {
        Ok(Some(s)) => s,
        _ => {
            eprintln!("the settings did not parse");
            return ExitCode::FAILURE;
        }
    };
    if review(&body, &s).outcome != Outcome::Injected {
        eprintln!("{path}: not a review the injector answers with a patch");
        return ExitCode::FAILURE;
    }
    let plain = String::from_utf8_lossy(&body)
        .replace(r#"agent-inject": "true""#, r#"agent-inject": "false""#);
    if review(plain.as_bytes(), &s).outcome != Outcome::Unchanged {
        eprintln!(
            "{path}: could not turn agent-inject off (written as \"agent-inject\": \"true\"?)"
        );
        return ExitCode::FAILURE;
    }
    println!(
        "{:.1} {:.1}",
        cost(&body, &s, n),
        cost(plain.as_bytes(), &s, n)
    );
    ExitCode::SUCCESS
}
