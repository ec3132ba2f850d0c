//! secp256k1 recoverable ECDSA signatures, Ethereum style (DESIGN.md section 3).
//!
//! Backend: `libsecp256k1` through the `secp256k1` crate. It was chosen over the pure-Rust
//! `k256` by the `primitives` criterion bench (`cargo bench -p meshcast-benches --bench
//! primitives`): recovery, the operation every cheque and ticket check pays for, is
//! about twice as fast; see `docs/benchmarks.md`.

use core::fmt;

use parity_scale_codec::{Decode, Encode, Input, MaxEncodedLen};
use primitive_types::{H160, H256};
use secp256k1::Message;
use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};

use crate::{Error, keccak256};

/// A 20-byte Ethereum address: the last 20 bytes of keccak256 of the uncompressed
/// public key without its `0x04` prefix.
pub type Address = H160;

/// Half the secp256k1 group order, big-endian: the largest `s` accepted (low-S rule,
/// EIP-2).
const HALF_ORDER: [u8; 32] = [
    0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x5d,
    0x57, 0x6e, 0x73, 0x57, 0xa4, 0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0,
];

/// A secp256k1 secret key. Its `Debug` output never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(secp256k1::SecretKey);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({:?})", self.address())
    }
}

impl SecretKey {
    /// A key from 32 big-endian bytes; zero and values not below the group order are
    /// rejected.
    pub fn from_bytes(bytes: [u8; 32]) -> Result<Self, Error> {
        secp256k1::SecretKey::from_secret_bytes(bytes).map(SecretKey).map_err(|_| Error::BadSecretKey)
    }

    /// A key from 64 hex digits (optional `0x`).
    pub fn from_hex(s: &str) -> Result<Self, Error> {
        Self::from_bytes(crate::codec::from_hex_array::<32>(s)?)
    }

    /// The 32 secret bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_secret_bytes()
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(secp256k1::PublicKey::from_secret_key(&self.0))
    }

    /// The Ethereum address of this key.
    pub fn address(&self) -> Address {
        self.public_key().address()
    }

    /// Signs a 32-byte digest with an RFC 6979 deterministic nonce. The result is
    /// always low-S.
    pub fn sign_prehash(&self, digest: &H256) -> Signature {
        let sig = RecoverableSignature::sign_ecdsa_recoverable(Message::from_digest(digest.0), &self.0);
        let (id, rs) = sig.serialize_compact();
        let mut r = [0u8; 32];
        let mut s = [0u8; 32];
        r.copy_from_slice(&rs[..32]);
        s.copy_from_slice(&rs[32..]);
        Signature { r, s, recovery_id: id.to_u8() }
    }

    /// Signs `message` as an EIP-191 personal message (`personal_sign`).
    pub fn sign_personal(&self, message: &[u8]) -> Signature {
        self.sign_prehash(&eip191_hash(message))
    }
}

/// Signs 32-byte digests with a key the calling machine does not hold.
///
/// Every protocol machine that signs (a micropool payer or payee, a ticket sender, a
/// validator) takes its key through this trait, so an embedder can plug in a remote
/// signer or a hardware wallet. The workspace ships the implementation for
/// [`SecretKey`].
pub trait Signer {
    /// The address signatures recover to.
    fn address(&self) -> Address;
    /// A recoverable, low-S signature over `digest` (the caller chooses the digest:
    /// EIP-191, a Theta sign-bytes hash, a ticket hash …).
    fn sign_digest(&self, digest: &H256) -> Signature;
}

impl Signer for SecretKey {
    fn address(&self) -> Address {
        SecretKey::address(self)
    }
    fn sign_digest(&self, digest: &H256) -> Signature {
        self.sign_prehash(digest)
    }
}

/// A secp256k1 public key.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PublicKey(secp256k1::PublicKey);

impl PublicKey {
    /// The 65-byte uncompressed SEC1 encoding (`0x04 ‖ x ‖ y`).
    pub fn to_uncompressed(&self) -> [u8; 65] {
        self.0.serialize_uncompressed()
    }

    /// The Ethereum address of this key.
    pub fn address(&self) -> Address {
        let uncompressed = self.to_uncompressed();
        let hash = keccak256(&uncompressed[1..]);
        Address::from_slice(&hash.as_bytes()[12..])
    }
}

/// A 65-byte recoverable signature `r ‖ s ‖ v` with `v ∈ {27, 28}` and low `s`.
///
/// Constructed values are always canonical: [`Signature::from_bytes`] rejects high-S
/// and any other `v`, so one signer and digest have exactly one accepted encoding.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Signature {
    r: [u8; 32],
    s: [u8; 32],
    recovery_id: u8,
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", crate::codec::to_hex(self.to_bytes()))
    }
}

impl Signature {
    /// Encoded length.
    pub const LEN: usize = 65;

    /// The `r` scalar, big-endian.
    pub fn r(&self) -> &[u8; 32] {
        &self.r
    }

    /// The `s` scalar, big-endian (always in the lower half of the order).
    pub fn s(&self) -> &[u8; 32] {
        &self.s
    }

