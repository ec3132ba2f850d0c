//! Integration tests through the public API: metrics, profiles, sampling, claims, cheap
//! and perceptual checks, verdicts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::box_blur;
use proptest::prelude::*;
use transcode_verify::{
    Address, CODEC_VERSION, ClaimPrice, Error, Evidence, Fault, Fps, Frame, Plane, Profile, RenditionClaim,
    RenditionFacts, SamplingPolicy, SecretKey, SegmentExpectation, Signer, Thresholds, TranscodeClaim, U256,
    Verdict, Verifier, VerifierConfig, cheap_checks, metrics, perceptual_check, rendition_hash,
};

/// A moving, textured synthetic clip: frame `t` is a diagonal gradient shifted by 5·t
/// with a bright square that moves 3 px per frame.
fn clip(w: usize, h: usize, n: usize) -> Vec<Frame> {
    (0..n)
        .map(|t| {
            let mut f = Frame::solid(w, h, t as i64 * 33_333, [0, 100, 150]);
            for y in 0..h {
                for x in 0..w {
                    let mut v = ((x * 2 + y + t * 5) % 200) as u8 + 20;
                    if (x + 200 - (t * 3) % 200) % 200 < 12 && y % 40 < 12 {
                        v = 235;
                    }
                    f.y.data[y * w + x] = v;
                }
            }
            for (i, v) in f.u.data.iter_mut().enumerate() {
                *v = 90 + ((i + t) % 40) as u8;
            }
            f
        })
        .collect()
}

/// Deterministic small noise (±2) as an honest encoder's error.
fn degrade(frames: &[Frame], seed: u32) -> Vec<Frame> {
    frames
        .iter()
        .map(|f| {
            let mut g = f.clone();
            let mut s = seed;
            for v in g.y.data.iter_mut().chain(g.u.data.iter_mut()).chain(g.v.data.iter_mut()) {
                s = s.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                *v = v.saturating_add_signed(((s >> 16) % 5) as i8 - 2);
            }
            g
        })
        .collect()
}

#[test]
fn psnr_matches_the_formula() {
    let a = Plane::filled(16, 16, 10);
    let b = Plane::filled(16, 16, 12);
    assert_eq!(metrics::mse(&a, &b).unwrap(), 4.0);
    let want = 10.0 * (255.0f64 * 255.0 / 4.0).log10();
    assert!((metrics::psnr_from_mse(4.0) - want).abs() < 1e-12);
    assert_eq!(metrics::psnr_from_mse(0.0), f64::INFINITY);
    let fa = vec![Frame::solid(16, 16, 0, [10, 128, 128]), Frame::solid(16, 16, 1, [10, 128, 128])];
    let fb = vec![Frame::solid(16, 16, 0, [12, 128, 128]), Frame::solid(16, 16, 1, [10, 128, 128])];
    // MSE over all samples of all frames: (4·256 + 0)/512 = 2.
    assert!((metrics::psnr_y(&fa, &fb).unwrap() - metrics::psnr_from_mse(2.0)).abs() < 1e-12);
    assert!(matches!(metrics::mse(&a, &Plane::filled(8, 8, 0)), Err(Error::SizeMismatch { .. })));
    assert_eq!(metrics::psnr_y(&[], &fb), Err(Error::NoFrames));
}

#[test]
fn ssim_is_one_for_identical_and_drops_with_distortion() {
    let f = clip(64, 48, 2);
    assert!((metrics::ssim(&f[0].y, &f[0].y).unwrap() - 1.0).abs() < 1e-12);
    let noisy = degrade(&f, 3);
    let s_noise = metrics::ssim(&f[0].y, &noisy[0].y).unwrap();
    let inverted = Plane::new(64, 48, f[0].y.data.iter().map(|v| 255 - v).collect()).unwrap();
    let s_flat = metrics::ssim(&f[0].y, &inverted).unwrap();
    assert!(s_noise > 0.9 && s_noise < 1.0, "{s_noise}");
    assert!(s_flat < 0.0, "{s_flat}");
    // Tiny planes use one window.
    let t = Plane::filled(3, 3, 50);
    assert!((metrics::ssim(&t, &t).unwrap() - 1.0).abs() < 1e-9);
}

#[test]
fn output_sizes_keep_aspect_and_are_even() {
    let p = Profile::P720P30;
    assert_eq!(p.output_size(1920, 1080).unwrap(), (1280, 720));
    assert_eq!(p.output_size(640, 480).unwrap(), (960, 720));
    assert_eq!(p.output_size(1080, 1920).unwrap(), (720, 1280));
    assert_eq!(Profile::P240P30.output_size(1920, 1080).unwrap(), (426, 240));
    assert_eq!(Profile::P144P30.output_size(320, 240).unwrap(), (192, 144));
    assert!(p.output_size(0, 10).is_err());
    assert_eq!(Profile::by_name("P360P60"), Some(Profile::P360P60));
    assert_eq!(Profile::by_name("P360p60fps16x9"), Some(Profile::P360P60));
    assert_eq!(Profile::P720P30.name, "P720p30fps16x9");
    assert_eq!(Profile::by_name("P720P30").map(|p| p.name), Some("P720p30fps16x9"));
    assert_eq!(Profile::by_name("P720p31fps16x9"), None);
    // Every profile is found by its go-livepeer name and by its alias.
    for (alias, p) in Profile::ALIASES {
        assert_eq!(Profile::by_name(p.name), Some(*p));
        assert_eq!(Profile::by_name(alias), Some(*p));
    }
    assert_eq!(Profile::ALIASES.len(), Profile::TABLE.len());
    assert_eq!(Profile::TABLE.len(), 15);
    assert_eq!(Fps::whole(30).frames_in(2_000_000), 60);
    assert_eq!(Fps::new(30_000, 1001).unwrap().frames_in(2_002_000), 60);
    assert!(Fps::new(0, 1).is_err());
}

