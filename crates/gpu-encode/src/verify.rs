//! The whole verifier on one source segment and one rendition: what the `verdict` example
//! runs (local reference encode, cheap checks, perceptual checks with the frames a secret
//! picks).

use transcode_verify::{
    ClaimPrice, Fault, Fps, Profile, RenditionClaim, RenditionFacts, SecretKey, SegmentExpectation,
    TranscodeClaim, U256, Verdict, Verifier, VerifierConfig, metrics, rendition_hash,
};

use crate::error::Error;
use crate::transcoder::{Limits, Transcoder, TranscoderConfig, decode_segment, probe};

/// The verdict on one rendition of one source segment.
#[derive(Clone, Debug, PartialEq)]
pub struct RenditionVerdict {
    /// Every fault found, as a readable reason (empty: the rendition passes).
    pub faults: Vec<String>,
    /// Luma PSNR of the rendition against the uncompressed reference over all frames
    /// (FFmpeg `psnr` `y`); `None` when the rendition could not be compared (unreadable,
    /// other resolution).
    pub psnr_y: Option<f64>,
    /// Mean luma SSIM over all frames (FFmpeg `ssim` `Y`); `None` as for `psnr_y`.
    pub ssim: Option<f64>,
}

impl RenditionVerdict {
    /// Whether no fault was found.
    pub fn passed(&self) -> bool {
        self.faults.is_empty()
    }

    /// The one-line JSON object of the `verdict` tool:
    /// `{"verdict": "pass" | "fault", "faults": [...], "psnr_y": ..., "ssim": ...}`.
    /// A metric that was not computed is `null`; the PSNR of identical frames is the
    /// string `"inf"` (as FFmpeg's `psnr` filter writes it).
    pub fn to_json(&self) -> String {
        let faults: Vec<String> = self.faults.iter().map(|f| json_string(f)).collect();
        let num = |v: Option<f64>| match v {
            None => "null".to_string(),
            Some(v) if v.is_finite() => format!("{v:.6}"),
            Some(v) if v > 0.0 => "\"inf\"".to_string(),
            Some(_) => "null".to_string(),
        };
        format!(
            "{{\"verdict\": \"{}\", \"faults\": [{}], \"psnr_y\": {}, \"ssim\": {}}}",
            if self.passed() { "pass" } else { "fault" },
            faults.join(", "),
            num(self.psnr_y),
            num(self.ssim)
        )
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The tool has no orchestrator's claim: the rendition file stands for what was
/// delivered, so the claim is built from its own facts and signed with this fixed local
/// key (the signature, orchestrator and price checks pass by construction; the tool
/// judges content only).
const TOOL_KEY: [u8; 32] = [1; 32];

/// The price the tool's claims state (not judged).
const TOOL_PRICE: ClaimPrice = ClaimPrice { price_per_unit: U256::zero(), pixels_per_unit: U256::one() };

/// The 32-byte sampling secret for the tool's `--secret N`: keccak256 of `N` (8 bytes,
/// little endian).
pub fn secret_from_u64(n: u64) -> [u8; 32] {
    rendition_hash(&n.to_le_bytes())
}

/// Runs the whole verifier on `rendition` as the `profile` rendition of `source`:
/// the verifier's local encode and uncompressed reference
/// ([`Transcoder::reference_and_encode`] on [`TranscoderConfig::verifier_local`]), the
/// cheap checks (resolution, frame count, duration, frame rate, pixel count) and the
/// perceptual checks on the frames `secret` samples (the segment is always checked).
///
/// An unreadable source (or one the verifier cannot transcode) is an `Err`: there is
/// nothing to judge against. An unreadable rendition is a fault with the reason.
pub fn verify_rendition(
    source: &[u8],
    rendition: &[u8],
    profile: Profile,
    secret: [u8; 32],
    limits: &Limits,
) -> Result<RenditionVerdict, Error> {
    let src = probe(source, limits)?;
    let mut session =
        Transcoder::new(TranscoderConfig { limits: *limits, ..TranscoderConfig::verifier_local(profile) })?;
    let (reference, own) = session.reference_and_encode(source, &profile)?;
    let local = decode_segment(&own.data, limits)?.frames;
    let unreadable = |e: Error| RenditionVerdict {
        faults: vec![format!("unreadable rendition: {e}")],
        psnr_y: None,
        ssim: None,
    };
    let facts = match probe(rendition, limits) {
        Ok(f) => f,
        Err(e) => return Ok(unreadable(e)),
    };
    let decoded = match decode_segment(rendition, limits) {
        Ok(d) => d.frames,
        Err(e) => return Ok(unreadable(e)),
    };
    let hash = rendition_hash(rendition);
    let key = SecretKey::from_bytes(TOOL_KEY)
        .map_err(|e| Error::Profile(transcode_verify::Error::Decode { reason: format!("tool key: {e}") }))?;
    let expect = SegmentExpectation {
        profiles: vec![profile],
        source_width: src.width,
        source_height: src.height,
        source_duration_us: src.duration_us,
        source_hash: rendition_hash(source),
        orchestrator: key.address(),
        price: TOOL_PRICE,
    };
    let claim = TranscodeClaim::signed(
        [0; 32],
        0,
        expect.source_hash,
        TOOL_PRICE,
        vec![RenditionClaim {
            profile: profile.name.into(),
            width: facts.width,
            height: facts.height,
            frames: facts.frames,
            pixels: facts.frames.saturating_mul(u64::from(facts.width) * u64::from(facts.height)),
            hash,
        }],
        &key,
    );
    let observed = [RenditionFacts {
        width: facts.width,
        height: facts.height,
        frames: facts.frames,
        duration_us: facts.duration_us,
        fps: Fps::new(facts.fps.0, facts.fps.1).ok(),
        hash,
    }];
    let verifier = Verifier::new(VerifierConfig::default(), secret);
    let cheap = verifier.cheap(&expect, &claim, &observed);
    let same_size = reference
        .first()
        .zip(decoded.first())
        .is_some_and(|(a, b)| (a.width(), a.height()) == (b.width(), b.height()));
    let mut reports = Vec::new();
    let mut extra = Vec::new();
    if same_size {
        match verifier.perceptual(&claim, 0, &reference, Some(&local), &decoded) {
            Ok(r) => reports.push((0, r)),
            Err(e) => extra.push(format!("perceptual check failed: {e}")),
        }
    } else if cheap.is_empty() {
        extra.push("rendition frames do not match the reference size".to_string());
    }
    let (psnr_y, ssim) = if same_size {
        (metrics::psnr_y(&reference, &decoded).ok(), metrics::ssim_y(&reference, &decoded).ok())
    } else {
        (None, None)
    };
    let mut faults: Vec<String> = match verifier.verdict(&claim, cheap, true, reports) {
        Verdict::Fault(ev) => ev.faults.iter().map(describe).collect(),
        Verdict::Passed { .. } | Verdict::PassedCheap => Vec::new(),
    };
    faults.extend(extra);
    Ok(RenditionVerdict { faults, psnr_y, ssim })
}

/// A fault as one readable line (its variant and fields).
fn describe(f: &Fault) -> String {
    format!("{f:?}")
}
