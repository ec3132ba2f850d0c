//! Quality fraud on pure frames: upscaling from a lower rung, mild blur (box radius 2)
//! and re-timing by duplication are caught whatever frames the secret samples, and an
//! honest rendition of the same content passes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::box_blur;
use transcode_verify::{Fault, Frame, Plane, Thresholds, metrics, perceptual_check};

/// Structure with detail up to the Nyquist frequency that moves coherently: a fixed
/// pseudo-random texture (two levels, ±40) over a gradient, shifted 2 px right and 1 px
/// down per frame, plus a bright bar moving 3 px per frame.
fn textured(w: usize, h: usize, n: usize) -> Vec<Frame> {
    let tex = |x: usize, y: usize| {
        let mut s = (x as u32).wrapping_mul(0x9e37_79b9) ^ (y as u32).wrapping_mul(0x85eb_ca6b);
        s ^= s >> 15;
        s = s.wrapping_mul(0x2c1b_3c6d);
        s ^= s >> 12;
        if s & 1 == 0 { 40i32 } else { -40 }
    };
    (0..n)
        .map(|t| {
            let mut f = Frame::solid(w, h, t as i64 * 33_333, [0, 110, 140]);
            for y in 0..h {
                for x in 0..w {
                    let base = 60 + ((x + y) % 120) as i32;
                    let mut v = base + tex(x + 500 - 2 * t, y + 500 - t);
                    if (x + 300 - 3 * t) % 100 < 6 {
                        v = 230;
                    }
                    f.y.data[y * w + x] = v.clamp(0, 255) as u8;
                }
            }
            f
        })
        .collect()
}

/// Deterministic small noise (±`amp`) as an encoder's error.
fn noisy(frames: &[Frame], seed: u32, amp: u32) -> Vec<Frame> {
    frames
        .iter()
        .map(|f| {
            let mut g = f.clone();
            let mut s = seed;
            for v in g.y.data.iter_mut() {
                s = s.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                *v = (i32::from(*v) + ((s >> 16) % (2 * amp + 1)) as i32 - amp as i32).clamp(0, 255) as u8;
            }
            g
        })
        .collect()
}

/// Scales luma down by `f` (box) and back up (bilinear, sample centres aligned): a
/// rendition encoded at a lower rung and upscaled to the profile's size.
fn upscaled(frames: &[Frame], f: usize) -> Vec<Frame> {
    frames
        .iter()
        .map(|fr| {
            let small = metrics::thumbnail(&fr.y, f);
            let (w, h) = (fr.y.width, fr.y.height);
            let (sw, sh) = (small.width, small.height);
            let mut g = fr.clone();
            for y in 0..h {
                for x in 0..w {
                    let sx = ((x as f64 + 0.5) / f as f64 - 0.5).clamp(0.0, (sw - 1) as f64);
                    let sy = ((y as f64 + 0.5) / f as f64 - 0.5).clamp(0.0, (sh - 1) as f64);
                    let (x0, y0) = (sx.floor() as usize, sy.floor() as usize);
                    let (x1, y1) = ((x0 + 1).min(sw - 1), (y0 + 1).min(sh - 1));
                    let (ax, ay) = (sx - x0 as f64, sy - y0 as f64);
                    let p = |xx: usize, yy: usize| f64::from(small.data[yy * sw + xx]);
                    let v = (p(x0, y0) * (1.0 - ax) + p(x1, y0) * ax) * (1.0 - ay)
                        + (p(x0, y1) * (1.0 - ax) + p(x1, y1) * ax) * ay;
                    g.y.data[y * w + x] = v.round() as u8;
                }
            }
            g
        })
        .collect()
}

/// Frame sets a secret might pick (8 of 30, different each).
fn samples() -> Vec<Vec<usize>> {
    vec![(0..30).step_by(4).collect(), (1..30).step_by(4).collect(), vec![3, 5, 8, 13, 21, 22, 27, 29]]
}

fn has(faults: &[Fault], want: fn(&Fault) -> bool) -> bool {
    faults.iter().any(want)
}