proptest! {
    #[test]
    fn output_size_fits_box_is_even_and_keeps_aspect(w in 16u32..4000, h in 16u32..4000, idx in 0usize..15) {
        let p = Profile::TABLE[idx];
        let (ow, oh) = p.output_size(w, h).unwrap();
        prop_assert!(ow % 2 == 0 && oh % 2 == 0 && ow >= 2 && oh >= 2);
        let (bw, bh) = if h > w { (p.height, p.width) } else { (p.width, p.height) };
        prop_assert!(ow <= bw && oh <= bh);
        // One side (nearly) fills the box.
        prop_assert!(ow + 2 >= bw || oh + 2 >= bh);
        // Aspect error is at most the rounding of the shorter side.
        let err = (f64::from(ow) / f64::from(oh) - f64::from(w) / f64::from(h)).abs() * f64::from(oh);
        prop_assert!(err <= 3.0 * f64::from(w) / f64::from(h) + 3.0, "{w}x{h} -> {ow}x{oh}");
    }

    #[test]
    fn psnr_and_ssim_are_symmetric(seed in any::<u32>(), shift in 0u8..40) {
        let a = clip(32, 24, 1);
        let mut b = degrade(&a, seed);
        for v in &mut b[0].y.data { *v = v.saturating_add(shift); }
        let p1 = metrics::psnr_y(&a, &b).unwrap();
        let p2 = metrics::psnr_y(&b, &a).unwrap();
        prop_assert_eq!(p1, p2);
        let s1 = metrics::ssim(&a[0].y, &b[0].y).unwrap();
        let s2 = metrics::ssim(&b[0].y, &a[0].y).unwrap();
        prop_assert!((s1 - s2).abs() < 1e-12 && s1 <= 1.0 + 1e-12 && s1 > -1.0);
    }

    #[test]
    fn sampled_frames_are_distinct_sorted_and_in_range(id in any::<u64>(), n in 1usize..200, k in 0usize..20) {
        let p = SamplingPolicy::new(10, [1; 32]);
        let f = p.frames(&id.to_be_bytes(), 0, n, k);
        prop_assert_eq!(f.len(), k.min(n));
        prop_assert!(f.windows(2).all(|w| w[0] < w[1]));
        prop_assert!(f.iter().all(|&i| i < n));
    }

    #[test]
    fn claim_codec_round_trips(seq in any::<u64>(), frames in 0u64..1 << 30, key in 1u8..=0xfe, price in any::<u64>()) {
        let mut c = TranscodeClaim { sequence: seq, ..claim(frames) };
        c.price.price_per_unit = U256::from(price);
        c.resign(&SecretKey::from_bytes([key; 32]).unwrap());
        let back = TranscodeClaim::from_bytes(&c.to_bytes(), 4096).unwrap();
        prop_assert!(back.verify_signature().is_ok());
        prop_assert_eq!(back, c);
    }
}

#[test]
fn sampling_is_secret_deterministic_and_near_the_rate() {
    let a = SamplingPolicy::new(10, [1; 32]);
    let b = SamplingPolicy::new(10, [2; 32]);
    let ids: Vec<[u8; 8]> = (0..20_000u64).map(u64::to_be_bytes).collect();
    let sa: Vec<bool> = ids.iter().map(|i| a.is_sampled(i)).collect();
    let sb: Vec<bool> = ids.iter().map(|i| b.is_sampled(i)).collect();
    assert_eq!(sa, ids.iter().map(|i| a.is_sampled(i)).collect::<Vec<_>>());
    let na = sa.iter().filter(|&&s| s).count();
    assert!((1_700..2_300).contains(&na), "{na}");
    // Another secret picks a (nearly) independent set.
    let both = sa.iter().zip(&sb).filter(|(x, y)| **x && **y).count();
    assert!(both < 320, "{both}");
    assert!(ids.iter().all(|i| SamplingPolicy::new(1, [0; 32]).is_sampled(i)));
}

/// The hired orchestrator's key.
fn orchestrator_key() -> SecretKey {
    SecretKey::from_bytes([0x42; 32]).unwrap()
}

/// Someone else's key.
fn other_key() -> SecretKey {
    SecretKey::from_bytes([0x43; 32]).unwrap()
}

fn price() -> ClaimPrice {
    ClaimPrice { price_per_unit: U256::from(3u8), pixels_per_unit: U256::one() }
}

fn claim(frames: u64) -> TranscodeClaim {
    TranscodeClaim::signed(
        [3; 32],
        7,
        [9; 32],
        price(),
        vec![RenditionClaim {
            profile: "P360p30fps16x9".into(),
            width: 640,
            height: 360,
            frames,
            pixels: frames * 640 * 360,
            hash: rendition_hash(b"rendition"),
        }],
        &orchestrator_key(),
    )
}

/// Signed again by the hired orchestrator after a change.
fn signed(mut c: TranscodeClaim) -> TranscodeClaim {
    c.resign(&orchestrator_key());
    c
}

