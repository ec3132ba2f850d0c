//! The orchestrator's signed claim about a transcoded segment, and its codec.

use parity_scale_codec::{Decode, Encode};
use sha3::{Digest, Keccak256};

use crate::error::Error;

/// Version byte of the claim and evidence encodings.
pub const CODEC_VERSION: u8 = 1;

/// keccak256 of a rendition's bytes: the hash the orchestrator signs.
pub fn rendition_hash(bytes: &[u8]) -> [u8; 32] {
    Keccak256::digest(bytes).into()
}

/// What the orchestrator says about one rendition.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct RenditionClaim {
    /// Profile name from [`crate::Profile::TABLE`].
    pub profile: String,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Encoded frames.
    pub frames: u64,
    /// Encoded pixels: Σ w·h over frames (what the broadcaster pays for).
    pub pixels: u64,
    /// keccak256 of the rendition's MPEG-TS bytes.
    pub hash: [u8; 32],
}

/// The orchestrator's signed statement: "these renditions are the transcode of this
/// source segment". Fault evidence carries it so a third party can check the signature.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct TranscodeClaim {
    /// Stream identifier (e.g. the manifest id).
    pub stream_id: [u8; 32],
    /// Segment sequence number within the stream.
    pub sequence: u64,
    /// keccak256 of the source segment bytes.
    pub source_hash: [u8; 32],
    /// The renditions, in ladder order.
    pub renditions: Vec<RenditionClaim>,
    /// The orchestrator's signature over [`TranscodeClaim::digest`] (scheme chosen by
    /// the embedder through [`ClaimSignature`]; 65-byte secp256k1 in meshcast).
    pub signature: Vec<u8>,
}

impl TranscodeClaim {
    /// The segment id used for sampling: stream id ‖ sequence.
    pub fn segment_id(&self) -> Vec<u8> {
        let mut v = self.stream_id.to_vec();
        v.extend_from_slice(&self.sequence.to_be_bytes());
        v
    }

    /// The signed digest: keccak256(domain ‖ SCALE(claim without signature)).
    pub fn digest(&self) -> [u8; 32] {
        let mut h = Keccak256::new();
        h.update(b"meshcast/transcode-claim/v1");
        h.update((&self.stream_id, self.sequence, &self.source_hash, &self.renditions).encode());
        h.finalize().into()
    }

    /// Versioned SCALE encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        encode_versioned(self)
    }

    /// Decodes a claim from untrusted bytes of at most `limit` bytes.
    pub fn from_bytes(bytes: &[u8], limit: usize) -> Result<Self, Error> {
        decode_versioned(bytes, limit)
    }
}

/// The signature scheme over claim digests, supplied by the embedder (meshcast uses
/// secp256k1 recoverable signatures from `primitives`; this crate stays dependency-free).
pub trait ClaimSignature {
    /// Whether `signature` by the expected orchestrator signs `digest`.
    fn verify(&self, digest: &[u8; 32], signature: &[u8]) -> bool;
}

pub(crate) fn encode_versioned<T: Encode>(v: &T) -> Vec<u8> {
    let mut out = vec![CODEC_VERSION];
    v.encode_to(&mut out);
    out
}

pub(crate) fn decode_versioned<T: Decode>(bytes: &[u8], limit: usize) -> Result<T, Error> {
    if bytes.len() > limit {
        return Err(Error::TooLarge { len: bytes.len(), limit });
    }
    let Some((&version, mut rest)) = bytes.split_first() else {
        return Err(Error::Decode { reason: "empty input".into() });
    };
    if version != CODEC_VERSION {
        return Err(Error::Version { found: version, expected: CODEC_VERSION });
    }
    let v = T::decode(&mut rest).map_err(|e| Error::Decode { reason: e.to_string() })?;
    if !rest.is_empty() {
        return Err(Error::Decode { reason: format!("{} trailing bytes", rest.len()) });
    }
    Ok(v)
}
