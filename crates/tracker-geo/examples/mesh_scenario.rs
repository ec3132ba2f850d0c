//! The mesh-delivery scenario at scale (see `tests/support/scenario.rs` for the
//! presets): 2,000 viewers over 12 cities and 36 ISPs. Prints CDN offload, rebuffering
//! ratio and startup delay for each preset, then the trade-off as the buffer threshold
//! changes.
//!
//! `cargo run --release -p tracker-geo --example mesh_scenario [presets] [viewers] [seconds] [thresholds,ms]`
//!
//! `... --example mesh_scenario plot [viewers] [seconds] [PNG]` sweeps the buffer
//! threshold on the harsh and fair presets with the untuned player settings and the current ones,
//! prints the table and draws the offload / rebuffering trade-off (default
//! `docs/img/tracker-geo-tradeoff.png`).
//!
//! `presets` is a comma-separated list of `fair` (the default), `harsh` and `generous`.
//! Further `key=value` arguments override player settings for a sweep: `patience`,
//! `grace`, `inflight`, `per_peer`, `neighbours`, `backlog`, `guard`, `req_timeout`,
//! `cdn_timeout`, `seed_bias`, `startup`, `k`, `refresh`, `test`, `ntimeout`.
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

/// The player settings before issue 19's tuning: CDN retried after the 3 s request
/// timeout, no seeding by upload, 800 ms guard. (The feasibility check on neighbours and
/// the patience cap by live latency stay: they are code, not settings.)
fn untuned(c: ClientConfig) -> ClientConfig {
    ClientConfig { cdn_timeout_ms: c.request_timeout_ms, seed_bias: 0.0, cdn_guard_ms: 800, ..c }
}

/// (preset, policy, [(threshold ms, offload %, rebuffering %)]).
type Curve = (&'static str, &'static str, Vec<(u64, f64, f64)>);