    /// The Ethereum `v` byte: 27 or 28.
    pub fn v(&self) -> u8 {
        self.recovery_id + 27
    }

    /// `r ‖ s ‖ v` with `v ∈ {27, 28}`.
    pub fn to_bytes(&self) -> [u8; 65] {
        let mut out = [0u8; 65];
        out[..32].copy_from_slice(&self.r);
        out[32..64].copy_from_slice(&self.s);
        out[64] = self.v();
        out
    }

    /// Parses `r ‖ s ‖ v`, accepting only `v ∈ {27, 28}`, `0 < r, s < n` and low `s`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        Self::parse(bytes, false)
    }

    /// Like [`Signature::from_bytes`] but also accepts `v ∈ {0, 1}` (as some libraries
    /// emit); the value is normalised, so `to_bytes` gives `v ∈ {27, 28}`.
    pub fn from_bytes_lenient(bytes: &[u8]) -> Result<Self, Error> {
        Self::parse(bytes, true)
    }

    fn parse(bytes: &[u8], lenient: bool) -> Result<Self, Error> {
        let bytes: &[u8; 65] =
            bytes.try_into().map_err(|_| Error::BadLength { expected: 65, got: bytes.len() })?;
        let recovery_id = match bytes[64] {
            27 | 28 => bytes[64] - 27,
            0 | 1 if lenient => bytes[64],
            v => return Err(Error::BadRecoveryByte(v)),
        };
        let mut r = [0u8; 32];
        let mut s = [0u8; 32];
        r.copy_from_slice(&bytes[..32]);
        s.copy_from_slice(&bytes[32..64]);
        if s > HALF_ORDER {
            return Err(Error::HighS);
        }
        if r == [0u8; 32] || s == [0u8; 32] {
            return Err(Error::BadSignatureScalar);
        }
        // r < n is checked by libsecp256k1 when the compact form is parsed.
        let sig = Signature { r, s, recovery_id };
        sig.to_secp()?;
        Ok(sig)
    }

    fn to_secp(self) -> Result<RecoverableSignature, Error> {
        let mut rs = [0u8; 64];
        rs[..32].copy_from_slice(&self.r);
        rs[32..].copy_from_slice(&self.s);
        let id = RecoveryId::try_from(i32::from(self.recovery_id))
            .map_err(|_| Error::BadRecoveryByte(self.v()))?;
        RecoverableSignature::from_compact(&rs, id).map_err(|_| Error::BadSignatureScalar)
    }

    /// Recovers the public key that signed `digest`.
    pub fn recover_public(&self, digest: &H256) -> Result<PublicKey, Error> {
        let sig = self.to_secp()?;
        sig.recover_ecdsa(Message::from_digest(digest.0)).map(PublicKey).map_err(|_| Error::RecoveryFailed)
    }

    /// Recovers the address that signed `digest`.
    pub fn recover(&self, digest: &H256) -> Result<Address, Error> {
        Ok(self.recover_public(digest)?.address())
    }

    /// Checks that `expected` signed `digest`.
    pub fn verify(&self, digest: &H256, expected: Address) -> Result<(), Error> {
        let recovered = self.recover(digest)?;
        if recovered == expected { Ok(()) } else { Err(Error::WrongSigner { recovered, expected }) }
    }

    /// Recovers the signer of an EIP-191 personal message.
    pub fn recover_personal(&self, message: &[u8]) -> Result<Address, Error> {
        self.recover(&eip191_hash(message))
    }
}

/// The EIP-191 (version `0x45`, `personal_sign`) digest of `message`:
/// `keccak256("\x19Ethereum Signed Message:\n" ‖ len(message) ‖ message)`, the length
/// written in decimal.
pub fn eip191_hash(message: &[u8]) -> H256 {
    let len = message.len().to_string();
    crate::keccak256_concat([b"\x19Ethereum Signed Message:\n".as_slice(), len.as_bytes(), message])
}

impl rlp::Encodable for Signature {
    fn rlp_append(&self, s: &mut rlp::RlpStream) {
        // `encode_value`, not `append`: the caller's `append` already counts this item.
        s.encoder().encode_value(&self.to_bytes());
    }
}

impl rlp::Decodable for Signature {
    fn decode(rlp: &rlp::Rlp<'_>) -> Result<Self, rlp::DecoderError> {
        // `data()` would also hand back a list's payload: a signature is a byte string.
        if !rlp.is_data() {
            return Err(rlp::DecoderError::RlpExpectedToBeData);
        }
        let bytes = rlp.data()?;
        Signature::from_bytes(bytes).map_err(|_| rlp::DecoderError::Custom("invalid signature"))
    }
}

impl Encode for Signature {
    fn size_hint(&self) -> usize {
        65
    }
    fn encode_to<T: parity_scale_codec::Output + ?Sized>(&self, dest: &mut T) {
        dest.write(&self.to_bytes());
    }
}

