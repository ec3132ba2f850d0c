//! Cheap checks, run on every segment: they need container facts only, no decoding.

use primitives::Address;

use crate::claim::{ClaimPrice, TranscodeClaim};
use crate::profile::{Fps, Profile};
use crate::verdict::Fault;

/// What the verifier knows about the source segment and the job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentExpectation {
    /// The ladder the orchestrator was paid for.
    pub profiles: Vec<Profile>,
    /// Source width.
    pub source_width: u32,
    /// Source height.
    pub source_height: u32,
    /// Source duration, microseconds.
    pub source_duration_us: u64,
    /// keccak256 of the source segment.
    pub source_hash: [u8; 32],
    /// The orchestrator the segment was sent to: the claim must name it and be signed
    /// by it.
    pub orchestrator: Address,
    /// The price agreed with it for this segment.
    pub price: ClaimPrice,
}

/// Facts the verifier read from a rendition's bytes (container probe + hash).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenditionFacts {
    /// Coded width.
    pub width: u32,
    /// Coded height.
    pub height: u32,
    /// Frames (video packets).
    pub frames: u64,
    /// Duration, microseconds.
    pub duration_us: u64,
    /// Declared frame rate, if the stream declares one.
    pub fps: Option<Fps>,
    /// keccak256 of the bytes.
    pub hash: [u8; 32],
}

/// Runs the cheap checks and returns every fault found (empty = pass): the claim's
/// signature recovers to the orchestrator it names, which is the one hired, at the agreed
/// price, then the container facts. Frame counts and
/// durations are allowed one frame of slack (segment boundaries round).
pub fn cheap_checks(
    expect: &SegmentExpectation,
    claim: &TranscodeClaim,
    observed: &[RenditionFacts],
) -> Vec<Fault> {
    let mut faults = Vec::new();
    if claim.verify_signature().is_err() {
        faults.push(Fault::BadSignature);
    }
    if claim.orchestrator != expect.orchestrator {
        faults.push(Fault::WrongOrchestrator { expected: expect.orchestrator, claimed: claim.orchestrator });
    }
    if claim.price != expect.price {
        faults.push(Fault::PriceMismatch { expected: expect.price, claimed: claim.price });
    }
    if claim.source_hash != expect.source_hash {
        faults.push(Fault::SourceMismatch);
    }
    let n = expect.profiles.len();
    if claim.renditions.len() != n || observed.len() != n {
        faults.push(Fault::RenditionCount {
            expected: n as u32,
            claimed: claim.renditions.len() as u32,
            found: observed.len() as u32,
        });
    }
    for (i, ((p, c), o)) in expect.profiles.iter().zip(&claim.renditions).zip(observed).enumerate() {
        let r = i as u32;
        if c.hash != o.hash {
            faults.push(Fault::HashMismatch { rendition: r });
        }
        // By the profile named, so a claim may use go-livepeer's name or its alias.
        if Profile::by_name(&c.profile) != Some(*p) {
            faults.push(Fault::WrongProfile { rendition: r });
        }
        match p.output_size(expect.source_width, expect.source_height) {
            Ok((w, h)) if (w, h) != (o.width, o.height) || (c.width, c.height) != (o.width, o.height) => {
                faults.push(Fault::Resolution { rendition: r, expected: (w, h), found: (o.width, o.height) });
            }
            _ => {}
        }
        let want = p.fps.frames_in(expect.source_duration_us);
        if o.frames.abs_diff(want) > 1 || c.frames != o.frames {
            faults.push(Fault::FrameCount { rendition: r, expected: want, found: o.frames });
        }
        let frame_us = 1_000_000 * u64::from(p.fps.den) / u64::from(p.fps.num.max(1));
        if o.duration_us.abs_diff(expect.source_duration_us) > frame_us + 10_000 {
            faults.push(Fault::Duration {
                rendition: r,
                expected_us: expect.source_duration_us,
                found_us: o.duration_us,
            });
        }
        if let Some(f) = o.fps {
            // Compare as exact fractions: f.num/f.den vs p.num/p.den.
            if u64::from(f.num) * u64::from(p.fps.den) != u64::from(p.fps.num) * u64::from(f.den) {
                faults.push(Fault::FrameRate {
                    rendition: r,
                    expected: (p.fps.num, p.fps.den),
                    found: (f.num, f.den),
                });
            }
        }
        let computed = o.frames * u64::from(o.width) * u64::from(o.height);
        if c.pixels != computed {
            faults.push(Fault::PixelCount { rendition: r, claimed: c.pixels, computed });
        }
    }
    faults
}