#[test]
fn claims_recover_to_the_orchestrator_they_name() {
    let c = claim(60);
    assert_eq!(c.orchestrator, orchestrator_key().address());
    assert_eq!(c.verify_signature(), Ok(()));
    // Any field changed after signing breaks the signature.
    let mut moved = c.clone();
    moved.price.pixels_per_unit = U256::from(2u8);
    assert!(matches!(moved.verify_signature(), Err(Error::ClaimSigner { found: Some(_), .. })));
    // Naming another orchestrator without its key fails too.
    let mut named = c.clone();
    named.orchestrator = other_key().address();
    // (the orchestrator is part of the digest, so the signature recovers to neither key)
    match named.verify_signature() {
        Err(Error::ClaimSigner { expected, found }) => {
            assert_eq!(expected, other_key().address());
            assert_ne!(found, Some(other_key().address()));
        }
        r => panic!("{r:?}"),
    }
    // The digest is domain-tagged and covers the orchestrator.
    assert_ne!(c.digest(), named.digest());
    let zero = Address::zero();
    assert_ne!(c.orchestrator, zero);
}

fn expectation() -> SegmentExpectation {
    SegmentExpectation {
        profiles: vec![Profile::P360P30],
        source_width: 1920,
        source_height: 1080,
        source_duration_us: 2_000_000,
        source_hash: [9; 32],
        orchestrator: orchestrator_key().address(),
        price: price(),
    }
}

fn facts() -> RenditionFacts {
    RenditionFacts {
        width: 640,
        height: 360,
        frames: 60,
        duration_us: 2_000_000,
        fps: Some(Fps::whole(30)),
        hash: rendition_hash(b"rendition"),
    }
}

