//! The market scenario at small defaults, both job kinds, a few seeds: every segment
//! delivered within 3 attempts, nothing paid twice or for failed work, cost within 10 %
//! of the cheapest orchestrators able to keep up, failed orchestrators no longer used,
//! no tampered segment accepted. The full-size run is the `market` example.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../examples/market/scenario.rs"]
mod scenario;

use scenario::{FailPick, Failure, Kind, Params, Report, SelectorKind};

fn check(p: &Params) -> Report {
    let r = scenario::run(p).unwrap();
    let ctx = format!("{p:?}: {r:?}");
    assert_eq!(r.segments, p.segments, "{ctx}");
    assert_eq!(r.delivered, p.segments, "every segment delivered: {ctx}");
    assert!(r.max_attempts <= 3, "{ctx}");
    assert_eq!(r.lost, 0, "{ctx}");
    assert_eq!(r.paid_twice, 0, "{ctx}");
    assert_eq!(r.paid_for_failed, 0, "{ctx}");
    assert_eq!(r.failed_still_used, 0, "{ctx}");
    assert_eq!(r.tampered_accepted, 0, "{ctx}");
    assert!(r.cost_ratio <= 1.10, "cost within 10 % of the cheapest feasible: {ctx}");
    assert!(r.tickets > 0, "real tickets were sent: {ctx}");
    r
}

#[test]
fn compute_market_survives_failures_at_small_scale() {
    // Random failing subsets (the example's default) over a few seeds.
    let mut hit = 0;
    for seed in [1, 2, 3, 10] {
        let p = Params { segments: 150, kind: Kind::Compute, seed, ..Params::default() };
        hit += check(&p).failures_hit;
    }
    assert!(hit > 0, "some failing orchestrator was in use when it failed");
    // The cheapest ones failing (the selector walks into them), with two failing so no
    // segment can meet three failures in a row.
    for seed in [1, 2] {
        let p = Params {
            orchestrators: 8,
            segments: 80,
            kind: Kind::Compute,
            seed,
            fail_pick: FailPick::Cheapest,
            ..Params::default()
        };
        assert!(check(&p).failures_hit > 0);
    }
}

#[test]
fn transcode_market_survives_failures_at_small_scale() {
    // Synthetic frames through transcode-verify (cheap and perceptual checks on every
    // result); the cheapest two of eight fail, so failures are hit.
    let p = Params {
        orchestrators: 8,
        segments: 12,
        kind: Kind::Transcode,
        seed: 1,
        fail_pick: FailPick::Cheapest,
        ..Params::default()
    };
    let r = check(&p);
    assert!(r.failures_hit > 0, "{r:?}");
}

#[test]
fn the_scenario_draws_failures_and_is_deterministic() {
    let p = Params { orchestrators: 10, segments: 30, kind: Kind::Compute, seed: 9, ..Params::default() };
    let specs = scenario::draw(&p);
    assert_eq!(specs.iter().filter(|s| s.failure != Failure::None).count(), 3);
    assert!(specs.iter().any(|s| s.keeps_up()) && specs.iter().any(|s| !s.keeps_up() || s.capacity == 0));
    assert_eq!(scenario::run(&p).unwrap(), scenario::run(&p).unwrap());
}

#[test]
fn tampering_is_caught_by_the_verdict_code() {
    // Synthetic renditions through transcode-verify: honest passes, blacked-out fails.
    let frames = scenario::source_frames(3, 77);
    let bytes = scenario::encode_rendition(&frames, transcode_verify::Fps::whole(30), 1_000_000);
    let (facts, back) = scenario::decode_rendition(&bytes).unwrap();
    assert_eq!(back, frames);
    assert_eq!((facts.width, facts.height, facts.frames), (256, 144, 30));
    assert!(scenario::decode_rendition(&bytes[..bytes.len() - 1]).is_none());
    let t = transcode_verify::Thresholds::default();
    let all: Vec<usize> = (0..30).step_by(4).collect();
    let honest = transcode_verify::perceptual_check(0, &frames, None, &frames, &all, &t).unwrap();
    assert!(honest.faults.is_empty(), "{:?}", honest.faults);
    let mut black = frames.clone();
    for f in black.iter_mut().skip(15) {
        *f = transcode_verify::Frame::solid(256, 144, f.pts_us, [16, 128, 128]);
    }
    assert!(
        !transcode_verify::perceptual_check(0, &frames, None, &black, &all, &t).unwrap().faults.is_empty()
    );
}

#[test]
fn additive_selection_is_dearer_than_multiplicative() {
    // No failures: the only difference is the selection rule. Seeds 1 and 5 have a
    // well-staked orchestrator that is not the cheapest.
    for seed in [1, 5] {
        let base = Params {
            orchestrators: 12,
            segments: 60,
            kind: Kind::Compute,
            fail_rate: 0.0,
            seed,
            ..Params::default()
        };
        let mult = scenario::run(&base).unwrap();
        let add = scenario::run(&Params { selector: SelectorKind::Additive, ..base.clone() }).unwrap();
        assert_eq!((mult.delivered, add.delivered), (60, 60));
        assert!(mult.cost_ratio <= 1.01, "{mult:?}");
        assert!(add.cost_ratio > 1.3, "the additive mix pays a whale's premium: {add:?}");
    }
}
