//! gpu-encode and transcode-verify.
//!
//! Part 1 (one-shot, CPU and wall time, median of `TRANSCODE_RUNS` runs, default 3): the
//! 720p+360p+240p ladder from a 1080p30 2-second segment through `gpu_encode::Transcoder`
//! against the `ffmpeg` command line doing the same ladder with the same settings
//! (bicubic scale, fps, libx264 CBR, same preset), and a single 720p rendition. A
//! criterion loop would take many minutes per sample set on a shared 2-core machine, so
//! these are measured by hand; CPU time comes from `/proc/self/stat` (self and waited-for
//! children), so the figures are fair even when other processes load the machine.
//!
//! Part 2 (criterion): verification of the same segment: the cheap checks every segment
//! gets, and the perceptual check a sampled segment gets, against a naive baseline (PSNR
//! and SSIM over every frame).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::disallowed_methods)]

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use criterion::{Criterion, criterion_group};
use gpu_encode::{Limits, Transcoder, TranscoderConfig, decode_segment, probe};
use transcode_verify::{
    ClaimPrice, Fps, Profile, RenditionClaim, RenditionFacts, SegmentExpectation, TranscodeClaim, Verifier,
    VerifierConfig, metrics, rendition_hash,
};

const PRESET: &str = "veryfast";
const LADDER: [Profile; 3] = [Profile::P720P30, Profile::P360P30, Profile::P240P30];

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("meshcast-bench-transcode-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn source(d: &Path) -> (PathBuf, Vec<u8>) {
    let p = d.join("src1080p30.ts");
    let ok = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=1920x1080:rate=30",
        ])
        .args([
            "-t",
            "2",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-crf",
            "18",
            "-pix_fmt",
            "yuv420p",
            "-f",
            "mpegts",
        ])
        .arg(&p)
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let bytes = std::fs::read(&p).unwrap();
    (p, bytes)
}

/// (self user+sys, children user+sys) CPU seconds from /proc/self/stat.
fn cpu() -> (f64, f64) {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap();
    let rest = &s[s.rfind(')').unwrap() + 2..];
    let f: Vec<f64> = rest.split_whitespace().map(|x| x.parse().unwrap_or(0.0)).collect();
    // After the comm field: state is index 0, utime 11, stime 12, cutime 13, cstime 14.
    let hz = 100.0;
    ((f[11] + f[12]) / hz, (f[13] + f[14]) / hz)
}

fn cli_ladder(src: &Path, out: &Path, profiles: &[Profile]) {
    let mut graph = format!("[0:v]split={}", profiles.len());
    for i in 0..profiles.len() {
        graph += &format!("[s{i}]");
    }
    for (i, p) in profiles.iter().enumerate() {
        let (w, h) = p.output_size(1920, 1080).unwrap();
        graph += &format!(";[s{i}]scale={w}:{h}:flags=bicubic,fps={}[o{i}]", p.fps.num);
    }
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-loglevel", "error", "-y", "-i"]).arg(src).args(["-filter_complex", &graph]);
    for (i, p) in profiles.iter().enumerate() {
        let b = format!("{}", p.bitrate);
        cmd.args([
            "-map",
            &format!("[o{i}]"),
            "-c:v",
            "libx264",
            "-preset",
            PRESET,
            "-b:v",
            &b,
            "-minrate",
            &b,
        ])
        .args(["-maxrate", &b, "-bufsize", &b, "-x264-params", "nal-hrd=cbr:force-cfr=1", "-f", "mpegts"])
        .arg(out.join(format!("cli{i}.ts")));
    }
    assert!(cmd.status().unwrap().success());
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs `f` `runs` times; returns (median wall s, median CPU s).
fn measure(runs: usize, mut f: impl FnMut()) -> (f64, f64) {
    let (mut walls, mut cpus) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let (s0, c0) = cpu();
        let t = Instant::now();
        f();
        walls.push(t.elapsed().as_secs_f64());
        let (s1, c1) = cpu();
        cpus.push((s1 - s0) + (c1 - c0));
    }
    (median(walls), median(cpus))
}

