//! The market scenario (issue 14): one broadcaster, N orchestrators on `netsim`, a
//! fraction failing mid-stream, real tickets and verification.
//!
//! ```text
//! cargo run --release -p orchestration --example market -- --orchestrators 20 \
//!     --segments 1000 --fail-rate 0.3 --seed 1 --json [--kind transcode|compute] \
//!     [--verify-rate R] [--selector multiplicative|additive] [--fail-pick random|cheapest]
//! ```
//!
//! The last line is one JSON object: `segments`, `delivered`, `max_attempts`,
//! `paid_twice`, `paid_for_failed`, `cost_ratio`, `failed_still_used`,
//! `tampered_accepted`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

#[path = "market/scenario.rs"]
mod scenario;

use scenario::{FailPick, Kind, Params, SelectorKind};

fn main() {
    let mut p = Params::default();
    let mut json = false;
    let mut args = std::env::args().skip(1);
    let fail = |msg: String| -> ! {
        eprintln!("market: {msg}");
        std::process::exit(2)
    };
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| fail(format!("{a} needs a value")));
        match a.as_str() {
            "--orchestrators" => p.orchestrators = value().parse().unwrap_or_else(|e| fail(format!("{e}"))),
            "--segments" => p.segments = value().parse().unwrap_or_else(|e| fail(format!("{e}"))),
            "--fail-rate" => p.fail_rate = value().parse().unwrap_or_else(|e| fail(format!("{e}"))),
            "--seed" => p.seed = value().parse().unwrap_or_else(|e| fail(format!("{e}"))),
            "--verify-rate" => p.verify_rate = value().parse().unwrap_or_else(|e| fail(format!("{e}"))),
            "--kind" => {
                p.kind = match value().as_str() {
                    "transcode" => Kind::Transcode,
                    "compute" => Kind::Compute,
                    k => fail(format!("unknown kind {k}")),
                }
            }
            "--selector" => {
                p.selector = match value().as_str() {
                    "multiplicative" => SelectorKind::Multiplicative,
                    "additive" => SelectorKind::Additive,
                    k => fail(format!("unknown selector {k}")),
                }
            }
            "--fail-pick" => {
                p.fail_pick = match value().as_str() {
                    "random" => FailPick::Random,
                    "cheapest" => FailPick::Cheapest,
                    k => fail(format!("unknown fail pick {k}")),
                }
            }
            "--json" => json = true,
            other => fail(format!("unknown argument {other}")),
        }
    }
    if p.orchestrators == 0 || p.orchestrators > 200 || !(0.0..=1.0).contains(&p.fail_rate) {
        fail("need 1..=200 orchestrators and a fail rate in [0, 1]".into());
    }
    let r = scenario::run(&p).unwrap_or_else(|e| fail(e));
    if !json {
        println!("{r:#?}");
    } else {
        println!(
            "lost {} suspended {} failures_hit {} tickets {} winning_tickets {} per_orchestrator {:?}",
            r.lost, r.suspended, r.failures_hit, r.tickets, r.winning_tickets, r.per_orchestrator
        );
    }
    println!("{}", r.json());
}
