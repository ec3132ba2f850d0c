//! The mesh-delivery scenario at scale (see `tests/support/scenario.rs` for the
//! presets): 2,000 viewers over 12 cities and 36 ISPs. Prints CDN offload, rebuffering
//! ratio and startup delay for each preset, then the trade-off as the buffer threshold
//! changes.
//!
//! `cargo run --release -p tracker-geo --example mesh_scenario [presets] [viewers] [seconds] [thresholds,ms]`
//!
//! `presets` is a comma-separated list of `fair` (the default), `harsh` and `generous`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::disallowed_methods)]

#[path = "../tests/support/scenario.rs"]
mod scenario;

use scenario::{ScenarioConfig, ScenarioReport, run};
use tracker_geo::ClientConfig;

fn row(label: &str, r: &ScenarioReport, secs: f64) {
    println!(
        "| {} | {label} | {:.1}% | {:.3}% | {} | {:.0} | {} | {} | {} | {:.1} |",
        r.label,
        r.offload * 100.0,
        r.rebuffering_ratio * 100.0,
        r.stalls,
        r.startup_mean_ms,
        r.startup_p95_ms,
        r.started,
        r.cdn_max_queue_ms,
        secs
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let presets: Vec<String> =
        args.get(1).map_or_else(|| vec!["fair".to_string()], |s| s.split(',').map(str::to_string).collect());
    let viewers = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(2000);
    let secs: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(120);
    let thresholds: Option<Vec<u64>> =
        args.get(4).map(|s| s.split(',').filter_map(|t| t.parse().ok()).collect());
    println!("viewers={viewers} duration={secs}s seed=1");
    println!(
        "| scenario | buffer threshold | CDN offload | rebuffering | stalls | startup mean ms | startup p95 ms | sessions started | CDN max queue ms | wall s |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for name in presets {
        let base = ScenarioConfig {
            viewers,
            duration_ms: secs * 1000,
            ..ScenarioConfig::preset(&name).unwrap_or_else(|| panic!("unknown preset {name}"))
        };
        let list = thresholds.clone().unwrap_or_else(|| vec![base.client.buffer_threshold_ms]);
        for threshold in list {
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
            eprintln!("{r:?}");
        }
    }
}
