//! Honest renditions whose encoder allocates the segment's bits differently from the
//! verifier's local encode (issue 19, verifier part): a one-pass ABR encoder without VBV
//! spends most bits on the first frames of a short segment and starves the last ones
//! (`ffmpeg -c:v libx264 -b:v …` without `-maxrate`), and a starved encoder stops
//! updating a slowly moving picture. Neither may be accused, while starvation of the
//! whole segment and a real shift still are.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use transcode_verify::{Fault, Frame, Thresholds, perceptual_check};

const W: usize = 160;
const H: usize = 96;
const N: usize = 30;

/// Smooth structure moving coherently: two sinusoids drifting 2 px right and 1 px down
/// per frame, evaluated at time `t` (fractional frames allowed).
fn picture(t: f64) -> Frame {
    let mut f = Frame::solid(W, H, (t * 33_333.0) as i64, [0, 110, 140]);
    for y in 0..H {
        for x in 0..W {
            let (xf, yf) = (x as f64 - 2.0 * t, y as f64 - t);
            let v = 128.0
                + 50.0 * (std::f64::consts::TAU * xf / 40.0).sin()
                + 30.0 * (std::f64::consts::TAU * yf / 28.0).sin();
            f.y.data[y * W + x] = v.round().clamp(0.0, 255.0) as u8;
        }
    }
    f
}

fn reference() -> Vec<Frame> {
    (0..N).map(|t| picture(t as f64)).collect()
}

/// Coding error that survives a 4× box filter: a constant offset of ±`amp` per 8×8 block
/// (pseudo-random signs, a different pattern per frame).
fn with_block_error(f: &Frame, seed: usize, amp: i32) -> Frame {
    let mut g = f.clone();
    for y in 0..H {
        for x in 0..W {
            let mut s = ((x / 8) as u32).wrapping_mul(0x9e37_79b9)
                ^ ((y / 8) as u32).wrapping_mul(0x85eb_ca6b)
                ^ (seed as u32).wrapping_mul(0xc2b2_ae35);
            s ^= s >> 15;
            s = s.wrapping_mul(0x2c1b_3c6d);
            s ^= s >> 12;
            let d = if s & 1 == 0 { amp } else { -amp };
            let v = i32::from(g.y.data[y * W + x]) + d;
            g.y.data[y * W + x] = v.clamp(0, 255) as u8;
        }
    }
    g
}

fn low_quality(faults: &[Fault]) -> bool {
    faults.iter().any(|f| matches!(f, Fault::LowQuality { .. }))
}

/// The local encode has an even error (±8, 30 dB on every frame). An honest front-loaded
/// rendition is near-lossless on its first 20 frames (±2) and starved on the last 10
/// (±17: 6.5 dB below the local encode on those frames, at full and at coarse scale), so
/// each late frame alone looks like low quality, but over the segment it is within 2 dB
/// of the local encode (1.9 dB). The same ±17 on every frame (starvation) is still caught.
#[test]
fn front_loaded_rate_control_is_not_low_quality() {
    let t = Thresholds::default();
    let reference = reference();
    let local: Vec<Frame> =
        reference.iter().enumerate().map(|(i, f)| with_block_error(f, i + 100, 8)).collect();
    let front_loaded: Vec<Frame> = reference
        .iter()
        .enumerate()
        .map(|(i, f)| with_block_error(f, i, if i < 20 { 2 } else { 17 }))
        .collect();
    let starved: Vec<Frame> = reference.iter().enumerate().map(|(i, f)| with_block_error(f, i, 17)).collect();
    // Whatever frames the secret samples, late ones included.
    for sampled in [vec![22, 25, 28], vec![3, 11, 21, 27], (0..N).collect::<Vec<_>>()] {
        let honest = perceptual_check(0, &reference, Some(&local), &front_loaded, &sampled, &t).unwrap();
        assert!(!low_quality(&honest.faults), "front-loaded honest rendition accused: {:?}", honest.faults);
        let (out, own) =
            honest.segment_coarse_psnr_y.expect("late frames are low, so the segment is measured");
        assert!(own - out < t.max_segment_coarse_deficit, "segment {out:.2} dB vs local {own:.2} dB");
        let bad = perceptual_check(0, &reference, Some(&local), &starved, &sampled, &t).unwrap();
        assert!(low_quality(&bad.faults), "starved rendition passed: {:?}", bad.faults);
    }
}

/// Where the verifier's own encode falls behind the reference itself (it matches the
/// previous reference frame better than the same-index one on the second half), an
/// honest starved rendition that falls further behind (3 frames) is not misaligned; the
/// same rendition against a local encode that keeps up is, and so is a rendition that is
/// ahead (dropped frames) whatever the local encode does.
#[test]
fn lag_where_the_local_encode_lags_is_not_misalignment() {
    let t = Thresholds::default();
    let reference = reference();
    let lagging_local: Vec<Frame> =
        (0..N).map(|i| picture(if i < 12 { i as f64 } else { i as f64 - 1.0 })).collect();
    let aligned_local = reference.clone();
    let behind: Vec<Frame> =
        (0..N).map(|i| picture(if i < 12 { i as f64 } else { i as f64 - 3.0 })).collect();
    let ahead: Vec<Frame> = (0..N).map(|i| picture(if i < 12 { i as f64 } else { i as f64 + 3.0 })).collect();
    let misaligned = |local: &[Frame], out: &[Frame]| {
        let r = perceptual_check(0, &reference, Some(local), out, &[1, 2], &t).unwrap();
        r.faults.iter().any(|f| matches!(f, Fault::Misaligned { .. }))
    };
    assert!(!misaligned(&lagging_local, &behind), "honest lag behind a lagging local encode accused");
    assert!(misaligned(&aligned_local, &behind), "a 3-frame lag where the local encode keeps up passed");
    assert!(misaligned(&lagging_local, &ahead), "a rendition ahead of the reference passed");
}
