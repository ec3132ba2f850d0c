//! Harnesses for the decoders in `bls-gossip`: the gossip message (signer vector +
//! signature) and the signer vector alone.

use std::sync::Arc;

use bls_gossip::{Aggregate, Bls, GossipMessage, SignerVector};

/// Guardian-set sizes the harness decodes against (the first input byte picks one).
const SIZES: [usize; 4] = [1, 7, 64, 1000];

/// A gossip aggregate message from untrusted bytes (real BLS signature parsing with the
/// subgroup check); what decodes must re-encode to the same bytes.
pub fn aggregate_message(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else { return };
    let n = SIZES[usize::from(pick) % SIZES.len()];
    if let Ok(msg) = GossipMessage::<Bls>::decode(rest, n, 4096) {
        assert_eq!(msg.encode(), rest, "aggregate messages are canonical");
        assert_eq!(msg.encoded_len(), rest.len());
    }
}

/// A signer vector from untrusted bytes.
pub fn signer_vector(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else { return };
    let n = SIZES[usize::from(pick) % SIZES.len()];
    if let Ok(v) = SignerVector::decode(rest, n, 4096) {
        assert_eq!(v.encode(), rest, "signer vectors are canonical");
        assert!(v.distinct() <= n);
    }
}

/// Seeds: valid encodings (sparse and dense vectors, a real signature).
pub fn seeds() -> Vec<Vec<u8>> {
    let sk = bls_gossip::bls::SecretKey::key_gen(&[5; 32]).expect("valid ikm");
    let sig = sk.sign(b"seed");
    let mut out = Vec::new();
    for (pick, counts) in [
        (1u8, vec![0u8, 3, 0, 1, 0, 0, 200]),
        (2, (0..64).map(|i| (i % 3) as u8).collect()),
        (3, (0..1000).map(|i| u8::from(i % 7 == 0)).collect()),
    ] {
        let v = SignerVector::from_counts(&counts);
        let msg = GossipMessage::<Bls>::new(42, Aggregate { signers: Arc::new(v.clone()), signature: sig });
        let mut m = vec![pick];
        m.extend(msg.encode());
        out.push(m);
        let mut s = vec![pick];
        s.extend(v.encode());
        out.push(s);
    }
    out
}
