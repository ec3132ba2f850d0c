//! The verdict tool's library function (`verify_rendition`) on tiny clips made with the
//! `ffmpeg` command line: honest renditions from independent encoder settings pass,
//! tampered ones are faults, bad input never panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::disallowed_methods)]

use std::path::PathBuf;
use std::process::Command;

use gpu_encode::{Error, Limits, secret_from_u64, verify_rendition};
use transcode_verify::Profile;

fn dir() -> PathBuf {
    // One folder per test thread: the tests run in parallel and each removes its own.
    let thread =
        format!("{:?}", std::thread::current().id()).replace(|c: char| !c.is_ascii_alphanumeric(), "");
    let d = std::env::temp_dir().join(format!("gpu-encode-verdict-{}-{thread}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs `ffmpeg` with `args` writing MPEG-TS to a temporary file and returns its bytes.
fn ffmpeg(name: &str, args: &[&str]) -> Vec<u8> {
    let path = dir().join(format!("{name}.ts"));
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .args(["-f", "mpegts"])
        .arg(&path)
        .status()
        .expect("ffmpeg CLI is installed");
    assert!(status.success(), "ffmpeg {args:?}");
    std::fs::read(&path).unwrap()
}

/// A near-lossless source segment from a lavfi graph.
fn source(name: &str, graph: &str, seconds: &str) -> (Vec<u8>, PathBuf) {
    let bytes = ffmpeg(
        name,
        &[
            "-f",
            "lavfi",
            "-i",
            graph,
            "-t",
            seconds,
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-crf",
            "8",
            "-pix_fmt",
            "yuv420p",
        ],
    );
    (bytes, dir().join(format!("{name}.ts")))
}

/// A rendition of `src` through the filter graph `vf` with x264 settings `x264`.
fn rendition(name: &str, src: &std::path::Path, vf: &str, fps: &str, x264: &[&str]) -> Vec<u8> {
    let src = src.to_str().unwrap();
    let mut args = vec!["-i", src, "-vf", vf, "-r", fps, "-c:v", "libx264", "-pix_fmt", "yuv420p"];
    args.extend_from_slice(x264);
    ffmpeg(name, &args)
}

const HONEST: [(&str, &[&str]); 3] = [
    ("medium-cbr", &["-preset", "medium", "-b:v", "1200k", "-maxrate", "1200k", "-bufsize", "1200k"]),
    ("veryfast-crf", &["-preset", "veryfast", "-crf", "23"]),
    ("fast-abr", &["-preset", "fast", "-b:v", "1000k"]),
];

#[test]
fn verdict_passes_honest_and_catches_tampered_and_bad_input() {
    let (src, path) = source("src", "testsrc2=size=320x180:rate=30", "0.5");
    let p = Profile::P144P30;
    let limits = Limits::default();
    for (scaler, (name, x264)) in ["bicubic", "lanczos", "bilinear"].iter().zip(HONEST) {
        let r = rendition(name, &path, &format!("scale=256:144:flags={scaler}"), "30", x264);
        for secret in [0, 7] {
            let v = verify_rendition(&src, &r, p, secret_from_u64(secret), &limits).unwrap();
            assert!(v.passed(), "honest {name} {scaler} secret {secret}: {v:?}");
            assert!(v.psnr_y.unwrap() > 25.0 && v.ssim.unwrap() > 0.8, "{v:?}");
            let json = v.to_json();
            assert!(json.starts_with("{\"verdict\": \"pass\", \"faults\": [], \"psnr_y\": "), "{json}");
            assert!(json.contains(", \"ssim\": 0.") && json.ends_with('}'), "{json}");
        }
    }
    // Wrong resolution: a cheap fault, no metrics.
    let small = rendition("small", &path, "scale=128:72", "30", &["-preset", "veryfast"]);
    let v = verify_rendition(&src, &small, p, secret_from_u64(0), &limits).unwrap();
    assert!(!v.passed() && v.faults[0].starts_with("Resolution"), "{v:?}");
    assert_eq!((v.psnr_y, v.ssim), (None, None));
    assert!(v.to_json().contains("\"psnr_y\": null, \"ssim\": null"));
    // Black frames throughout.
    let black =
        rendition("black", &path, "scale=256:144,drawbox=c=black:t=fill", "30", &["-preset", "veryfast"]);
    let v = verify_rendition(&src, &black, p, secret_from_u64(0), &limits).unwrap();
    assert!(v.faults.iter().any(|f| f.starts_with("BlackFrame")), "{v:?}");
    assert!(v.to_json().starts_with("{\"verdict\": \"fault\", \"faults\": [\"BlackFrame"));
    // An unreadable rendition is a fault with the reason; an unreadable source an error.
    for junk in [Vec::new(), vec![0x47; 500], src[..src.len() / 20].to_vec()] {
        let v = verify_rendition(&src, &junk, p, secret_from_u64(0), &limits).unwrap();
        assert!(!v.passed(), "{v:?}");
    }
    assert!(matches!(
        verify_rendition(&[], &src, p, secret_from_u64(0), &limits),
        Err(Error::Corrupt { .. })
    ));
    // Quotes and control characters in a reason stay valid JSON.
    let v = gpu_encode::RenditionVerdict {
        faults: vec!["a \"b\"\n\\".into()],
        psnr_y: Some(f64::INFINITY),
        ssim: Some(1.0),
    };
    assert_eq!(
        v.to_json(),
        "{\"verdict\": \"fault\", \"faults\": [\"a \\\"b\\\"\\n\\\\\"], \"psnr_y\": \"inf\", \"ssim\": 1.000000}"
    );
    let _ = std::fs::remove_dir_all(dir());
}

/// Quality fraud in real encodes (a 320×180 source, the 256×144 profile, to stay fast):
/// a rendition encoded at half or a third of the size and scaled up, a box blur of
/// radius 2, and 25 fps content re-timed to 30 (a duplicate every sixth frame) are faults
/// under every secret, while honest encodes with other scalers pass.
#[test]
fn verdict_catches_upscaling_blur_and_retiming() {
    let (src, path) = source("fraud-src", "testsrc2=size=320x180:rate=30", "1");
    let p = Profile::P144P30;
    let limits = Limits::default();
    let x264 = ["-preset", "veryfast", "-b:v", "400k"];
    let cases = [
        ("honest-lanczos", "scale=256:144:flags=lanczos", None),
        ("honest-bilinear", "scale=256:144:flags=bilinear", None),
        ("up-half", "scale=128:72,scale=256:144", Some("FineDetailLoss")),
        ("up-third", "scale=86:48,scale=256:144:flags=lanczos", Some("FineDetailLoss")),
        ("blur", "scale=256:144,boxblur=2", Some("FineDetailLoss")),
        ("retime", "fps=25,fps=30,scale=256:144", Some("FrozenFrame")),
    ];
    for (name, vf, want) in cases {
        let r = rendition(name, &path, vf, "30", &x264);
        for secret in [0, 5] {
            let v = verify_rendition(&src, &r, p, secret_from_u64(secret), &limits).unwrap();
            match want {
                None => assert!(v.passed(), "{name} secret {secret}: {v:?}"),
                Some(kind) => {
                    assert!(v.faults.iter().any(|f| f.starts_with(kind)), "{name} secret {secret}: {v:?}")
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(dir());
}
