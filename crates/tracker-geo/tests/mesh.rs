//! A small mesh scenario on `netsim` (the 2,000-viewer run is
//! `cargo run --release -p tracker-geo --example mesh_scenario`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support {
    pub mod scenario;
}

use support::scenario::{ScenarioConfig, run};

fn small() -> ScenarioConfig {
    ScenarioConfig { viewers: 120, duration_ms: 60_000, join_window_ms: 10_000, ..ScenarioConfig::default() }
}

#[test]
fn small_mesh_offloads_the_cdn_without_rebuffering() {
    let r = run(&small());
    println!("{r:#?}");
    assert!(r.started >= r.viewers * 9 / 10, "most viewers start playing: {}", r.started);
    assert!(r.offload >= 0.7, "offload {:.3}", r.offload);
    assert!(r.rebuffering_ratio <= 0.02, "rebuffering {:.4}", r.rebuffering_ratio);
    // Every byte a viewer got from the CDN was served by the CDN (no phantom bytes).
    assert!(r.bytes_from_cdn <= r.cdn_bytes_served);
}

#[test]
fn same_seed_same_run() {
    let cfg = ScenarioConfig { viewers: 40, duration_ms: 25_000, ..small() };
    let (a, b) = (run(&cfg), run(&cfg));
    assert_eq!(a.trace_hash, b.trace_hash);
    assert_eq!(
        (a.bytes_from_peers, a.bytes_from_cdn, a.stalls),
        (b.bytes_from_peers, b.bytes_from_cdn, b.stalls)
    );
    let c = run(&ScenarioConfig { seed: 2, ..cfg });
    assert_ne!(a.trace_hash, c.trace_hash);
}