#[test]
fn fine_band_metrics() {
    let flat = Plane::filled(20, 20, 90);
    assert!(metrics::fine_band(&flat).iter().all(|&v| v == 0));
    assert_eq!(metrics::fine_energy(&metrics::fine_band(&flat)), 0.0);
    assert!(metrics::fine_band(&Plane::filled(8, 30, 1)).is_empty());
    assert_eq!(metrics::fine_energy(&[]), 0.0);
    // A pixel checkerboard 128 ± 100 is all Nyquist: response 256 · 100 in each
    // direction, 100 levels.
    let data = (0..400).map(|i| if (i % 20 + i / 20) % 2 == 0 { 228 } else { 28 }).collect();
    let checks = Plane::new(20, 20, data).unwrap();
    let band = metrics::fine_band(&checks);
    assert_eq!(band.len(), 6 * 6 * 2);
    assert_eq!(metrics::fine_energy(&band), 100.0);
    assert_eq!(metrics::fine_gain(&band, &band), Some(1.0));
    let half: Vec<i32> = band.iter().map(|v| v / 2).collect();
    assert_eq!(metrics::fine_gain(&band, &half), Some(0.5));
    assert_eq!(metrics::fine_gain(&band, &vec![0; band.len()]), Some(0.0));
    assert_eq!(metrics::fine_gain(&vec![0; band.len()], &band), None);
    assert_eq!(metrics::fine_gain(&band, &band[2..]), None);
    // A linear ramp has no fine detail (the filter kills polynomials up to degree 7).
    let ramp = Plane::new(20, 20, (0..400).map(|i| (i % 20 * 5 + i / 20 * 3) as u8).collect()).unwrap();
    assert_eq!(metrics::fine_energy(&metrics::fine_band(&ramp)), 0.0);
}

#[test]
fn upscaled_and_blurred_renditions_fail_whatever_the_sample_and_honest_ones_pass() {
    let reference = textured(128, 72, 30);
    let local = noisy(&reference, 7, 3);
    let t = Thresholds::default();
    let honest = [noisy(&reference, 11, 3), noisy(&reference, 23, 6)];
    let tampered = [
        ("upscaled 2x", upscaled(&reference, 2)),
        ("upscaled 4x", upscaled(&reference, 4)),
        ("box blur 2", box_blur(&reference, 2)),
    ];
    for sampled in samples() {
        for h in &honest {
            let report = perceptual_check(0, &reference, Some(&local), h, &sampled, &t).unwrap();
            assert_eq!(report.faults, vec![], "honest, sample {sampled:?}");
            assert!(report.fine_scores.iter().all(|s| s.1 > 2.0), "{:?}", report.fine_scores);
        }
        for (name, r) in &tampered {
            let report = perceptual_check(0, &reference, Some(&local), r, &sampled, &t).unwrap();
            assert!(
                has(&report.faults, |f| matches!(f, Fault::FineDetailLoss { rendition: 0, .. })),
                "{name}, sample {sampled:?}: {:?} {:?}",
                report.faults,
                report.fine_scores
            );
        }
    }
    // The check runs on a fixed set of frames: every `fine_frame_stride`-th.
    let report = perceptual_check(0, &reference, Some(&local), &tampered[0].1, &[5], &t).unwrap();
    let frames: Vec<u32> = report.fine_scores.iter().map(|s| s.0).collect();
    assert_eq!(frames, (0..30).step_by(t.fine_frame_stride).map(|i| i as u32).collect::<Vec<_>>());
    // Disabled, and without a local encode, it does not decide.
    let off = Thresholds { fine_frame_stride: 0, ..t };
    let r = perceptual_check(0, &reference, Some(&local), &tampered[0].1, &[5], &off).unwrap();
    assert!(r.fine_scores.is_empty() && !has(&r.faults, |f| matches!(f, Fault::FineDetailLoss { .. })));
    assert!(perceptual_check(0, &reference, None, &tampered[0].1, &[5], &t).unwrap().fine_scores.is_empty());
}