#[test]
fn cheap_checks_table() {
    let good = signed(claim(60));
    assert_eq!(cheap_checks(&expectation(), &good, &[facts()]), vec![]);
    type Case = (&'static str, Box<dyn Fn(&mut TranscodeClaim, &mut RenditionFacts)>, fn(&Fault) -> bool);
    let cases: Vec<Case> = vec![
        (
            "bad signature",
            Box::new(|c, _| c.signature = other_key().sign_digest(&primitives_h256(c.digest()))),
            |f| matches!(f, Fault::BadSignature),
        ),
        ("price", Box::new(|c, _| c.price.price_per_unit = U256::from(4u8)), |f| {
            matches!(f, Fault::BadSignature)
        }),
        ("other source", Box::new(|c, _| c.source_hash = [1; 32]), |f| matches!(f, Fault::BadSignature)),
        ("hash", Box::new(|_, o| o.hash = [0; 32]), |f| matches!(f, Fault::HashMismatch { rendition: 0 })),
        ("resolution", Box::new(|_, o| o.width = 480), |f| {
            matches!(f, Fault::Resolution { expected: (640, 360), .. })
        }),
        ("frames", Box::new(|_, o| o.frames = 50), |f| {
            matches!(f, Fault::FrameCount { expected: 60, found: 50, .. })
        }),
        ("duration", Box::new(|_, o| o.duration_us = 1_500_000), |f| matches!(f, Fault::Duration { .. })),
        ("fps", Box::new(|_, o| o.fps = Some(Fps::whole(25))), |f| {
            matches!(f, Fault::FrameRate { found: (25, 1), .. })
        }),
        ("pixels", Box::new(|c, _| c.renditions[0].pixels += 1), |f| matches!(f, Fault::BadSignature)),
        ("profile", Box::new(|c, _| c.renditions[0].profile = "P720P30".into()), |f| {
            matches!(f, Fault::BadSignature)
        }),
        ("count", Box::new(|c, _| c.renditions.clear()), |f| matches!(f, Fault::BadSignature)),
    ];
    for (name, mutate, want) in cases {
        let (mut c, mut o) = (good.clone(), facts());
        mutate(&mut c, &mut o);
        let faults = cheap_checks(&expectation(), &c, &[o.clone()]);
        assert!(faults.iter().any(want), "{name}: {faults:?}");
        // Re-signed by a cheating orchestrator, the content faults remain.
        let resigned = signed(c);
        let faults = cheap_checks(&expectation(), &resigned, &[o]);
        if name != "bad signature" {
            assert!(!faults.is_empty() && !faults.contains(&Fault::BadSignature), "{name}: {faults:?}");
        }
        if name == "price" {
            assert!(faults.iter().any(|f| matches!(f, Fault::PriceMismatch { .. })), "{faults:?}");
        }
    }
    // A valid claim by someone other than the orchestrator hired.
    let mut by_other = good.clone();
    by_other.resign(&other_key());
    assert_eq!(
        cheap_checks(&expectation(), &by_other, &[facts()]),
        vec![Fault::WrongOrchestrator {
            expected: orchestrator_key().address(),
            claimed: other_key().address()
        }]
    );
    let mut more = signed(claim(60));
    more.renditions[0].pixels = 1;
    let more = signed(more);
    assert!(
        cheap_checks(&expectation(), &more, &[facts()]).iter().any(|f| matches!(f, Fault::PixelCount { .. }))
    );
    // A claim may name the profile by its older alias: the same profile, no fault; an
    // alias of another rung is still the wrong profile.
    let mut aliased = good.clone();
    aliased.renditions[0].profile = "P360P30".into();
    assert_eq!(cheap_checks(&expectation(), &signed(aliased.clone()), &[facts()]), vec![]);
    aliased.renditions[0].profile = "P240P30".into();
    assert!(
        cheap_checks(&expectation(), &signed(aliased), &[facts()])
            .iter()
            .any(|f| matches!(f, Fault::WrongProfile { rendition: 0 }))
    );
    // One frame of slack on the count.
    let mut o = facts();
    o.frames = 61;
    let c = signed(claim(61));
    assert_eq!(cheap_checks(&expectation(), &c, &[o]), vec![]);
}

#[test]
fn claim_and_evidence_decoders_reject_bad_bytes() {
    let c = signed(claim(60));
    let bytes = c.to_bytes();
    assert_eq!(TranscodeClaim::from_bytes(&bytes, 4096).unwrap(), c);
    assert!(matches!(TranscodeClaim::from_bytes(&bytes, 10), Err(Error::TooLarge { .. })));
    let mut v = bytes.clone();
    v[0] = CODEC_VERSION + 1;
    assert_eq!(
        TranscodeClaim::from_bytes(&v, 4096),
        Err(Error::Version { found: CODEC_VERSION + 1, expected: CODEC_VERSION })
    );
    v[0] = 1;
    assert!(matches!(TranscodeClaim::from_bytes(&v, 4096), Err(Error::Version { found: 1, expected: 2 })));
    let mut v = bytes.clone();
    v.push(0);
    assert!(matches!(TranscodeClaim::from_bytes(&v, 4096), Err(Error::Decode { .. })));
    assert!(matches!(TranscodeClaim::from_bytes(&bytes[..bytes.len() - 1], 4096), Err(Error::Decode { .. })));
    assert!(TranscodeClaim::from_bytes(&[], 4096).is_err());
    let ev =
        Evidence { claim: c, faults: vec![Fault::BlackFrame { rendition: 0, frame: 4 }], metrics: vec![] };
    assert_eq!(Evidence::from_bytes(&ev.to_bytes(), 4096).unwrap(), ev);
    assert!(
        Fault::HashMismatch { rendition: 0 }.is_cheap()
            && !Fault::BlackFrame { rendition: 0, frame: 0 }.is_cheap()
    );
}

#[test]
fn perceptual_detectors_on_synthetic_clips() {
    let reference = clip(160, 96, 30);
    let honest = degrade(&reference, 1);
    let local = degrade(&reference, 2);
    let t = Thresholds::default();
    let all: Vec<usize> = (0..30).step_by(3).collect();
    let check = |r: &[Frame]| perceptual_check(0, &reference, Some(&local), r, &all, &t).unwrap().faults;
    assert_eq!(check(&honest), vec![]);
    assert_eq!(perceptual_check(0, &reference, None, &honest, &all, &t).unwrap().faults, vec![]);

    let mut black = honest.clone();
    black[10] = Frame::solid(160, 96, black[10].pts_us, [16, 128, 128]);
    assert!(matches!(check(&black)[0], Fault::BlackFrame { frame: 10, .. }));

    let mut frozen = honest.clone();
    for i in 12..16 {
        frozen[i] = frozen[11].clone();
    }
    assert!(check(&frozen).iter().any(|f| matches!(f, Fault::FrozenFrame { frame: 12, .. })));

    let shifted: Vec<Frame> = (0..30).map(|i| honest[(i + 2).min(29)].clone()).collect();
    assert!(check(&shifted).iter().any(|f| matches!(f, Fault::Misaligned { offset: 2, .. })));

    let mut overlay = honest.clone();
    for f in &mut overlay {
        for y in 20..40 {
            for x in 30..62 {
                f.y.data[y * 160 + x] = 255 - f.y.data[y * 160 + x] / 4;
            }
        }
    }
    assert!(
        check(&overlay).iter().any(|f| matches!(f, Fault::LocalDistortion { .. } | Fault::LowQuality { .. }))
    );

    let mut colour = honest.clone();
    for f in &mut colour {
        std::mem::swap(&mut f.u, &mut f.v);
    }
    assert!(check(&colour).iter().any(|f| matches!(f, Fault::ColourShift { .. })));

    let other: Vec<Frame> = clip(160, 96, 60)[30..]
        .iter()
        .map(|f| {
            let mut g = f.clone();
            g.y.data.reverse();
            g
        })
        .collect();
    assert!(check(&other).iter().any(|f| matches!(f, Fault::LowQuality { .. })));
    assert_eq!(perceptual_check(0, &[], None, &honest, &all, &t), Err(Error::NoFrames));
}

#[test]
fn verifier_is_deterministic_and_builds_evidence() {
    let reference = clip(64, 48, 12);
    let bad: Vec<Frame> = reference.iter().map(|f| Frame::solid(64, 48, f.pts_us, [16, 128, 128])).collect();
    let run = |secret: [u8; 32]| {
        let v = Verifier::new(VerifierConfig { rate: 1, ..VerifierConfig::default() }, secret);
        let c = signed(claim(60));
        let cheap = v.cheap(&expectation(), &c, &[facts()]);
        let sampled = v.is_sampled(&c);
        let report = v.perceptual(&c, 0, &reference, None, &bad).unwrap();
        v.verdict(&c, cheap, sampled, vec![(0, report)])
    };
    let a = run([5; 32]);
    assert_eq!(a, run([5; 32]));
    let Verdict::Fault(ev) = a else { panic!("black rendition must fail") };
    assert!(matches!(ev.faults[0], Fault::BlackFrame { frame: 0, .. }));
    assert_eq!(ev.claim, signed(claim(60)));
    let v = Verifier::new(VerifierConfig::default(), [5; 32]);
    assert_eq!(v.verdict(&signed(claim(60)), vec![], false, vec![]), Verdict::PassedCheap);
}

/// Frame 0 of `clip` on every frame plus per-frame film grain (±12 luma): all the
/// motion is grain, which 8× thumbnails average out (incoherent motion).
fn grain_only(w: usize, h: usize, n: usize) -> Vec<Frame> {
    let still = clip(w, h, 1).remove(0);
    let grain = grainy(w, h, n);
    let base = clip(w, h, n);
    (0..n)
        .map(|t| {
            let mut f = still.clone();
            for ((v, g), b) in f.y.data.iter_mut().zip(&grain[t].y.data).zip(&base[t].y.data) {
                *v = (i32::from(*v) + i32::from(*g) - i32::from(*b)).clamp(0, 255) as u8;
            }
            f.pts_us = t as i64 * 33_333;
            f
        })
        .collect()
}

/// `f` with every luma sample nudged by a deterministic ±`amp` (an encoder refining a
/// picture it keeps showing).
fn jitter(f: &Frame, seed: u32, amp: u32) -> Frame {
    let mut g = f.clone();
    let mut s = seed;
    for v in g.y.data.iter_mut() {
        s = s.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        *v = v.saturating_add_signed(((s >> 16) % (2 * amp + 1)) as i8 - amp as i8);
    }
    g
}

#[test]
fn slow_redraw_freeze_is_caught_where_the_reference_motion_is_coherent() {
    let t = Thresholds::default();
    let all: Vec<usize> = (0..30).step_by(3).collect();
    let frozen = |faults: &[Fault]| faults.iter().any(|f| matches!(f, Fault::FrozenFrame { .. }));
    // Coherent motion (a moving gradient and square): frames 12..16 keep showing frame
    // 11, redrawn with ±1 residue each frame (moving ~0.9, above `frozen_max_diff`,
    // below a quarter of the local encode's motion): frozen.
    let reference = clip(160, 96, 30);
    let local = degrade(&reference, 3);
    let honest = degrade(&reference, 5);
    assert_eq!(perceptual_check(0, &reference, Some(&local), &honest, &all, &t).unwrap().faults, vec![]);
    let mut redrawn = honest.clone();
    for (i, f) in redrawn.iter_mut().enumerate().take(16).skip(12) {
        *f = jitter(&honest[11], i as u32, 1);
    }
    let d = metrics::mean_abs_diff(&redrawn[13].y, &redrawn[12].y, 2).unwrap();
    assert!(d > t.frozen_max_diff, "{d}");
    let faults = perceptual_check(0, &reference, Some(&local), &redrawn, &all, &t).unwrap().faults;
    assert!(faults.iter().any(|f| matches!(f, Fault::FrozenFrame { frame: 12 | 13, .. })), "{faults:?}");

    // Grain-only motion: the same slow redraw, and a near (not exact) repeat, are what
    // an honest encoder that stops redrawing grain delivers: not frozen.
    let reference = grain_only(160, 96, 30);
    let local = degrade(&reference, 3);
    let honest = smooth2(&reference);
    let mut redrawn = honest.clone();
    let mut near = honest.clone();
    for i in 12..16 {
        redrawn[i] = jitter(&honest[11], i as u32, 1);
        near[i] = honest[11].clone();
        for v in near[i].y.data.iter_mut().skip(i).step_by(10) {
            *v = v.saturating_add(1);
        }
    }
    let d = metrics::mean_abs_diff(&near[13].y, &near[12].y, 2).unwrap();
    assert!(d > t.frozen_exact_diff && d <= t.frozen_max_diff, "{d}");
    for r in [&honest, &redrawn, &near] {
        let faults = perceptual_check(0, &reference, Some(&local), r, &all, &t).unwrap().faults;
        assert!(!frozen(&faults), "{faults:?}");
    }
    // An exact repeat of grain where the local encode moves stays frozen.
    let mut exact = honest.clone();
    for f in &mut exact[12..16] {
        *f = honest[11].clone();
    }
    assert!(frozen(&perceptual_check(0, &reference, Some(&local), &exact, &all, &t).unwrap().faults));
}

#[test]
fn blur_of_coherently_moving_content_is_held_to_the_stricter_detail_ratio() {
    // The moving gradient and square with a fixed fine texture (4-px checks, ±6):
    // structure, not grain (the motion is coherent). A light blur keeps more than
    // `min_detail_ratio` of the local encode's detail but less than
    // `min_detail_ratio_coherent`: caught only by the stricter ratio.
    let mut reference = clip(160, 96, 30);
    for f in &mut reference {
        for (k, v) in f.y.data.iter_mut().enumerate() {
            let (x, y) = (k % 160, k / 160);
            *v = if (x / 4 + y / 4) % 2 == 0 { v.saturating_add(6) } else { v.saturating_sub(6) };
        }
    }
    // A noisy local encode (±18), so that the per-frame quality deficits alone do not
    // flag the blur: only the detail ratio decides.
    let local: Vec<Frame> = reference.iter().enumerate().map(|(i, f)| jitter(f, i as u32, 18)).collect();
    let all: Vec<usize> = (0..30).step_by(3).collect();
    let t = Thresholds::default();
    // (The fine-detail check, which catches this blur too, is off here: this test is about
    // the detail ratio.)
    let lenient = Thresholds { min_detail_ratio_coherent: t.min_detail_ratio, fine_frame_stride: 0, ..t };
    let blurred = box_blur(&reference, 2);
    let report = perceptual_check(0, &reference, Some(&local), &blurred, &all, &t).unwrap();
    let ratios: Vec<f64> = report.features.iter().map(|f| f.detail.0 / f.detail.1).collect();
    assert!(ratios.iter().all(|&r| r > t.min_detail_ratio && r < t.min_detail_ratio_coherent), "{ratios:?}");
    assert!(report.faults.iter().any(|f| matches!(f, Fault::LowQuality { .. })), "{:?}", report.faults);
    let faults = perceptual_check(0, &reference, Some(&local), &blurred, &all, &lenient).unwrap().faults;
    assert_eq!(faults, vec![]);
    // An honest encode of the same content passes the stricter ratio.
    let honest = degrade(&reference, 5);
    assert_eq!(perceptual_check(0, &reference, Some(&local), &honest, &all, &t).unwrap().faults, vec![]);
    // Grain-only motion keeps the lenient ratio: an encoder that drops the grain passes.
    let grain = grain_only(160, 96, 30);
    let faults =
        perceptual_check(0, &grain, Some(&degrade(&grain, 3)), &smooth2(&grain), &all, &t).unwrap().faults;
    assert_eq!(faults, vec![]);
}

/// `clip` with per-frame film grain (±12 luma, ±6 chroma) that changes every frame.
fn grainy(w: usize, h: usize, n: usize) -> Vec<Frame> {
    clip(w, h, n)
        .into_iter()
        .enumerate()
        .map(|(t, mut f)| {
            let mut s = 0x9e37_79b9u32 ^ (t as u32).wrapping_mul(2_654_435_761);
            let mut next = |amp: i32| {
                s = s.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                ((s >> 16) % (2 * amp as u32 + 1)) as i32 - amp
            };
            for v in f.y.data.iter_mut() {
                *v = (i32::from(*v) + next(12)).clamp(0, 255) as u8;
            }
            for v in f.u.data.iter_mut().chain(f.v.data.iter_mut()) {
                *v = (i32::from(*v) + next(6)).clamp(0, 255) as u8;
            }
            f
        })
        .collect()
}

/// Replaces every 2×2 cell of every plane by its mean (an encoder that drops grain).
fn smooth2(frames: &[Frame]) -> Vec<Frame> {
    let cell = |p: &Plane| {
        let mut q = p.clone();
        for y in (0..p.height - 1).step_by(2) {
            for x in (0..p.width - 1).step_by(2) {
                let idx =
                    [y * p.width + x, y * p.width + x + 1, (y + 1) * p.width + x, (y + 1) * p.width + x + 1];
                let m = (idx.iter().map(|&i| u32::from(p.data[i])).sum::<u32>() / 4) as u8;
                for i in idx {
                    q.data[i] = m;
                }
            }
        }
        q
    };
    frames.iter().map(|f| Frame::new(f.pts_us, cell(&f.y), cell(&f.u), cell(&f.v)).unwrap()).collect()
}

#[test]
fn relative_rule_on_grain_spares_honest_and_catches_tampering() {
    let reference = grainy(160, 96, 30);
    // The local encode keeps most of the grain; the honest rendition drops it entirely
    // (a deficit of several dB at full scale, none at the coarse scale).
    let local = degrade(&reference, 3);
    let honest = smooth2(&reference);
    let t = Thresholds::default();
    let all: Vec<usize> = (0..30).step_by(3).collect();
    let check = |r: &[Frame]| perceptual_check(0, &reference, Some(&local), r, &all, &t).unwrap();
    let ok = check(&honest);
    assert_eq!(ok.faults, vec![]);
    assert_eq!(ok.features.len(), all.len());
    assert!(
        ok.features.iter().all(|f| f.psnr_y.0 < f.psnr_y.1),
        "the honest rendition is worse at full scale"
    );
    assert!(ok.anomaly_counts.iter().all(|&c| c == 0));

    // A colour cast of 10 levels in U: hidden by the grain in chroma PSNR, obvious in
    // block means.
    let cast: Vec<Frame> = honest
        .iter()
        .map(|f| {
            let mut g = f.clone();
            g.u.data.iter_mut().for_each(|v| *v = v.saturating_add(10));
            g
        })
        .collect();
    assert!(check(&cast).faults.iter().any(|f| matches!(f, Fault::ColourShift { .. })));

    // A persistent flat box (32×32, 30 levels brighter than the content's mean) is an
    // overlay; the same box on a single frame is not (an honest encoder's local failure).
    let boxed = |frames: &mut [Frame]| {
        for f in frames {
            let m = (0..32).flat_map(|y| (64..96).map(move |x| (y + 32) * 160 + x));
            let mean = m.clone().map(|i| u32::from(f.y.data[i])).sum::<u32>() / 1024;
            for i in m {
                f.y.data[i] = (mean + 30).min(255) as u8;
            }
        }
    };
    let mut overlay = honest.clone();
    boxed(&mut overlay);
    let report = check(&overlay);
    assert!(report.faults.iter().any(|f| matches!(f, Fault::LocalDistortion { .. })), "{:?}", report.faults);
    assert!(
        report.anomaly_counts.iter().filter(|&&c| c as usize + 1 >= all.len()).count()
            >= t.overlay_min_blocks
    );
    let mut once = honest.clone();
    boxed(&mut once[9..10]);
    assert!(!check(&once).faults.iter().any(|f| matches!(f, Fault::LocalDistortion { .. })));

    // Heavy blur removes the structure the local encode kept.
    assert!(check(&box_blur(&reference, 4)).faults.iter().any(|f| matches!(f, Fault::LowQuality { .. })));
}

#[test]
fn frozen_detector_needs_a_moving_local_encode_where_the_freeze_begins() {
    let reference = grainy(160, 96, 30);
    let honest = smooth2(&reference);
    let t = Thresholds::default();
    let all: Vec<usize> = (0..30).step_by(3).collect();
    let moving_local = degrade(&reference, 3);
    let mut frozen = honest.clone();
    for i in 12..16 {
        frozen[i] = frozen[11].clone();
    }
    // Exact repeats while the local encode moves: frozen.
    let faults = perceptual_check(0, &reference, Some(&moving_local), &frozen, &all, &t).unwrap().faults;
    assert!(faults.iter().any(|f| matches!(f, Fault::FrozenFrame { frame: 12, .. })), "{faults:?}");
    // The same repeats where the local encode also stands still when the stretch begins:
    // an encoder skipping frames of grain under CBR (honest encoders do it exactly there).
    let mut still_local = moving_local.clone();
    still_local[12] = still_local[11].clone();
    let faults = perceptual_check(0, &reference, Some(&still_local), &frozen, &all, &t).unwrap().faults;
    assert!(!faults.iter().any(|f| matches!(f, Fault::FrozenFrame { .. })), "{faults:?}");
    // A local encode that stands still only later (after the window) does not excuse it.
    let mut late_still = moving_local.clone();
    late_still[15] = late_still[14].clone();
    let faults = perceptual_check(0, &reference, Some(&late_still), &frozen, &all, &t).unwrap().faults;
    assert!(faults.iter().any(|f| matches!(f, Fault::FrozenFrame { frame: 12, .. })), "{faults:?}");
    // Near repeats with residue (an encoder skipping grain) while the local encode nearly
    // skips: not frozen.
    let mut nearly_still = moving_local.clone();
    for i in 12..16 {
        nearly_still[i] = degrade(&nearly_still[11..12], 100 + i as u32)[0].clone();
    }
    let mut skipping = honest.clone();
    for i in 12..16 {
        skipping[i] = degrade(&skipping[11..12], i as u32)[0].clone();
        for v in skipping[i].y.data.iter_mut() {
            *v = *v / 2 * 2;
        }
    }
    let faults = perceptual_check(0, &reference, Some(&nearly_still), &skipping, &all, &t).unwrap().faults;
    assert!(!faults.iter().any(|f| matches!(f, Fault::FrozenFrame { .. })), "{faults:?}");
    // Without a local encode the absolute rule applies: frozen.
    let faults = perceptual_check(0, &reference, None, &frozen, &all, &t).unwrap().faults;
    assert!(faults.iter().any(|f| matches!(f, Fault::FrozenFrame { .. })), "{faults:?}");
}

/// Frames whose chroma is a pattern of 16×16 luma-sized blocks (8×8 chroma) of random
/// colours moving 8 luma pixels right per frame, over the textured luma of `clip`.
fn colourful(w: usize, h: usize, n: usize) -> Vec<Frame> {
    let colour = |bx: usize, by: usize, plane: u32| {
        let mut s = (bx as u32).wrapping_mul(2_654_435_761) ^ (by as u32).wrapping_mul(40_503) ^ plane;
        s = s.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        70 + ((s >> 16) % 116) as u8
    };
    clip(w, h, n)
        .into_iter()
        .enumerate()
        .map(|(t, mut f)| {
            let cw = f.u.width;
            for (i, (u, v)) in f.u.data.iter_mut().zip(f.v.data.iter_mut()).enumerate() {
                let (x, y) = (i % cw + 1000 - 4 * t, i / cw);
                *u = colour(x / 8, y / 8, 1);
                *v = colour(x / 8, y / 8, 2);
            }
            f
        })
        .collect()
}

#[test]
fn colour_change_is_a_global_colour_map_not_a_chroma_lag() {
    let reference = colourful(160, 96, 30);
    let local = degrade(&reference, 5);
    let t = Thresholds::default();
    let all: Vec<usize> = (0..30).step_by(3).collect();
    let check = |r: &[Frame]| perceptual_check(0, &reference, Some(&local), r, &all, &t).unwrap();
    let is_colour = |r: &[Frame]| check(r).faults.iter().any(|f| matches!(f, Fault::ColourShift { .. }));
    // An encoder whose chroma lags the moving colours by 3 frames (large chroma errors
    // that no global colour map explains): not a colour change.
    let mut lagging = degrade(&reference, 7);
    for i in 3..30 {
        lagging[i].u = reference[i - 3].u.clone();
        lagging[i].v = reference[i - 3].v.clone();
    }
    let lag = check(&lagging);
    assert!(
        lag.features.iter().filter(|f| f.frame >= 3).all(|f| f.chroma_shift.0 > 10.0),
        "the lag is a large chroma error"
    );
    assert!(!is_colour(&lagging), "{:?}", lag.faults);
    // A hue rotation by 90° (U' = V, V' = 255 − U): a colour change.
    let mut rotated = degrade(&reference, 7);
    for f in &mut rotated {
        let u = f.u.data.clone();
        f.u.data.clone_from(&f.v.data);
        f.v.data = u.iter().map(|&x| 255 - x).collect();
    }
    assert!(is_colour(&rotated));
    // Desaturation (U = V = 128).
    let mut grey = degrade(&reference, 7);
    for f in &mut grey {
        f.u.data.fill(128);
        f.v.data.fill(128);
    }
    assert!(is_colour(&grey));
}

#[test]
fn block_means_and_detail() {
    let mut p = Plane::filled(20, 10, 10);
    for x in 0..10 {
        p.data[x] = 30;
    }
    let m = metrics::block_means(&p, 8);
    assert_eq!(m.len(), 3 * 2);
    assert!((m[0] - (10.0 + 20.0 * 8.0 / 64.0)).abs() < 1e-9);
    assert!((m[3] - 10.0).abs() < 1e-9);
    assert_eq!(metrics::detail(&Plane::filled(8, 8, 77)), 0.0);
    let stripes = Plane::new(4, 2, vec![0, 10, 0, 10, 0, 10, 0, 10]).unwrap();
    assert!((metrics::detail(&stripes) - 10.0).abs() < 1e-9);
}

/// Naive models of the optimized metrics (straight per-sample loops, f64 sums).
mod naive {
    use transcode_verify::Plane;

    pub fn thumbnail(p: &Plane, f: usize) -> Vec<u8> {
        let (w, h) = ((p.width / f).max(1), (p.height / f).max(1));
        let mut out = Vec::new();
        for ty in 0..h {
            for tx in 0..w {
                let (mut s, mut n) = (0u32, 0u32);
                for y in ty * f..((ty + 1) * f).min(p.height) {
                    for x in tx * f..((tx + 1) * f).min(p.width) {
                        s += u32::from(p.data[y * p.width + x]);
                        n += 1;
                    }
                }
                out.push((s / n.max(1)) as u8);
            }
        }
        out
    }

    /// Per-block (mean of a, mean of squared difference a-b).
    pub fn blocks(a: &Plane, b: &Plane, size: usize) -> (Vec<f64>, Vec<f64>) {
        let (nx, ny) = (a.width.div_ceil(size), a.height.div_ceil(size));
        let (mut means, mut mses) = (Vec::new(), Vec::new());
        for by in 0..ny {
            for bx in 0..nx {
                let (mut s, mut e, mut n) = (0f64, 0f64, 0f64);
                for y in by * size..((by + 1) * size).min(a.height) {
                    for x in bx * size..((bx + 1) * size).min(a.width) {
                        let (p, q) = (f64::from(a.data[y * a.width + x]), f64::from(b.data[y * a.width + x]));
                        s += p;
                        e += (p - q) * (p - q);
                        n += 1.0;
                    }
                }
                means.push(s / n);
                mses.push(e / n);
            }
        }
        (means, mses)
    }

    pub fn ssim(a: &Plane, b: &Plane) -> f64 {
        let (bw, bh) = (a.width / 4, a.height / 4);
        let mut total = 0.0;
        for by in 0..bh - 1 {
            for bx in 0..bw - 1 {
                let (mut s1, mut s2, mut ss, mut s12) = (0f64, 0f64, 0f64, 0f64);
                for y in by * 4..by * 4 + 8 {
                    for x in bx * 4..bx * 4 + 8 {
                        let (p, q) = (f64::from(a.data[y * a.width + x]), f64::from(b.data[y * a.width + x]));
                        s1 += p;
                        s2 += q;
                        ss += p * p + q * q;
                        s12 += p * q;
                    }
                }
                let c1 = 0.01f64 * 0.01 * 255.0 * 255.0 * 64.0;
                let c2 = 0.03f64 * 0.03 * 255.0 * 255.0 * 64.0 * 63.0;
                let vars = ss * 64.0 - s1 * s1 - s2 * s2;
                let covar = s12 * 64.0 - s1 * s2;
                total += (2.0 * s1 * s2 + c1) * (2.0 * covar + c2) / ((s1 * s1 + s2 * s2 + c1) * (vars + c2));
            }
        }
        total / ((bw - 1) * (bh - 1)) as f64
    }

    pub fn mean_abs_diff(a: &Plane, b: &Plane, step: usize) -> f64 {
        let (mut s, mut n) = (0f64, 0f64);
        for y in (0..a.height).step_by(step) {
            for x in (0..a.width).step_by(step) {
                s += f64::from(a.data[y * a.width + x].abs_diff(b.data[y * a.width + x]));
                n += 1.0;
            }
        }
        s / n
    }
}

fn plane_from(w: usize, h: usize, seed: u32, spread: u32) -> Plane {
    let mut x = seed | 1;
    let data = (0..w * h)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            ((i as u32 * 7 + x % spread.max(1)) % 256) as u8
        })
        .collect();
    Plane::new(w, h, data).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// The vectorized metrics equal straight per-sample models on any plane size
    /// (partial edge blocks, planes smaller than the box, odd strides).
    #[test]
    fn fast_metrics_match_naive_models(
        w in 1usize..70, h in 1usize..50, seed in any::<u32>(), spread in 1u32..256,
        f in 1usize..10, size in 1usize..20, step in 1usize..5,
    ) {
        let a = plane_from(w, h, seed, 256);
        let b = plane_from(w, h, seed.wrapping_add(1), spread);
        prop_assert_eq!(metrics::thumbnail(&a, f).data, naive::thumbnail(&a, f));
        let (means, mses) = naive::blocks(&a, &b, size);
        let got_means = metrics::block_means(&a, size);
        let got_mses = metrics::block_mse(&a, &b, size).unwrap();
        for (x, y) in got_means.iter().zip(&means).chain(got_mses.iter().zip(&mses)) {
            prop_assert!((x - y).abs() < 1e-9, "{} vs {}", x, y);
        }
        prop_assert_eq!(got_means.len(), means.len());
        let sse: f64 = a.data.iter().zip(&b.data).map(|(&p, &q)| (f64::from(p) - f64::from(q)).powi(2)).sum();
        prop_assert_eq!(metrics::sse(&a, &b).unwrap() as f64, sse);
        let mad = metrics::mean_abs_diff(&a, &b, step).unwrap();
        prop_assert!((mad - naive::mean_abs_diff(&a, &b, step)).abs() < 1e-9);
        if w >= 8 && h >= 8 {
            let s = metrics::ssim(&a, &b).unwrap();
            prop_assert!((s - naive::ssim(&a, &b)).abs() < 1e-9, "{} vs {}", s, naive::ssim(&a, &b));
        }
    }
}

fn primitives_h256(d: [u8; 32]) -> transcode_verify::H256 {
    transcode_verify::H256(d)
}