fn transcode_figures(src_path: &Path, src: &[u8], d: &Path) {
    let runs: usize = std::env::var("TRANSCODE_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let session = |profiles: &[Profile]| {
        let mut cfg = TranscoderConfig::new(profiles.to_vec());
        cfg.preset = PRESET.into();
        Transcoder::new(cfg).unwrap()
    };
    let mut ladder = session(&LADDER);
    let accel = ladder.acceleration();
    let ours = measure(runs, || {
        black_box(ladder.transcode(src).unwrap());
    });
    let cli = measure(runs, || cli_ladder(src_path, d, &LADDER));
    let mut single = session(&[Profile::P720P30]);
    let one = measure(runs, || {
        black_box(single.transcode(src).unwrap());
    });
    let cli_one = measure(runs, || cli_ladder(src_path, d, &[Profile::P720P30]));
    let seg = 2.0;
    println!("transcode 1080p30 2 s segment, preset {PRESET}, {runs} runs (median), acceleration {accel:?}");
    println!(
        "  ladder 720p+360p+240p  ours:   wall {:.3} s (RTF {:.2}x)  cpu {:.3} s",
        ours.0,
        seg / ours.0,
        ours.1
    );
    println!(
        "  ladder 720p+360p+240p  ffmpeg: wall {:.3} s (RTF {:.2}x)  cpu {:.3} s",
        cli.0,
        seg / cli.0,
        cli.1
    );
    println!("  ladder ratio ours/ffmpeg: wall {:.3}  cpu {:.3}", ours.0 / cli.0, ours.1 / cli.1);
    println!(
        "  single 720p            ours:   wall {:.3} s (RTF {:.2}x)  cpu {:.3} s",
        one.0,
        seg / one.0,
        one.1
    );
    println!(
        "  single 720p            ffmpeg: wall {:.3} s (RTF {:.2}x)  cpu {:.3} s",
        cli_one.0,
        seg / cli_one.0,
        cli_one.1
    );
    println!(
        "  CPU-bound RTF on 2 cores (2 s x 2 cores / cpu s): ladder {:.2}x, single 720p {:.2}x",
        seg * 2.0 / ours.1,
        seg * 2.0 / one.1
    );

    // Verification cost at the default sampling (1 in 10, one secret rendition, 8 frames).
    let out = ladder.transcode(src).unwrap();
    let verifier = Verifier::new(VerifierConfig::default(), [9; 32]);
    let limits = Limits::default();
    let (claim, expect) = claim_for(&out, src);
    let cheap = measure(runs.max(5), || {
        black_box(cheap_step(&verifier, &expect, &claim, &out, &limits));
    });
    let mut local_session = Transcoder::new(TranscoderConfig::verifier_local(LADDER[0])).unwrap();
    // The secret choice is uniform over the renditions: measure each, amortize the mean.
    let per_rendition: Vec<f64> = (0..LADDER.len())
        .map(|i| {
            measure(runs, || {
                black_box(perceptual_step(
                    &verifier,
                    &claim,
                    &mut local_session,
                    src,
                    &out.renditions[i].data,
                    i,
                ));
            })
            .1
        })
        .collect();
    let sampled = per_rendition.iter().sum::<f64>() / per_rendition.len() as f64;
    let worst = per_rendition.iter().copied().fold(0.0, f64::max);
    let rate = f64::from(verifier.config().rate);
    let amortized = cheap.1 + sampled / rate;
    let amortized_worst = cheap.1 + worst / rate;
    println!("verification of the 2 s segment (default: 1 in {rate}, one secret rendition, 8 frames)");
    println!("  cheap checks (every segment):   cpu {:.4} s", cheap.1);
    for (p, c) in LADDER.iter().zip(&per_rendition) {
        println!("  perceptual, {} sampled:    cpu {c:.3} s", p.name);
    }
    println!(
        "  amortized per segment:          cpu {:.4} s = {:.1}% of the ladder transcode's cpu (mean over the secret choice)",
        amortized,
        100.0 * amortized / ours.1
    );
    println!(
        "  amortized, 720p always sampled: cpu {:.4} s = {:.1}% of the ladder transcode's cpu",
        amortized_worst,
        100.0 * amortized_worst / ours.1
    );
}

/// The orchestrator key of the bench's claims (the cheap step includes its secp256k1
/// signature recovery, as in production).
fn orchestrator_key() -> transcode_verify::SecretKey {
    transcode_verify::SecretKey::from_bytes([5; 32]).unwrap()
}

const PRICE: ClaimPrice = ClaimPrice {
    price_per_unit: transcode_verify::U256::one(),
    pixels_per_unit: transcode_verify::U256::one(),
};

