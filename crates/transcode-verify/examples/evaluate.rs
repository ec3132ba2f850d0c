//! Corpus generator and evaluation of the verifier.
//!
//! `cargo run --release -p transcode-verify --example evaluate [-- SOURCES]`
//!
//! Builds source segments with FFmpeg's synthetic sources (moving test pattern,
//! zooming fractal, moving gradients with film-grain noise, cellular automata, game of life), then for each one:
//! honest renditions of the 640x360 30 fps profile (gpu-encode's own transcoder, and the
//! `ffmpeg` command line with other x264 presets, rate controls and scalers) and tampered
//! ones (black frames, frozen frames, overlay, wrong resolution, wrong frame rate, dropped
//! frames, blur, bitrate starvation, colour change, other content, time shift). Every
//! rendition goes through the whole verifier (cheap checks and, with sampling forced,
//! perceptual checks against the local reference from `Transcoder::reference_frames`).
//! Prints the confusion matrix and per-class detection.
//!
//! `EVAL_DIR=DIR` keeps the generated corpus in `DIR` and reuses it on the next run
//! (source `i` is the same whatever the source count); `EVAL_FROM=K` evaluates only
//! sources `K..SOURCES` (a held-out set: the thresholds were calibrated on sources
//! 0–31, see `docs/benchmarks.md`); `EVAL_FEATURES=1` prints the
//! decision features of every sampled frame (`FEAT`), the per-block anomaly persistence
//! (`PERSIST`) and the static rendition frames (`STATIC`) for calibration.
//!
//! Decoding and the reference come from gpu-encode, a dev-dependency only: the
//! transcode-verify library itself never links FFmpeg.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use gpu_encode::{Limits, Transcoder, TranscoderConfig, decode_segment, probe};
use transcode_verify::{
    ClaimPrice, Fault, Fps, Profile, RenditionClaim, RenditionFacts, SecretKey, SegmentExpectation,
    TranscodeClaim, U256, Verdict, Verifier, VerifierConfig, rendition_hash,
};

const PROFILE: Profile = Profile::P360P30;
const SECONDS: &str = "1";

/// The price every evaluated claim states (the evaluation is about content, not price).
const PRICE: ClaimPrice = ClaimPrice { price_per_unit: U256::one(), pixels_per_unit: U256::one() };

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[(self.next() % v.len() as u64) as usize]
    }
}