#[test]
fn retiming_by_duplication_fails_whatever_the_sample() {
    // 25 fps content re-timed to 30: every sixth frame repeats its predecessor where the
    // reference moves. One repeat alone (a run of one) is not enough.
    let reference = textured(128, 72, 30);
    let local = noisy(&reference, 7, 3);
    let honest = noisy(&reference, 11, 3);
    let t = Thresholds::default();
    let mut retimed = honest.clone();
    for i in (5..30).step_by(6) {
        retimed[i] = Frame { pts_us: retimed[i].pts_us, ..retimed[i - 1].clone() };
    }
    let mut once = honest.clone();
    once[11] = Frame { pts_us: once[11].pts_us, ..once[10].clone() };
    // Near (not exact) duplicates, as a re-encoded repeat: one sample in eight off by one
    // level (mean difference 0.125, under `frozen_max_diff`). A near repeat counts only
    // where the reference's motion is coherent (not grain), so this uses a moving
    // gradient: the pixel texture above averages out in thumbnails like grain.
    let smooth: Vec<Frame> = (0..30)
        .map(|t| {
            let mut f = Frame::solid(128, 72, t as i64 * 33_333, [0, 110, 140]);
            for (k, v) in f.y.data.iter_mut().enumerate() {
                *v = (40 + (k % 128 * 2 + k / 128 + t * 5) % 160) as u8;
            }
            f
        })
        .collect();
    let (smooth_local, smooth_honest) = (noisy(&smooth, 7, 3), noisy(&smooth, 11, 3));
    let mut near = smooth_honest.clone();
    for i in (5..30).step_by(6) {
        let mut f = Frame { pts_us: near[i].pts_us, ..near[i - 1].clone() };
        f.y.data.iter_mut().step_by(8).for_each(|v| *v = v.saturating_add(1));
        near[i] = f;
    }
    for sampled in samples() {
        let check =
            |r: &[Frame]| perceptual_check(0, &reference, Some(&local), r, &sampled, &t).unwrap().faults;
        assert_eq!(check(&honest), vec![]);
        assert!(
            has(&check(&retimed), |f| matches!(f, Fault::FrozenFrame { frame: 5, .. })),
            "{:?}",
            check(&retimed)
        );
        let check_smooth =
            |r: &[Frame]| perceptual_check(0, &smooth, Some(&smooth_local), r, &sampled, &t).unwrap().faults;
        assert_eq!(check_smooth(&smooth_honest), vec![]);
        let faults = check_smooth(&near);
        assert!(has(&faults, |f| matches!(f, Fault::FrozenFrame { frame: 5, .. })), "{faults:?}");
        assert!(!has(&check(&once), |f| matches!(f, Fault::FrozenFrame { .. })), "{:?}", check(&once));
    }
}

/// `fine_band` against a direct evaluation of its definition on odd and even sizes.
#[test]
fn fine_band_matches_a_naive_model() {
    const TAPS: [i32; 9] = [1, -8, 28, -56, 70, -56, 28, -8, 1];
    for (w, h, seed) in [(9usize, 9usize, 1u32), (10, 9, 2), (23, 17, 3), (64, 11, 4), (9, 40, 5)] {
        let mut s = seed;
        let data: Vec<u8> = (0..w * h)
            .map(|_| {
                s = s.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                (s >> 16) as u8
            })
            .collect();
        let p = Plane::new(w, h, data).unwrap();
        let at = |x: usize, y: usize| i32::from(p.data[y * w + x]);
        let mut want = Vec::new();
        for y in (4..h - 4).step_by(2) {
            for x in (4..w - 4).step_by(2) {
                want.push((0..9).map(|k| TAPS[k] * at(x + k - 4, y)).sum::<i32>());
                want.push((0..9).map(|k| TAPS[k] * at(x, y + k - 4)).sum::<i32>());
            }
        }
        assert_eq!(metrics::fine_band(&p), want, "{w}x{h}");
    }
}