fn plot_mode(args: &[String]) {
    use plotters::prelude::*;
    let viewers = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(2000);
    let secs: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(120);
    let path = args.get(4).cloned().unwrap_or_else(|| "docs/img/tracker-geo-tradeoff.png".into());
    let thresholds = [500u64, 1000, 1500, 2000, 2500, 3000];
    println!("viewers={viewers} duration={secs}s seed=1");
    println!("| scenario | policy | buffer threshold | CDN offload | rebuffering | stalls |");
    println!("|---|---|---|---|---|---|");
    let mut curves: Vec<Curve> = Vec::new();
    for preset in ["harsh", "fair"] {
        for policy in ["untuned", "issue 19"] {
            let mut pts = Vec::new();
            for &t in &thresholds {
                let base = ScenarioConfig::preset(preset).unwrap();
                let client = ClientConfig { buffer_threshold_ms: t, ..base.client };
                let client = if policy == "untuned" { untuned(client) } else { client };
                let cfg = ScenarioConfig { viewers, duration_ms: secs * 1000, client, ..base };
                let r = run(&cfg);
                println!(
                    "| {preset} | {policy} | {t} ms | {:.1}% | {:.3}% | {} |",
                    r.offload * 100.0,
                    r.rebuffering_ratio * 100.0,
                    r.stalls
                );
                pts.push((t, r.offload * 100.0, r.rebuffering_ratio * 100.0));
            }
            curves.push((preset, policy, pts));
        }
    }
    let root = BitMapBackend::new(&path, (1000, 440)).into_drawing_area();
    root.fill(&WHITE).unwrap();
    let (left, right) = root.split_horizontally(500);
    for (area, preset) in [(&left, "harsh"), (&right, "fair")] {
        let mine: Vec<_> = curves.iter().filter(|c| c.0 == preset).collect();
        let xmax = mine.iter().flat_map(|c| c.2.iter().map(|p| p.2)).fold(0.5f64, f64::max) * 1.15;
        let mut chart = ChartBuilder::on(area)
            .caption(
                format!("{preset}: offload vs rebuffering ({viewers} viewers, {secs} s)"),
                ("sans-serif", 16),
            )
            .margin(12)
            .x_label_area_size(38)
            .y_label_area_size(45)
            .build_cartesian_2d(0.0..xmax, 0.0..100.0)
            .unwrap();
        chart.configure_mesh().x_desc("rebuffering ratio (%)").y_desc("CDN offload (%)").draw().unwrap();
        // The target: >= 60% offload at <= 0.5% rebuffering.
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(0.0, 60.0), (0.5f64.min(xmax), 100.0)],
                GREEN.mix(0.12).filled(),
            )))
            .unwrap()
            .label("target (>= 60%, <= 0.5%)")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 15, y + 5)], GREEN.mix(0.3).filled()));
        for (i, c) in mine.iter().enumerate() {
            let color = if i == 0 { RED } else { BLUE };
            let pts: Vec<(f64, f64)> = c.2.iter().map(|p| (p.2, p.1)).collect();
            chart
                .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
                .unwrap()
                .label(format!("{} policy (threshold 0.5-3 s)", c.1))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 15, y)], color));
            chart.draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled()))).unwrap();
            chart
                .draw_series(c.2.iter().map(|p| {
                    Text::new(format!("{:.1}s", p.0 as f64 / 1000.0), (p.2, p.1 + 2.5), ("sans-serif", 11))
                }))
                .unwrap();
        }
        chart.configure_series_labels().background_style(WHITE.mix(0.85)).border_style(BLACK).draw().unwrap();
    }
    root.present().unwrap();
    println!("wrote {path}");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("plot") {
        plot_mode(&args);
        return;
    }
    let presets: Vec<String> =
        args.get(1).map_or_else(|| vec!["fair".to_string()], |s| s.split(',').map(str::to_string).collect());
    let viewers = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(2000);
    let secs: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(120);
    let thresholds: Option<Vec<u64>> = args
        .get(4)
        .filter(|s| !s.contains('='))
        .map(|s| s.split(',').filter_map(|t| t.parse().ok()).collect());
    let overrides: Vec<(String, f64)> = args
        .iter()
        .skip(4)
        .filter_map(|a| a.split_once('='))
        .map(|(k, v)| (k.to_string(), v.parse().unwrap_or_else(|_| panic!("bad value in {k}={v}"))))
        .collect();
    if !overrides.is_empty() {
        println!("overrides: {overrides:?}");
    }
    println!("viewers={viewers} duration={secs}s seed=1");
    println!(
        "| scenario | buffer threshold | CDN offload | rebuffering | stalls | startup mean ms | startup p95 ms | sessions started | CDN max queue ms | wall s |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for name in presets {
        let mut base = ScenarioConfig {
            viewers,
            duration_ms: secs * 1000,
            ..ScenarioConfig::preset(&name).unwrap_or_else(|| panic!("unknown preset {name}"))
        };
        for (k, v) in &overrides {
            let c = &mut base.client;
            let u = *v as u64;
            match k.as_str() {
                "patience" => c.cdn_patience_ms = u,
                "grace" => c.join_grace_ms = u,
                "inflight" => c.max_inflight = u as usize,
                "per_peer" => c.max_inflight_per_peer = u as u32,
                "neighbours" => c.max_neighbours = u as usize,
                "backlog" => c.max_upload_backlog_ms = u,
                "guard" => c.cdn_guard_ms = u,
                "req_timeout" => c.request_timeout_ms = u,
                "cdn_timeout" => c.cdn_timeout_ms = u,
                "seed_bias" => c.seed_bias = *v as f32,
                "startup" => c.startup_segments = u,
                "k" => c.candidates_k = u as u16,
                "refresh" => c.refresh_ms = u,
                "test" => c.test_ms = u,
                "ntimeout" => c.neighbour_timeout_ms = u,
                "threshold" => c.buffer_threshold_ms = u,
                other => panic!("unknown override {other}"),
            }
        }
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