impl Decode for Signature {
    fn decode<I: Input>(input: &mut I) -> Result<Self, parity_scale_codec::Error> {
        let mut bytes = [0u8; 65];
        input.read(&mut bytes)?;
        Signature::from_bytes(&bytes).map_err(|_| "invalid signature".into())
    }
}

impl MaxEncodedLen for Signature {
    fn max_encoded_len() -> usize {
        65
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example key of the web3.js `accounts` documentation.
    const WEB3_KEY: &str = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";

    #[test]
    fn address_of_published_key() {
        let key = SecretKey::from_hex(WEB3_KEY).unwrap();
        assert_eq!(format!("{:?}", key.address()), "0x2c7536e3605d9c16a7a3d7b1898e529396a65c23");
    }

    #[test]
    fn signature_produced_by_web3js_recovers() {
        // web3.eth.accounts.sign('Some data', WEB3_KEY) from the web3.js documentation.
        let sig = crate::codec::from_hex(
            "0xb91467e570a6466aa9e9876cbcd013baba02900b8979d43fe208a4a4f339f5fd\
             6007e74cd82e037b800186422fc2da167c747ef045e5d18a5f5d4300f8e1a0291c",
        )
        .unwrap();
        let sig = Signature::from_bytes(&sig).unwrap();
        assert_eq!(
            format!("{:x}", eip191_hash(b"Some data")),
            "1da44b586eb0729ff70a73c326926f6ed5a25f5b056e7f47fbc6e58d86871655"
        );
        let key = SecretKey::from_hex(WEB3_KEY).unwrap();
        assert_eq!(sig.recover_personal(b"Some data").unwrap(), key.address());
        // RFC 6979 is deterministic: we produce the very same bytes.
        assert_eq!(key.sign_personal(b"Some data"), sig);
    }

    #[test]
    fn rejects_malleable_and_malformed() {
        let key = SecretKey::from_bytes([7u8; 32]).unwrap();
        let digest = keccak256(b"x");
        let sig = key.sign_prehash(&digest);
        let mut bytes = sig.to_bytes();
        assert_eq!(Signature::from_bytes(&bytes).unwrap(), sig);
        bytes[64] = 1;
        assert_eq!(Signature::from_bytes(&bytes), Err(Error::BadRecoveryByte(1)));
        assert_eq!(Signature::from_bytes_lenient(&bytes).unwrap().v(), 28);
        bytes[64] = 27;
        bytes[32..64].copy_from_slice(&[0xff; 32]);
        assert_eq!(Signature::from_bytes(&bytes), Err(Error::HighS));
        assert!(matches!(Signature::from_bytes(&bytes[..64]), Err(Error::BadLength { .. })));
        let mut zero = sig.to_bytes();
        zero[..32].copy_from_slice(&[0; 32]);
        assert_eq!(Signature::from_bytes(&zero), Err(Error::BadSignatureScalar));
        let mut big_r = sig.to_bytes();
        big_r[..32].copy_from_slice(&[0xff; 32]);
        assert_eq!(Signature::from_bytes(&big_r), Err(Error::BadSignatureScalar));
        assert_eq!(SecretKey::from_bytes([0; 32]), Err(Error::BadSecretKey));
        assert_eq!(SecretKey::from_bytes([0xff; 32]), Err(Error::BadSecretKey));
    }

    #[test]
    fn verify_names_the_wrong_signer() {
        let a = SecretKey::from_bytes([1u8; 32]).unwrap();
        let b = SecretKey::from_bytes([2u8; 32]).unwrap();
        let digest = keccak256(b"m");
        let sig = a.sign_prehash(&digest);
        assert!(sig.verify(&digest, a.address()).is_ok());
        assert_eq!(
            sig.verify(&digest, b.address()),
            Err(Error::WrongSigner { recovered: a.address(), expected: b.address() })
        );
    }

    #[test]
    fn codecs_round_trip() {
        let sig = SecretKey::from_bytes([3u8; 32]).unwrap().sign_prehash(&keccak256(b"c"));
        let rlp_bytes = rlp::encode(&sig);
        assert_eq!(crate::codec::rlp_decode::<Signature>(&rlp_bytes, 100).unwrap(), sig);
        // Inside a list, the signature is one item (a regression test: it used to be
        // counted twice, making the list malformed).
        let mut list = rlp::RlpStream::new_list(2);
        list.append(&sig).append(&7u8);
        let bytes = list.out();
        let rlp = rlp::Rlp::new(&bytes);
        assert_eq!(rlp.item_count().unwrap(), 2);
        assert_eq!(rlp.val_at::<Signature>(0).unwrap(), sig);
        assert_eq!(rlp.val_at::<u8>(1).unwrap(), 7);
        // A list whose payload is a valid signature is not a signature (found by
        // libFuzzer: it decoded, and re-encoded as a string, so it was not canonical).
        let mut as_list = rlp_bytes.to_vec();
        as_list[0] = 0xf8;
        assert!(crate::codec::rlp_decode::<Signature>(&as_list, 100).is_err());
        let scale = sig.encode();
        assert_eq!(scale.len(), 65);
        assert_eq!(Signature::decode(&mut &scale[..]).unwrap(), sig);
    }
}
