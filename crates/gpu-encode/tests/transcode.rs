//! Real transcodes of tiny clips generated with the `ffmpeg` command line.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::disallowed_methods)]

use std::process::Command;

use gpu_encode::{Error, HwPolicy, Limits, Transcoder, TranscoderConfig, decode_segment, probe};
use transcode_verify::Profile;

/// Generates a clip with the ffmpeg CLI into memory.
fn clip(source: &str, format: &str, seconds: &str) -> Vec<u8> {
    let dir = std::env::temp_dir().join(format!("gpu-encode-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ext = if format == "mp4" { "mp4" } else { "ts" };
    let path = dir.join(format!("{}-{seconds}.{ext}", source.replace([':', '=', ',', '/'], "_")));
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", source, "-t", seconds])
        .args(["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-f", format])
        .arg(&path)
        .status()
        .expect("ffmpeg CLI is installed");
    assert!(status.success());
    let bytes = std::fs::read(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    bytes
}

fn clip_audio() -> Vec<u8> {
    let path = std::env::temp_dir().join(format!("gpu-encode-audio-{}.ts", std::process::id()));
    let status = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440",
            "-t",
            "0.2",
        ])
        .args(["-c:a", "mp2", "-f", "mpegts"])
        .arg(&path)
        .status()
        .unwrap();
    assert!(status.success());
    let bytes = std::fs::read(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    bytes
}

fn session(profiles: Vec<Profile>) -> Transcoder {
    let mut cfg = TranscoderConfig::new(profiles);
    cfg.preset = "ultrafast".into();
    Transcoder::new(cfg).unwrap()
}

#[test]
fn ladder_from_mpegts_has_right_sizes_frames_and_pixels() {
    let src = clip("testsrc2=size=320x240:rate=30", "mpegts", "1");
    let p144_25 = Profile::P144P25;
    let p240_30 = Profile::P240P30;
    let p240_60 = Profile::P240P60;
    let mut t = session(vec![p240_30, p144_25, p240_60]);
    let out = t.transcode(&src).unwrap();
    assert_eq!(out.source.frames, 30);
    assert_eq!(out.source.pixels, 30 * 320 * 240);
    assert_eq!((out.source.width, out.source.height), (320, 240));
    assert_eq!(out.source.duration_us, 1_000_000);
    // 4:3 source in a 16:9 box: height-limited, width even.
    let expect = [(320, 240, 30), (192, 144, 25), (320, 240, 60)];
    for (r, (w, h, n)) in out.renditions.iter().zip(expect) {
        assert_eq!((r.width, r.height, r.frames), (w, h, n), "{}", r.profile.name);
        assert_eq!(r.pixels, u64::from(w * h) * n);
        assert_eq!(r.encoder, "libx264");
        // The muxed segment reads back with the same facts.
        let info = probe(&r.data, &Limits::default()).unwrap();
        assert_eq!((info.width, info.height, info.frames), (w, h, n));
        assert_eq!(info.container, "mpegts");
        assert!((info.duration_us as i64 - 1_000_000).abs() <= 1_000_000 / n as i64, "{info:?}");
        let dec = decode_segment(&r.data, &Limits::default()).unwrap();
        assert_eq!(dec.frames.len() as u64, n);
        assert_eq!(dec.info.pixels, r.pixels);
        assert_eq!(dec.frames[0].width(), w as usize);
    }
    // The session persists: a second segment reuses decoder and scalers.
    let again = t.transcode(&src).unwrap();
    assert_eq!(again.renditions[0].frames, 30);
    assert_eq!(t.segments(), 2);
}

#[test]
fn mp4_input_and_reference_frames() {
    let src = clip("testsrc2=size=320x180:rate=25", "mp4", "0.4");
    let mut t = session(vec![Profile::P144P30]);
    let out = t.transcode(&src).unwrap();
    assert!(out.source.container.contains("mp4"));
    assert_eq!(out.source.frames, 10);
    assert_eq!((out.renditions[0].width, out.renditions[0].height), (256, 144));
    assert_eq!(out.renditions[0].frames, 12);
    let reference = t.reference_frames(&src, &Profile::P144P30).unwrap();
    assert_eq!(reference.len(), 12);
    assert_eq!(reference[0].y.data.len(), 256 * 144);
    assert_eq!(reference[1].pts_us, 33_333);
    // The encoded rendition is close to the uncompressed reference.
    let dec = decode_segment(&out.renditions[0].data, &Limits::default()).unwrap();
    let psnr = transcode_verify::metrics::psnr_y(&reference, &dec.frames).unwrap();
    assert!(psnr > 25.0, "psnr {psnr}");
    // One pass gives the same reference and an encode with the transcode's facts; with
    // one encoder thread the encode is bit-exact between sessions and runs.
    let one_thread = || TranscoderConfig { threads: 1, ..TranscoderConfig::verifier_local(Profile::P144P30) };
    let mut local = Transcoder::new(one_thread()).unwrap();
    let (both_ref, own) = local.reference_and_encode(&src, &Profile::P144P30).unwrap();
    assert_eq!(both_ref, reference);
    assert_eq!((own.width, own.height, own.frames, own.pixels), (256, 144, 12, 12 * 256 * 144));
    assert_eq!(local.acceleration(), gpu_encode::Acceleration { cuda_decode: false, nvenc: false });
    let again = Transcoder::new(one_thread()).unwrap().reference_and_encode(&src, &Profile::P144P30).unwrap();
    assert_eq!(again.1.data, own.data);
    assert_eq!(local.reference_and_encode(&src, &Profile::P144P30).unwrap().1.data, own.data);
}

#[test]
fn corrupt_and_hostile_inputs_are_typed_errors() {
    let mut t = session(vec![Profile::P144P30]);
    assert!(matches!(t.transcode(&[]), Err(Error::Corrupt { .. })));
    assert!(matches!(t.transcode(&[0x47; 10]), Err(Error::Corrupt { .. })));
    let junk: Vec<u8> = (0..50_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    assert!(t.transcode(&junk).is_err());
    let src = clip("testsrc2=size=320x240:rate=30", "mpegts", "0.5");
    // Truncated and bit-flipped segments never panic; a truncated header is an error.
    assert!(t.transcode(&src[..100]).is_err());
    for cut in [src.len() / 3, src.len() / 2] {
        let _ = t.transcode(&src[..cut]);
    }
    let mut flipped = src.clone();
    for i in (200..flipped.len()).step_by(97) {
        flipped[i] ^= 0x5a;
    }
    let _ = t.transcode(&flipped);
    // Limits.
    let mut cfg = TranscoderConfig::new(vec![Profile::P144P30]);
    cfg.limits = Limits { max_input_bytes: 1000, ..Limits::default() };
    assert!(matches!(Transcoder::new(cfg).unwrap().transcode(&src), Err(Error::InputTooLarge { .. })));
    let mut cfg = TranscoderConfig::new(vec![Profile::P144P30]);
    cfg.limits = Limits { max_duration_us: 200_000, ..Limits::default() };
    assert!(matches!(Transcoder::new(cfg).unwrap().transcode(&src), Err(Error::InputTooLong { .. })));
    let mut cfg = TranscoderConfig::new(vec![Profile::P144P30]);
    cfg.limits = Limits { max_pixels: 100 * 100, ..Limits::default() };
    assert!(matches!(Transcoder::new(cfg).unwrap().transcode(&src), Err(Error::PictureTooLarge { .. })));
    // An audio-only input has no video stream.
    let audio = clip_audio();
    let r = t.transcode(&audio);
    assert!(matches!(r, Err(Error::NoVideoStream) | Err(Error::Corrupt { .. })), "{r:?}");
    // The session still works after errors.
    assert_eq!(t.transcode(&src).unwrap().renditions[0].frames, 15);
}

#[test]
fn runaway_guard_stops_an_encoder_over_budget() {
    let src = clip("testsrc2=size=320x240:rate=30", "mpegts", "0.5");
    let mut cfg = TranscoderConfig::new(vec![Profile::P144P30]);
    cfg.preset = "ultrafast".into();
    cfg.limits = Limits { runaway_factor: 0, runaway_slack_bytes: 1000, ..Limits::default() };
    let r = Transcoder::new(cfg).unwrap().transcode(&src);
    assert!(matches!(r, Err(Error::RunawayOutput { profile: "P144p30fps16x9", .. })), "{r:?}");
}

#[test]
fn software_policy_uses_libx264() {
    let mut cfg = TranscoderConfig::new(vec![Profile::P144P30]);
    cfg.hw = HwPolicy::SoftwareOnly;
    let t = Transcoder::new(cfg).unwrap();
    assert!(!t.acceleration().nvenc);
    assert!(!t.acceleration().cuda_decode);
}

/// Runs an ffmpeg quality filter over two files and returns its summary line.
fn ffmpeg_filter_summary(filter: &str, a: &std::path::Path, b: &std::path::Path) -> String {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostats", "-i"])
        .arg(b)
        .arg("-i")
        .arg(a)
        .args(["-lavfi", filter, "-f", "null", "-"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains("Parsed_"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn field(summary: &str, key: &str) -> f64 {
    let at = summary.find(key).unwrap_or_else(|| panic!("{key} in {summary}")) + key.len();
    summary[at..].split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn psnr_and_ssim_match_ffmpeg_filters() {
    let dir = std::env::temp_dir().join(format!("gpu-encode-q-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = clip("testsrc2=size=320x240:rate=25", "mpegts", "0.4");
    let mut t = session(vec![Profile::P240P25]);
    let out = t.transcode(&src).unwrap();
    let (a, b) = (dir.join("a.ts"), dir.join("b.ts"));
    std::fs::write(&a, &src).unwrap();
    std::fs::write(&b, &out.renditions[0].data).unwrap();
    let da = decode_segment(&src, &Limits::default()).unwrap();
    let db = decode_segment(&out.renditions[0].data, &Limits::default()).unwrap();
    assert_eq!(da.frames.len(), db.frames.len());
    let ours_psnr = transcode_verify::metrics::psnr_y(&da.frames, &db.frames).unwrap();
    let ours_ssim = transcode_verify::metrics::ssim_y(&da.frames, &db.frames).unwrap();
    let psnr = ffmpeg_filter_summary("psnr", &a, &b);
    let ssim = ffmpeg_filter_summary("ssim", &a, &b);
    let _ = std::fs::remove_dir_all(&dir);
    let ff_psnr = field(&psnr, " y:");
    let ff_ssim = field(&ssim, " Y:");
    assert!((ours_psnr - ff_psnr).abs() < 0.01, "ours {ours_psnr} ffmpeg {ff_psnr}");
    assert!((ours_ssim - ff_ssim).abs() < 0.001, "ours {ours_ssim} ffmpeg {ff_ssim}");
}
