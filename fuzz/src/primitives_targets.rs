//! Harnesses for the decoders in `primitives`.

use primitives::Signature;
use primitives::codec::{decode_frame, encode_frame, rlp_decode};

/// A 65-byte signature from untrusted bytes (strict and lenient), and its RLP form.
pub fn signature(data: &[u8]) {
    if let Ok(sig) = Signature::from_bytes(data) {
        assert_eq!(sig.to_bytes().as_slice(), data, "strict parse must round-trip");
        let _ = sig.recover(&primitives::keccak256(data));
    }
    if let Ok(sig) = Signature::from_bytes_lenient(data) {
        assert_eq!(Signature::from_bytes(&sig.to_bytes()), Ok(sig));
    }
    if let Ok(sig) = rlp_decode::<Signature>(data, 128) {
        assert_eq!(primitives::rlp::encode(&sig).as_ref(), data);
    }
}

/// A versioned SCALE frame holding a nested structure.
pub fn frame(data: &[u8]) {
    type Payload = (u64, Vec<Vec<u8>>, Option<primitives::Timestamp>);
    if let Ok(value) = decode_frame::<Payload>(data, 1, 4096) {
        assert_eq!(encode_frame(1, &value), data, "frames are canonical");
    }
}

/// Seeds: valid encodings to mutate from.
pub fn seeds() -> Vec<Vec<u8>> {
    let key = primitives::SecretKey::from_bytes([9u8; 32]).expect("valid key");
    let sig = key.sign_prehash(&primitives::keccak256(b"seed"));
    vec![
        sig.to_bytes().to_vec(),
        primitives::rlp::encode(&sig).to_vec(),
        encode_frame(1, &(5u64, vec![vec![1u8, 2], vec![]], Some(primitives::Timestamp(9)))),
    ]
}
