//! Decodes two segments of the same resolution and prints one JSON line
//! `{"frames":N,"psnr_y":…,"ssim_y":…}` computed by transcode-verify: `psnr_y` is
//! 10·log10(255²/MSE) over all luma samples of the first N frames (FFmpeg's `psnr` filter
//! `y`), `ssim_y` the mean luma SSIM (FFmpeg's `ssim` filter form).
//!
//! `cargo run --release -p gpu-encode --example segment_quality -- REFERENCE RENDITION`
#![allow(clippy::disallowed_methods)]

use std::process::ExitCode;

use gpu_encode::{Limits, decode_segment};
use transcode_verify::metrics;

fn run() -> Result<String, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [reference, rendition] = args.as_slice() else {
        return Err("usage: segment_quality REFERENCE RENDITION".into());
    };
    let read = |p: &str| std::fs::read(p).map_err(|e| format!("{p}: {e}"));
    let limits = Limits { max_input_bytes: 1 << 30, max_duration_us: 3_600_000_000, ..Limits::default() };
    let a = decode_segment(&read(reference)?, &limits).map_err(|e| format!("{reference}: {e}"))?;
    let b = decode_segment(&read(rendition)?, &limits).map_err(|e| format!("{rendition}: {e}"))?;
    if (a.info.width, a.info.height) != (b.info.width, b.info.height) {
        return Err(format!(
            "resolutions differ: {}x{} vs {}x{}",
            a.info.width, a.info.height, b.info.width, b.info.height
        ));
    }
    let frames = a.frames.len().min(b.frames.len());
    let psnr = metrics::psnr_y(&a.frames, &b.frames).map_err(|e| e.to_string())?;
    let ssim = metrics::ssim_y(&a.frames, &b.frames).map_err(|e| e.to_string())?;
    let psnr = if psnr.is_finite() { format!("{psnr:.6}") } else { "\"inf\"".into() };
    Ok(format!("{{\"frames\":{frames},\"psnr_y\":{psnr},\"ssim_y\":{ssim:.6}}}"))
}

fn main() -> ExitCode {
    match run() {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
