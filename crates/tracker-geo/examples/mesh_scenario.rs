//! The mesh-delivery scenario at scale: 2,000 viewers of one live stream over 12 cities
//! and 36 ISPs, 15% churn (half leave silently), upload capacities from 0.5 to 10x the
//! bitrate. Prints CDN offload, rebuffering ratio and startup delay, then the trade-off
//! as the buffer threshold changes.
//!
//! `cargo run --release -p tracker-geo --example mesh_scenario [viewers] [seconds] [thresholds,ms] [start_behind]`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::disallowed_methods)]

#[path = "../tests/support/scenario.rs"]
mod scenario;

use scenario::{ScenarioConfig, ScenarioReport, run};
use tracker_geo::ClientConfig;

fn row(label: &str, r: &ScenarioReport, secs: f64) {
    println!(
        "| {label} | {:.1}% | {:.3}% | {} | {:.0} | {} | {} | {:.1} |",
        r.offload * 100.0,
        r.rebuffering_ratio * 100.0,
        r.stalls,
        r.startup_mean_ms,
        r.startup_p95_ms,
        r.started,
        secs
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let viewers = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(2000);
    let secs: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(120);
    let mut base = ScenarioConfig { viewers, duration_ms: secs * 1000, ..ScenarioConfig::default() };
    if let Some(behind) = args.get(4).and_then(|s| s.parse().ok()) {
        base.client.start_behind = behind;
    }
    println!(
        "viewers={viewers} duration={secs}s churn={} seed={} start_behind={} segments",
        base.churn, base.seed, base.client.start_behind
    );
    println!(
        "| buffer threshold | CDN offload | rebuffering | stalls | startup mean ms | startup p95 ms | viewers started | wall s |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let thresholds: Vec<u64> = args
        .get(3)
        .map(|s| s.split(',').filter_map(|t| t.parse().ok()).collect())
        .unwrap_or_else(|| vec![1000, 2000, 3000, 4000, 5000]);
    for threshold in thresholds {
        let cfg = ScenarioConfig {
            client: ClientConfig { buffer_threshold_ms: threshold, ..base.client },
            ..base.clone()
        };
        let t0 = std::time::Instant::now();
        let r = run(&cfg);
        let label = if threshold == base.client.buffer_threshold_ms {
            format!("**{threshold} ms (default)**")
        } else {
            format!("{threshold} ms")
        };
        row(&label, &r, t0.elapsed().as_secs_f64());
        if threshold == base.client.buffer_threshold_ms {
            eprintln!("default run: {r:?}");
        }
    }
}
