//! Harnesses for the decoders of untrusted bytes in `transcode-verify`: the
//! orchestrator's signed claim and fault evidence.

use transcode_verify::{
    ClaimPrice, Evidence, Fault, FrameMetrics, RenditionClaim, SecretKey, TranscodeClaim, U256,
};

const LIMIT: usize = 64 * 1024;

/// A claim from untrusted bytes: decoding is canonical (re-encoding gives the input) and
/// the digest is computable.
pub fn claim(data: &[u8]) {
    if let Ok(c) = TranscodeClaim::from_bytes(data, LIMIT) {
        assert_eq!(c.to_bytes(), data, "claims are canonical");
        let _ = c.digest();
        let _ = c.segment_id();
        let _ = c.verify_signature();
    }
}

/// Fault evidence from untrusted bytes.
pub fn evidence(data: &[u8]) {
    if let Ok(e) = Evidence::from_bytes(data, LIMIT) {
        assert_eq!(e.to_bytes(), data, "evidence is canonical");
        for f in &e.faults {
            let _ = f.is_cheap();
        }
    }
}

/// Seeds: valid encodings to mutate from.
pub fn seeds() -> Vec<Vec<u8>> {
    let Ok(key) = SecretKey::from_bytes([7; 32]) else { return Vec::new() };
    let claim = TranscodeClaim::signed(
        [1; 32],
        42,
        [2; 32],
        ClaimPrice { price_per_unit: U256::from(3u8), pixels_per_unit: U256::one() },
        vec![RenditionClaim {
            profile: "P360p30fps16x9".into(),
            width: 640,
            height: 360,
            frames: 60,
            pixels: 60 * 640 * 360,
            hash: [3; 32],
        }],
        &key,
    );
    let m =
        FrameMetrics { frame: 3, psnr_y_cdb: 3500, psnr_uv_cdb: 4000, ssim_y_e4: 9800, outlier_blocks_e4: 0 };
    let evidence = Evidence {
        claim: claim.clone(),
        faults: vec![
            Fault::BlackFrame { rendition: 0, frame: 4 },
            Fault::Resolution { rendition: 0, expected: (640, 360), found: (480, 270) },
            Fault::LowQuality { rendition: 0, metrics: m },
        ],
        metrics: vec![(0, vec![m])],
    };
    vec![claim.to_bytes(), evidence.to_bytes()]
}