fn claim_for(out: &gpu_encode::SegmentOutput, src: &[u8]) -> (TranscodeClaim, SegmentExpectation) {
    let claim = TranscodeClaim::signed(
        [1; 32],
        0,
        rendition_hash(src),
        PRICE,
        out.renditions
            .iter()
            .map(|r| RenditionClaim {
                profile: r.profile.name.into(),
                width: r.width,
                height: r.height,
                frames: r.frames,
                pixels: r.pixels,
                hash: rendition_hash(&r.data),
            })
            .collect(),
        &orchestrator_key(),
    );
    let expect = SegmentExpectation {
        profiles: LADDER.to_vec(),
        source_width: out.source.width,
        source_height: out.source.height,
        source_duration_us: out.source.duration_us,
        source_hash: rendition_hash(src),
        orchestrator: orchestrator_key().address(),
        price: PRICE,
    };
    (claim, expect)
}

fn cheap_step(
    v: &Verifier,
    expect: &SegmentExpectation,
    claim: &TranscodeClaim,
    out: &gpu_encode::SegmentOutput,
    limits: &Limits,
) -> usize {
    let facts: Vec<RenditionFacts> = out
        .renditions
        .iter()
        .map(|r| {
            let p = probe(&r.data, limits).unwrap();
            RenditionFacts {
                width: p.width,
                height: p.height,
                frames: p.frames,
                duration_us: p.duration_us,
                fps: Fps::new(p.fps.0, p.fps.1).ok(),
                hash: rendition_hash(&r.data),
            }
        })
        .collect();
    let faults = v.cheap(expect, claim, &facts);
    assert!(faults.is_empty(), "{faults:?}");
    faults.len()
}

fn perceptual_step(
    v: &Verifier,
    claim: &TranscodeClaim,
    local: &mut Transcoder,
    src: &[u8],
    rendition: &[u8],
    index: usize,
) -> usize {
    let profile = LADDER[index];
    let limits = Limits::default();
    // One decode and scale of the source give the reference and the verifier's own
    // (`ultrafast`, one thread) encode of the profile.
    let (reference, own) = local.reference_and_encode(src, &profile).unwrap();
    let own = decode_segment(&own.data, &limits).unwrap().frames;
    let decoded = decode_segment(rendition, &limits).unwrap().frames;
    let report = v.perceptual(claim, index as u32, &reference, Some(&own), &decoded).unwrap();
    assert!(report.faults.is_empty(), "{:?}", report.faults);
    report.metrics.len()
}

fn verify_bench(c: &mut Criterion) {
    let d = dir();
    let (src_path, src) = source(&d);
    if std::env::var("SKIP_TRANSCODE").is_err() {
        transcode_figures(&src_path, &src, &d);
    }
    let mut cfg = TranscoderConfig::new(LADDER.to_vec());
    cfg.preset = PRESET.into();
    let mut t = Transcoder::new(cfg).unwrap();
    let out = t.transcode(&src).unwrap();
    let limits = Limits::default();
    let (claim, expect) = claim_for(&out, &src);
    let verifier = Verifier::new(VerifierConfig::default(), [9; 32]);
    let mut group = c.benchmark_group("verify_2s_segment");
    group.sample_size(10);
    group.bench_function("cheap_checks_3_renditions", |b| {
        b.iter(|| cheap_step(&verifier, &expect, &claim, &out, &limits))
    });
    // Perceptual metrics only (frames already decoded): 8 sampled frames vs the naive
    // baseline computing PSNR and SSIM over all 60 frames.
    let reference = t.reference_frames(&src, &Profile::P720P30).unwrap();
    let decoded = decode_segment(&out.renditions[0].data, &limits).unwrap().frames;
    group.bench_function("perceptual_720p_8_sampled_frames", |b| {
        b.iter(|| verifier.perceptual(&claim, 0, &reference, Some(&decoded), &decoded).unwrap())
    });
    group.bench_function("baseline_psnr_ssim_all_frames", |b| {
        b.iter(|| {
            (metrics::psnr_y(&reference, &decoded).unwrap(), metrics::ssim_y(&reference, &decoded).unwrap())
        })
    });
    group.bench_function("decode_720p_rendition", |b| {
        b.iter(|| decode_segment(&out.renditions[0].data, &limits).unwrap())
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&d);
}

criterion_group!(benches, verify_bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
