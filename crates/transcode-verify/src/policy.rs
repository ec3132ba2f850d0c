//! Secret sampling: which segments and which frames get the expensive checks.

use sha3::{Digest, Keccak256};

/// A keyed hash: keccak256(domain ‖ secret ‖ data). Keccak has no length-extension
/// weakness, so this is a PRF as long as `secret` stays with the verifier.
pub(crate) fn keyed(domain: &[u8], secret: &[u8; 32], data: &[u8]) -> [u8; 32] {
    let mut h = Keccak256::new();
    h.update(domain);
    h.update(secret);
    h.update(data);
    h.finalize().into()
}

/// Samples 1 in `rate` segments with a secret seed. The orchestrator sees segment ids but
/// not the seed, so it cannot tell which segments will be checked and must transcode every
/// one honestly (Livepeer Streamflow, "verification": probabilistic, fault-based).
#[derive(Clone)]
pub struct SamplingPolicy {
    rate: u32,
    secret: [u8; 32],
}

impl std::fmt::Debug for SamplingPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SamplingPolicy").field("rate", &self.rate).finish_non_exhaustive()
    }
}

impl SamplingPolicy {
    /// Sample 1 in `rate` segments (`rate` 0 or 1 samples every segment).
    pub fn new(rate: u32, secret: [u8; 32]) -> Self {
        Self { rate: rate.max(1), secret }
    }

    /// The sampling rate.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Whether segment `segment_id` gets the perceptual checks.
    pub fn is_sampled(&self, segment_id: &[u8]) -> bool {
        let h = keyed(b"meshcast/transcode-verify/segment", &self.secret, segment_id);
        let mut v = [0u8; 8];
        v.copy_from_slice(&h[..8]);
        u64::from_be_bytes(v) % u64::from(self.rate) == 0
    }

    /// `k` distinct secret rendition indices in `0..n` (sorted): on a sampled segment the
    /// verifier checks these renditions perceptually, so the orchestrator cannot cheat
    /// on any rung of the ladder without risking detection.
    pub fn renditions(&self, segment_id: &[u8], n: usize, k: usize) -> Vec<usize> {
        self.frames(segment_id, u32::MAX, n, k)
    }

    /// `k` distinct secret frame indices in `0..n` (sorted), for rendition `rendition`.
    pub fn frames(&self, segment_id: &[u8], rendition: u32, n: usize, k: usize) -> Vec<usize> {
        if k >= n {
            return (0..n).collect();
        }
        let mut picked = std::collections::BTreeSet::new();
        let mut counter = 0u64;
        while picked.len() < k {
            let mut data = segment_id.to_vec();
            data.extend_from_slice(&rendition.to_be_bytes());
            data.extend_from_slice(&counter.to_be_bytes());
            let h = keyed(b"meshcast/transcode-verify/frame", &self.secret, &data);
            let mut v = [0u8; 8];
            v.copy_from_slice(&h[..8]);
            picked.insert((u64::from_be_bytes(v) % n as u64) as usize);
            counter += 1;
        }
        picked.into_iter().collect()
    }
}
