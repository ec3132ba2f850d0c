//! Runs the whole verifier on one source segment and one rendition file and prints one
//! JSON object on its last line:
//! `{"verdict": "pass" | "fault", "faults": ["…"], "psnr_y": …, "ssim": …}`.
//!
//! `cargo run --release -p gpu-encode --example verdict -- SOURCE RENDITION PROFILE [--secret N]`
//!
//! `PROFILE` is a name of the profile table (`P720P30`, `P360P30`, …); `N` (default 0)
//! seeds the secret frame sampling. An unreadable rendition is a `"fault"` with the
//! reason; an unreadable source, an unknown profile or bad arguments exit non-zero with a
//! message on stderr. The logic is `gpu_encode::verify_rendition`.
#![allow(clippy::disallowed_methods)]

use std::process::ExitCode;

use gpu_encode::{Limits, secret_from_u64, verify_rendition};
use transcode_verify::Profile;

const USAGE: &str = "usage: verdict SOURCE RENDITION PROFILE [--secret N]";

fn run() -> Result<String, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (files, secret) = match args.as_slice() {
        [s, r, p] => ([s, r, p], 0u64),
        [s, r, p, flag, n] if flag == "--secret" => {
            ([s, r, p], n.parse().map_err(|e| format!("--secret {n}: {e} (a u64)\n{USAGE}"))?)
        }
        _ => return Err(USAGE.into()),
    };
    let [source, rendition, profile] = files;
    let profile = Profile::by_name(profile).ok_or_else(|| {
        let names: Vec<_> = Profile::TABLE.iter().map(|p| p.name).collect();
        format!("unknown profile {profile}; one of {}", names.join(", "))
    })?;
    let src = std::fs::read(source).map_err(|e| format!("source {source}: {e}"))?;
    let limits = Limits::default();
    let verdict = match std::fs::read(rendition) {
        Ok(bytes) => verify_rendition(&src, &bytes, profile, secret_from_u64(secret), &limits)
            .map_err(|e| format!("source {source}: {e}"))?,
        Err(e) => gpu_encode::RenditionVerdict {
            faults: vec![format!("unreadable rendition: {rendition}: {e}")],
            psnr_y: None,
            ssim: None,
        },
    };
    Ok(verdict.to_json())
}

fn main() -> ExitCode {
    match run() {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("verdict: {e}");
            ExitCode::FAILURE
        }
    }
}
