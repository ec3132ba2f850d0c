//! The orchestrator's signed claim about a transcoded segment, and its codec.

use parity_scale_codec::{Decode, Encode};
use primitives::{Address, H256, Signature, Signer, U256};
use sha3::{Digest, Keccak256};

use crate::error::Error;

/// Version byte of the claim and evidence encodings. Version 2 added the orchestrator
/// address and the agreed price to [`TranscodeClaim`] and made its signature a
/// recoverable secp256k1 [`Signature`].
pub const CODEC_VERSION: u8 = 2;

/// Domain tag hashed in front of a claim's fields in [`TranscodeClaim::digest`].
pub const CLAIM_DOMAIN: &[u8] = b"meshcast/transcode-claim/v2";

/// The price agreed for a segment, as go-livepeer's `PriceInfo` states it: `price_per_unit`
/// wei for every `pixels_per_unit` output pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub struct ClaimPrice {
    /// Wei per `pixels_per_unit` pixels.
    pub price_per_unit: U256,
    /// Pixels the price is for (at least 1 in a well-formed price).
    pub pixels_per_unit: U256,
}

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

/// The orchestrator's signed statement: "I, `orchestrator`, transcoded this source
/// segment into these renditions at this price". Fault evidence carries it so a third
/// party can check the signature and slash the address it recovers to.
///
/// Build one with [`TranscodeClaim::signed`]; changing any field afterwards invalidates
/// the signature ([`TranscodeClaim::verify_signature`]).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct TranscodeClaim {
    /// Stream identifier (e.g. the manifest id).
    pub stream_id: [u8; 32],
    /// Segment sequence number within the stream.
    pub sequence: u64,
    /// keccak256 of the source segment bytes.
    pub source_hash: [u8; 32],
    /// The orchestrator's Ethereum address: the signature must recover to it.
    pub orchestrator: Address,
    /// The price the broadcaster and the orchestrator agreed for this segment.
    pub price: ClaimPrice,
    /// The renditions, in ladder order.
    pub renditions: Vec<RenditionClaim>,
    /// The orchestrator's recoverable secp256k1 signature (65 bytes `r‖s‖v`, low-S)
    /// over [`TranscodeClaim::digest`], made through [`primitives::Signer`].
    pub signature: Signature,
}

impl TranscodeClaim {
    /// A claim signed by `signer`, whose address becomes [`TranscodeClaim::orchestrator`].
    pub fn signed(
        stream_id: [u8; 32],
        sequence: u64,
        source_hash: [u8; 32],
        price: ClaimPrice,
        renditions: Vec<RenditionClaim>,
        signer: &impl Signer,
    ) -> Self {
        let orchestrator = signer.address();
        let digest =
            H256(Self::digest_of(&stream_id, sequence, &source_hash, &orchestrator, &price, &renditions));
        let signature = signer.sign_digest(&digest);
        Self { stream_id, sequence, source_hash, orchestrator, price, renditions, signature }
    }

    /// Signs the claim again with `signer` (after a field changed), naming its address.
    pub fn resign(&mut self, signer: &impl Signer) {
        self.orchestrator = signer.address();
        self.signature = signer.sign_digest(&H256(self.digest()));
    }

    /// Checks that [`TranscodeClaim::signature`] is a valid signature over
    /// [`TranscodeClaim::digest`] by [`TranscodeClaim::orchestrator`].
    pub fn verify_signature(&self) -> Result<(), Error> {
        match self.signature.recover(&H256(self.digest())) {
            Ok(found) if found == self.orchestrator => Ok(()),
            Ok(found) => Err(Error::ClaimSigner { expected: self.orchestrator, found: Some(found) }),
            Err(_) => Err(Error::ClaimSigner { expected: self.orchestrator, found: None }),
        }
    }

    /// The segment id used for sampling: stream id ‖ sequence.
    pub fn segment_id(&self) -> Vec<u8> {
        let mut v = self.stream_id.to_vec();
        v.extend_from_slice(&self.sequence.to_be_bytes());
        v
    }

    /// The signed digest: keccak256([`CLAIM_DOMAIN`] ‖ SCALE(stream_id, sequence,
    /// source_hash, orchestrator, price, renditions)), i.e. every field but the signature.
    /// It is signed as is (no EIP-191 prefix): the domain tag already keeps it apart
    /// from transactions and tickets.
    pub fn digest(&self) -> [u8; 32] {
        Self::digest_of(
            &self.stream_id,
            self.sequence,
            &self.source_hash,
            &self.orchestrator,
            &self.price,
            &self.renditions,
        )
    }

    fn digest_of(
        stream_id: &[u8; 32],
        sequence: u64,
        source_hash: &[u8; 32],
        orchestrator: &Address,
        price: &ClaimPrice,
        renditions: &[RenditionClaim],
    ) -> [u8; 32] {
        let mut h = Keccak256::new();
        h.update(CLAIM_DOMAIN);
        h.update((stream_id, sequence, source_hash, orchestrator, price, renditions).encode());
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
