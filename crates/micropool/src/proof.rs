//! How a payee checks the pool at handshake: a Merkle proof of the reserve record
//! against a state root the host trusts (from a finalized block header).
//!
//! The payee machine depends only on the [`StateProofVerifier`] trait, so an embedder
//! with another state commitment can bring its own. The default is the Ethereum Merkle
//! Patricia trie of the `mpt-refcount` crate: [`MptStateProof`] for a plain trie keyed
//! by [`crate::reserve_key`] (already a keccak hash, as the ledger stores it), and
//! [`MptSecureStateProof`] for a secure (keccak-keyed) trie.

use std::collections::BTreeMap;

use primitives::{H256, keccak256};

use crate::error::ProofError;

/// Checks a Merkle proof that `key` maps to a value (or to nothing) in the state whose
/// root is `state_root`.
pub trait StateProofVerifier {
    /// `Ok(Some(value))` if the proof shows `key` present with `value`, `Ok(None)` if it
    /// proves `key` absent, `Err` if the proof is invalid for `state_root`.
    fn verify(&self, state_root: H256, key: &[u8], proof: &[Vec<u8>]) -> Result<Option<Vec<u8>>, ProofError>;
}

impl<V: StateProofVerifier + ?Sized> StateProofVerifier for &V {
    fn verify(&self, state_root: H256, key: &[u8], proof: &[Vec<u8>]) -> Result<Option<Vec<u8>>, ProofError> {
        (**self).verify(state_root, key, proof)
    }
}

/// Merkle Patricia proofs against a plain Ethereum trie (`mpt_refcount::verify_proof`,
/// with its default size limits on hostile proofs).
#[derive(Debug, Clone, Copy, Default)]
pub struct MptStateProof;

impl StateProofVerifier for MptStateProof {
    fn verify(&self, state_root: H256, key: &[u8], proof: &[Vec<u8>]) -> Result<Option<Vec<u8>>, ProofError> {
        mpt_refcount::verify_proof(state_root, key, proof).map_err(|e| ProofError { reason: e.to_string() })
    }
}

/// Merkle Patricia proofs against a secure trie, where `key` is hashed with keccak256
/// before the lookup (`mpt_refcount::verify_secure_proof`).
#[derive(Debug, Clone, Copy, Default)]
pub struct MptSecureStateProof;

impl StateProofVerifier for MptSecureStateProof {
    fn verify(&self, state_root: H256, key: &[u8], proof: &[Vec<u8>]) -> Result<Option<Vec<u8>>, ProofError> {
        mpt_refcount::verify_secure_proof(state_root, key, proof)
            .map_err(|e| ProofError { reason: e.to_string() })
    }
}

/// A toy commitment for tests and examples, not a Merkle trie: the "state root" is
/// keccak256 of the sorted `(key, value)` pairs, and the "proof" is the whole state,
/// RLP-encoded pair by pair. It checks that the proof hashes to the root, then looks
/// the key up. Sound (a forged value changes the root) but proof size is the state size.
#[derive(Debug, Clone, Copy, Default)]
pub struct ToyStateProof;

impl ToyStateProof {
    /// Commits to `state`: returns `(root, proof)`.
    pub fn commit(state: &BTreeMap<Vec<u8>, Vec<u8>>) -> (H256, Vec<Vec<u8>>) {
        let proof: Vec<Vec<u8>> = state
            .iter()
            .map(|(k, v)| {
                let mut s = primitives::rlp::RlpStream::new_list(2);
                s.append(k).append(v);
                s.out().to_vec()
            })
            .collect();
        (Self::root_of(&proof), proof)
    }

    fn root_of(proof: &[Vec<u8>]) -> H256 {
        keccak256(primitives::rlp::encode_list::<Vec<u8>, Vec<u8>>(proof))
    }
}

impl StateProofVerifier for ToyStateProof {
    fn verify(&self, state_root: H256, key: &[u8], proof: &[Vec<u8>]) -> Result<Option<Vec<u8>>, ProofError> {
        if Self::root_of(proof) != state_root {
            return Err(ProofError { reason: "proof does not hash to the state root".into() });
        }
        for item in proof {
            let r = primitives::rlp::Rlp::new(item);
            let k: Vec<u8> = r.val_at(0).map_err(|e| ProofError { reason: e.to_string() })?;
            if k == key {
                let v: Vec<u8> = r.val_at(1).map_err(|e| ProofError { reason: e.to_string() })?;
                return Ok(Some(v));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toy_proof_is_sound() {
        let mut state = BTreeMap::new();
        state.insert(b"a".to_vec(), b"1".to_vec());
        state.insert(b"b".to_vec(), b"2".to_vec());
        let (root, proof) = ToyStateProof::commit(&state);
        assert_eq!(ToyStateProof.verify(root, b"a", &proof).unwrap(), Some(b"1".to_vec()));
        assert_eq!(ToyStateProof.verify(root, b"c", &proof).unwrap(), None);
        state.insert(b"a".to_vec(), b"9".to_vec());
        let (_, forged) = ToyStateProof::commit(&state);
        assert!(ToyStateProof.verify(root, b"a", &forged).is_err());
    }
}