fn ffmpeg(args: &[String], out: &Path) -> Vec<u8> {
    // With EVAL_DIR set, outputs are kept and reused: the corpus is deterministic per
    // source index, so re-running the verifier on it skips every ffmpeg run.
    if std::env::var_os("EVAL_DIR").is_some()
        && let Ok(bytes) = std::fs::read(out)
    {
        return bytes;
    }
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .arg(out)
        .status()
        .expect("ffmpeg CLI");
    assert!(status.success(), "ffmpeg {args:?}");
    std::fs::read(out).unwrap()
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

/// A synthetic source (lavfi graph) for index `i`.
fn source_graph(i: usize, rng: &mut Rng) -> (String, &'static str) {
    let rate = 30u32; // see docs/transcode.md: other source rates are a known open item
    let size = *rng.pick(&["854x480", "640x360", "640x480"]);
    match i % 5 {
        0 => (format!("testsrc2=size={size}:rate={rate}"), "testsrc2"),
        1 => (
            format!(
                "mandelbrot=size={size}:rate={rate}:maxiter=128:start_scale={}:end_scale=0.01:end_pts=8:start_x=-0.743643887037151:start_y=0.131825904205330",
                rng.range(1, 3)
            ),
            "mandelbrot",
        ),
        2 => (
            format!(
                "gradients=size={size}:rate={rate}:speed=0.05:seed={},noise=alls={}:allf=t+u",
                rng.range(1, 1_000_000),
                rng.range(6, 14)
            ),
            "noise",
        ),
        3 => (
            format!(
                "cellauto=rule={}:size={}x{}:rate={rate}:random_fill_ratio=0.5:seed={},scale={size}:flags=neighbor,format=yuv420p",
                *rng.pick(&[30u32, 90, 110, 150, 18, 22]),
                rng.range(160, 320),
                rng.range(90, 180),
                rng.range(1, 1_000_000)
            ),
            "cellauto",
        ),
        _ => (
            format!(
                "life=size={}x{}:rate={rate}:mold=10:ratio=0.3:seed={}:life_color=#{:06x}:death_color=#{:06x}:mold_color=#{:06x},scale={size}:flags=neighbor,format=yuv420p",
                rng.range(120, 240),
                rng.range(68, 135),
                rng.range(1, 1_000_000),
                rng.next() & 0xffffff,
                rng.next() & 0xffffff,
                rng.next() & 0xffffff
            ),
            "life",
        ),
    }
}

/// Encodes `src` with a filter graph into a 360p30 MPEG-TS rendition.
fn encode(dir: &Path, name: &str, src: &Path, filter: &str, x264: &[&str]) -> Vec<u8> {
    let mut args =
        s(&["-i", src.to_str().unwrap(), "-an", "-vf", filter, "-c:v", "libx264", "-pix_fmt", "yuv420p"]);
    args.extend(s(x264));
    args.extend(s(&["-f", "mpegts"]));
    ffmpeg(&args, &dir.join(name))
}

fn fit(src_w: u32, src_h: u32) -> (u32, u32) {
    PROFILE.output_size(src_w, src_h).unwrap()
}

fn main() {
    let sources: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(50);
    let from: usize = std::env::var("EVAL_FROM").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    let keep = std::env::var_os("EVAL_DIR").map(PathBuf::from);
    let dir: PathBuf = keep.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("transcode-verify-eval-{}", std::process::id()))
    });
    std::fs::create_dir_all(&dir).unwrap();
    let key = SecretKey::from_bytes([7; 32]).expect("a valid secp256k1 key");
    let verifier = Verifier::new(VerifierConfig { rate: 1, ..VerifierConfig::default() }, [42; 32]);
    let mut rng = Rng(2026);
    let limits = Limits::default();
    let kbps = PROFILE.bitrate / 1000;
    let cbr = |b: u64| -> Vec<String> {
        s(&[
            "-b:v",
            &format!("{b}k"),
            "-minrate",
            &format!("{b}k"),
            "-maxrate",
            &format!("{b}k"),
            "-bufsize",
            &format!("{b}k"),
            "-x264-params",
            "nal-hrd=cbr",
        ])
    };
    // class -> (total, flagged, fault kinds)
    let mut table: BTreeMap<&'static str, (u32, u32, BTreeMap<String, u32>)> = BTreeMap::new();
    let mut honest_metrics: Vec<(f64, f64, f64, f64)> = Vec::new();
    let mut prev_source: Option<PathBuf> = None;
    let mut honest_passed_frames = 0usize;
    let dump = std::env::var_os("EVAL_FEATURES").is_some();
    for i in 0..sources {
        let (graph, family) = source_graph(i, &mut rng);
        let src_path = dir.join(format!("src{i}.ts"));
        let src = ffmpeg(
            &s(&[
                "-f",
                "lavfi",
                "-i",
                &graph,
                "-t",
                SECONDS,
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-crf",
                "8",
                "-pix_fmt",
                "yuv420p",
                "-f",
                "mpegts",
            ]),
            &src_path,
        );
        let mut session = Transcoder::new(TranscoderConfig::new(vec![PROFILE])).unwrap();
        // The verifier's side: the uncompressed reference and its own local encode with
        // the weakest preset an honest orchestrator may use (`ultrafast`), so honest
        // renditions are never expected to beat it by much.
        let mut local_session = Transcoder::new(TranscoderConfig::verifier_local(PROFILE)).unwrap();
        // Sources before EVAL_FROM only advance the generator (their files come from the
        // cache); the verifier runs on sources `EVAL_FROM..SOURCES` (a held-out set).
        let held_out = i >= from;
        let (reference, own) = local_session.reference_and_encode(&src, &PROFILE).unwrap();
        let local = decode_segment(&own.data, &limits).unwrap().frames;
        let src_info = decode_segment(&src, &limits).unwrap().info;
        let (w, h) = fit(src_info.width, src_info.height);
        let base = format!("scale={w}:{h}:flags=bicubic,fps=30");
        let n = reference.len() as u64;
        let expect = SegmentExpectation {
            profiles: vec![PROFILE],
            source_width: src_info.width,
            source_height: src_info.height,
            source_duration_us: src_info.duration_us,
            source_hash: rendition_hash(&src),
            orchestrator: key.address(),
            price: PRICE,
        };

        if dump && held_out {
            use transcode_verify::metrics::{mean_abs_diff, thumbnail};
            let mut coh: Vec<f64> = (1..reference.len())
                .filter_map(|k| {
                    let rd = mean_abs_diff(&reference[k].y, &reference[k - 1].y, 2).unwrap();
                    let rd8 =
                        mean_abs_diff(&thumbnail(&reference[k].y, 8), &thumbnail(&reference[k - 1].y, 8), 1)
                            .unwrap();
                    (rd >= 1.0).then_some(rd8 / rd)
                })
                .collect();
            coh.sort_by(f64::total_cmp);
            println!("COH {i} {family} {:.3}", coh.get(coh.len() / 2).copied().unwrap_or(0.0));
        }
        let mut cases: Vec<(&'static str, Vec<u8>)> = Vec::new();
        // Honest: our transcoder, plus the CLI with other presets, rate controls, scalers.
        let ours =
            if held_out { session.transcode(&src).unwrap().renditions.remove(0).data } else { Vec::new() };
        cases.push(("honest", ours));
        for k in 0..5 {
            let preset = *rng.pick(&["ultrafast", "superfast", "veryfast", "faster", "fast", "medium"]);
            let scaler = *rng.pick(&["bicubic", "bilinear", "lanczos", "area", "spline"]);
            let filter = format!("scale={w}:{h}:flags={scaler},fps=30");
            let mut x = s(&["-preset", preset]);
            match k % 3 {
                0 => x.extend(cbr(kbps)),
                1 => x.extend(s(&[
                    "-b:v",
                    &format!("{kbps}k"),
                    "-maxrate",
                    &format!("{}k", kbps * 3 / 2),
                    "-bufsize",
                    &format!("{}k", kbps * 2),
                ])),
                _ => x.extend(s(&[
                    "-crf",
                    "23",
                    "-maxrate",
                    &format!("{kbps}k"),
                    "-bufsize",
                    &format!("{}k", kbps * 2),
                ])),
            }
            let xr: Vec<&str> = x.iter().map(String::as_str).collect();
            cases.push(("honest", encode(&dir, &format!("h{i}_{k}.ts"), &src_path, &filter, &xr)));
        }
        let fast = cbr(kbps);
        let fast: Vec<&str> =
            ["-preset", "veryfast"].into_iter().chain(fast.iter().map(String::as_str)).collect();
        let a = rng.range(3, n.saturating_sub(10).max(4));
        let len = rng.range(2, 6);
        let tamper = |name: &str, filter: String, extra: &[&str]| {
            let mut x: Vec<&str> = fast.clone();
            x.extend_from_slice(extra);
            encode(&dir, &format!("{name}{i}.ts"), &src_path, &filter, &x)
        };
        cases.push((
            "black",
            tamper(
                "black",
                format!("{base},drawbox=t=fill:c=black:enable='between(n,{a},{})'", a + len - 1),
                &[],
            ),
        ));
        // A freeze is only a tamper where it changes what an honest orchestrator delivers:
        // the span must be one where the source moves (reference frame difference ≥ 1.0)
        // and no honest CLI rendition of this source stands still (≤ 0.3) — honest CBR
        // encoders skip frames of pure grain, and freezing exactly there is a no-op. The
        // span keeps the drawn length and starts at the first such place from `a` on
        // (wrapping); only if there is none does it stay at `a` (then labelled no-op
        // below). The choice uses the source and the cached honest renditions only,
        // never the verifier, and draws nothing from the generator.
        let fa = if held_out { moving_span(&reference, &cases[1..], a, len, &limits) } else { a };
        let frozen_span = fa..=fa + len;
        cases.push((
            "frozen",
            if held_out {
                tamper(
                    "freeze",
                    format!(
                        "{base},split[m][r];[m][r]freezeframes=first={fa}:last={}:replace={}",
                        fa + len,
                        fa - 1
                    ),
                    &[],
                )
            } else {
                Vec::new()
            },
        ));
        let (bw, bh) = (rng.range(64, 120), rng.range(40, 80));
        cases.push((
            "overlay",
            tamper(
                "overlay",
                format!(
                    "{base},drawbox=x={}:y={}:w={bw}:h={bh}:t=fill:c=0x{:06x}",
                    rng.range(0, u64::from(w) - bw),
                    rng.range(0, u64::from(h) - bh),
                    rng.next() & 0xffffff
                ),
                &[],
            ),
        ));
        let (sw, sh) = *rng.pick(&[(480u32, 270u32), (w - 2, h), (w, h - 2), (426, 240)]);
        cases.push(("resolution", tamper("res", format!("scale={sw}:{sh},fps=30"), &[])));
        let fps = *rng.pick(&[24u32, 25, 29]);
        cases.push(("frame-rate", tamper("fps", format!("scale={w}:{h},fps={fps}"), &[])));
        cases.push((
            "dropped",
            tamper(
                "drop",
                format!(
                    "{base},select='not(between(n,{a},{}))',setpts=N/30/TB,tpad=stop={len}:stop_mode=clone",
                    a + len - 1
                ),
                &[],
            ),
        ));
        cases.push(("blur", tamper("blur", format!("{base},gblur=sigma={}", rng.range(3, 8)), &[])));
        let starved = cbr(kbps / rng.range(12, 25));
        let starved: Vec<&str> =
            ["-preset", "veryfast"].into_iter().chain(starved.iter().map(String::as_str)).collect();
        cases.push(("starvation", encode(&dir, &format!("starve{i}.ts"), &src_path, &base, &starved)));
        let hue = rng.range(60, 300);
        let options = [
            "hue=h=120".to_string(),
            "hue=s=0".to_string(),
            "colorchannelmixer=rr=0:rb=1:br=1:bb=0".to_string(),
            format!("hue=h={hue}"),
        ];
        // Cellular automata are grey: tint them (a hue change would be a no-op).
        let colour = if family == "cellauto" {
            "colorbalance=rs=0.5:bs=-0.5".to_string()
        } else {
            rng.pick(&options).clone()
        };
        cases.push(("colour", tamper("colour", format!("{base},{colour}"), &[])));
        if let Some(other) = &prev_source {
            cases.push(("other-content", encode(&dir, &format!("other{i}.ts"), other, &base, &fast)));
        }
        let k = rng.range(2, 5);
        cases.push((
            "time-shift",
            tamper(
                "shift",
                format!("{base},trim=start_frame={k},setpts=PTS-STARTPTS,tpad=stop={k}:stop_mode=clone"),
                &[],
            ),
        ));

        // Frames where some honest rendition stands still (d ≤ 0.3): a freeze of the
        // tampered kind placed there is what honest encoders deliver anyway (no-op).
        let mut honest_static = std::collections::BTreeSet::new();
        for (case, (class, bytes)) in cases.into_iter().enumerate().filter(|_| held_out) {
            // The orchestrator signs what it delivers.
            let facts = probe(&bytes, &limits).unwrap();
            let decoded = decode_segment(&bytes, &limits).unwrap();
            if class == "honest" {
                for k in 1..decoded.frames.len() {
                    let d = transcode_verify::metrics::mean_abs_diff(
                        &decoded.frames[k].y,
                        &decoded.frames[k - 1].y,
                        2,
                    )
                    .unwrap();
                    if d <= 0.3 {
                        honest_static.insert(k as u64);
                    }
                }
            }
            let class = if class == "frozen" && frozen_span.clone().any(|k| honest_static.contains(&k)) {
                "frozen (no-op)"
            } else {
                class
            };
            let claim = TranscodeClaim::signed(
                [i as u8; 32],
                i as u64,
                expect.source_hash,
                PRICE,
                vec![RenditionClaim {
                    profile: PROFILE.name.into(),
                    width: facts.width,
                    height: facts.height,
                    frames: facts.frames,
                    pixels: facts.frames * u64::from(facts.width) * u64::from(facts.height),
                    hash: rendition_hash(&bytes),
                }],
                &key,
            );
            let observed = [RenditionFacts {
                width: facts.width,
                height: facts.height,
                frames: facts.frames,
                duration_us: facts.duration_us,
                fps: Fps::new(facts.fps.0, facts.fps.1).ok(),
                hash: rendition_hash(&bytes),
            }];
            let cheap = verifier.cheap(&expect, &claim, &observed);
            let mut reports = Vec::new();
            if cheap.is_empty() && verifier.is_sampled(&claim) {
                let report =
                    verifier.perceptual(&claim, 0, &reference, Some(&local), &decoded.frames).unwrap();
                if dump {
                    // EVAL_FEATURES=1: one line per sampled frame, for calibration.
                    let mut anchor = 0usize;
                    let mut min_ld = f64::INFINITY;
                    for k in 1..decoded.frames.len().min(reference.len()).min(local.len()) {
                        use transcode_verify::metrics::{mean_abs_diff, thumbnail};
                        let d = mean_abs_diff(&decoded.frames[k].y, &decoded.frames[k - 1].y, 2).unwrap();
                        let ld0 = mean_abs_diff(&local[k].y, &local[k - 1].y, 2).unwrap();
                        let rd0 = mean_abs_diff(&reference[k].y, &reference[k - 1].y, 2).unwrap();
                        if rd0 >= 1.0 {
                            min_ld = min_ld.min(ld0);
                        }
                        if !(d <= 0.3 || d < 0.25 * ld0) {
                            anchor = k;
                        }
                        if d <= 0.3 || d < 0.25 * ld0 {
                            let e_same = mean_abs_diff(&decoded.frames[k].y, &reference[k].y, 2).unwrap();
                            let e_anchor =
                                mean_abs_diff(&decoded.frames[k].y, &reference[anchor].y, 2).unwrap();
                            let le = mean_abs_diff(&local[k].y, &reference[k].y, 2).unwrap();
                            println!(
                                "ANCHOR {class} {family} {i} {case} {k} {anchor} {e_same:.3} {e_anchor:.3} {le:.3}"
                            );
                            let rd = mean_abs_diff(&reference[k].y, &reference[k - 1].y, 2).unwrap();
                            let rc = mean_abs_diff(
                                &thumbnail(&reference[k].y, 4),
                                &thumbnail(&reference[k - 1].y, 4),
                                1,
                            )
                            .unwrap();
                            let ld = mean_abs_diff(&local[k].y, &local[k - 1].y, 2).unwrap();
                            let t8 = |f: &[transcode_verify::Frame]| {
                                mean_abs_diff(&thumbnail(&f[k].y, 8), &thumbnail(&f[k - 1].y, 8), 1).unwrap()
                            };
                            let (d8, rd8, ld8) = (t8(&decoded.frames), t8(&reference), t8(&local));
                            println!(
                                "STATIC {class} {family} {i} {case} {k} {d:.3} {rd:.3} {rc:.3} {ld:.3} {d8:.3} {rd8:.3} {ld8:.3}"
                            );
                        }
                    }
                    println!("LSKIP {class} {family} {i} {case} {min_ld:.3}");
                    let mut persist = [0u32; 9];
                    for &c in &report.anomaly_counts {
                        persist[(c as usize).min(8)] += 1;
                    }
                    println!("PERSIST {class} {family} {i} {case} {persist:?}");
                    for f in &report.features {
                        println!(
                            "FEAT {class} {family} {i} {case} {} {:.3} {:.3} {:.4} {:.4} {:.3} {:.3} {:.3} {:.3} {:.3} {:.3} {} {:.3} {:.3} {:.3} {:.3} {}",
                            f.frame,
                            f.psnr_y.0,
                            f.psnr_y.1,
                            f.ssim_y.0,
                            f.ssim_y.1,
                            f.coarse_psnr_y.0,
                            f.coarse_psnr_y.1,
                            f.detail.0,
                            f.detail.1,
                            f.chroma_shift.0,
                            f.chroma_shift.1,
                            f.anomalous_blocks,
                            f.block_error.0,
                            f.block_error.1,
                            f.colour_fit.0,
                            f.colour_fit.1,
                            report.faults.iter().map(fault_name).collect::<Vec<_>>().join(",")
                        );
                    }
                }
                if class == "honest" {
                    if report.faults.is_empty() {
                        honest_passed_frames += report.metrics.len();
                    }
                    for m in &report.metrics {
                        honest_metrics.push((
                            f64::from(m.psnr_y_cdb) / 100.0,
                            f64::from(m.ssim_y_e4) / 1e4,
                            f64::from(m.psnr_uv_cdb) / 100.0,
                            f64::from(m.outlier_blocks_e4) / 1e4,
                        ));
                    }
                }
                reports.push((0, report));
            }
            let verdict = verifier.verdict(&claim, cheap, true, reports);
            let e = table.entry(class).or_default();
            e.0 += 1;
            if let Verdict::Fault(ev) = &verdict {
                e.1 += 1;
                let kind = fault_name(&ev.faults[0]);
                *e.2.entry(kind).or_default() += 1;
                if class == "honest" {
                    println!("FALSE ACCUSATION: source {i} ({family}): {:?}", ev.faults);
                }
                // Evidence round-trips through its codec.
                assert_eq!(transcode_verify::Evidence::from_bytes(&ev.to_bytes(), 1 << 20).unwrap(), **ev);
            } else if class != "honest" {
                println!("MISSED {class}: source {i} ({family}) graph {graph}");
            }
        }
        prev_source = Some(src_path);
        eprint!("\rsource {}/{sources}", i + 1);
    }
    eprintln!();
    print_results(&table, &honest_metrics);
    println!("honest sampled frames in passing renditions: {honest_passed_frames}");
    if keep.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Frame difference (luma, mean absolute, every other sample) between frames `k-1` and `k`.
fn motion(frames: &[transcode_verify::Frame], k: usize) -> f64 {
    transcode_verify::metrics::mean_abs_diff(&frames[k].y, &frames[k - 1].y, 2).unwrap()
}

/// First start `s` from `a` on (wrapping over `3..=n-len-2`) such that over the frozen
/// frames `s..=s+len` the source moves (reference difference ≥ 1.0) and no honest
/// rendition stands still (≤ 0.3); `a` if there is none.
fn moving_span(
    reference: &[transcode_verify::Frame],
    honest: &[(&str, Vec<u8>)],
    a: u64,
    len: u64,
    limits: &Limits,
) -> u64 {
    let honest: Vec<Vec<transcode_verify::Frame>> = honest
        .iter()
        .take_while(|(c, _)| *c == "honest")
        .map(|(_, b)| decode_segment(b, limits).unwrap().frames)
        .collect();
    let n = reference.len() as u64;
    let (lo, hi) = (3u64, n.saturating_sub(len + 2));
    if hi < lo {
        return a;
    }
    let moving = |s: u64| {
        (s..=s + len).all(|k| {
            let k = k as usize;
            motion(reference, k) >= 1.0 && honest.iter().all(|h| k >= h.len() || motion(h, k) > 0.3)
        })
    };
    let span = hi - lo + 1;
    (0..span).map(|d| lo + (a.saturating_sub(lo) + d) % span).find(|&s| moving(s)).unwrap_or(a)
}

fn fault_name(f: &Fault) -> String {
    let s = format!("{f:?}");
    s.split([' ', '{', '(']).next().unwrap_or("").to_string()
}

fn print_results(
    table: &BTreeMap<&'static str, (u32, u32, BTreeMap<String, u32>)>,
    honest: &[(f64, f64, f64, f64)],
) {
    println!("\n| class | renditions | flagged | rate | first fault kinds |");
    println!("|---|---|---|---|---|");
    let (mut t_total, mut t_flag) = (0, 0);
    for (class, (n, f, kinds)) in table {
        let kinds: Vec<String> = kinds.iter().map(|(k, v)| format!("{k}:{v}")).collect();
        println!(
            "| {class} | {n} | {f} | {:.1}% | {} |",
            100.0 * f64::from(*f) / f64::from(*n),
            kinds.join(" ")
        );
        if *class != "honest" {
            t_total += n;
            t_flag += f;
        }
    }
    let (hn, hf) = table.get("honest").map(|(n, f, _)| (*n, *f)).unwrap_or((0, 0));
    let (nn, nf) = table
        .iter()
        .filter(|(c, _)| c.ends_with("(no-op)"))
        .fold((0, 0), |(a, b), (_, (n, f, _))| (a + n, b + f));
    println!("\nconfusion matrix (rows: truth, columns: verdict)");
    println!("|          | pass | fault |");
    println!("| honest   | {:4} | {:5} |", hn - hf, hf);
    println!("| tampered | {:4} | {:5} |", t_total - t_flag, t_flag);
    println!(
        "\ndetection {:.2}% ({t_flag}/{t_total}), false accusations {:.2}% ({hf}/{hn})",
        100.0 * f64::from(t_flag) / f64::from(t_total.max(1)),
        100.0 * f64::from(hf) / f64::from(hn.max(1))
    );
    println!(
        "detection without no-op attacks {:.2}% ({}/{})",
        100.0 * f64::from(t_flag - nf) / f64::from((t_total - nn).max(1)),
        t_flag - nf,
        t_total - nn
    );
    let min = |f: fn(&(f64, f64, f64, f64)) -> f64| honest.iter().map(f).fold(f64::INFINITY, f64::min);
    let max = |f: fn(&(f64, f64, f64, f64)) -> f64| honest.iter().map(f).fold(0.0, f64::max);
    println!(
        "honest sampled frames: {} | min psnr_y {:.2} dB | min ssim_y {:.4} | min psnr_uv {:.2} dB | max outlier blocks {:.4}",
        honest.len(),
        min(|m| m.0),
        min(|m| m.1),
        min(|m| m.2),
        max(|m| m.3)
    );
}
