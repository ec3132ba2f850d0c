//! State proofs: what a light client (a caching edge checking a viewer's reserve before it
//! serves on credit, a wallet checking a balance) verifies against a state root it trusts,
//! without the state.
//!
//! A [`StateProof`] is the trie nodes on a key's path, root first (mpt-refcount's
//! inclusion/exclusion proof); it proves the key's value or its absence. Its wire form is
//! `RLP([node, …])`, at most [`MAX_PROOF_NODES`] nodes and [`MAX_PROOF_BYTES`] bytes,
//! decoded canonically and without panics. [`Ledger::prove_account`] and
//! [`Ledger::prove_reserve`] make them for a retained state; [`verify_account`] and
//! [`verify_reserve`] check one and decode the value.
//!
//! ```
//! use ledger::proof::{StateProof, verify_account};
//! use ledger::{Genesis, Ledger, LedgerConfig, PruningPolicy};
//! use primitives::Address;
//!
//! let genesis = Genesis::from_json(r#"{"chain_id":"privatenet","accounts":[
//!     {"address":"0x2e833968e5bb786ae419c4d13189fb081cc43bab","theta":"5","tfuel":"7"}]}"#)?;
//! let l = Ledger::from_genesis(mpt_refcount::MemoryStore::new(), LedgerConfig::theta("privatenet"),
//!     &genesis, PruningPolicy { keep_last: 4 })?;
//! let who: Address = "0x2e833968e5bb786ae419c4d13189fb081cc43bab".parse()?;
//! let bytes = l.prove_account(0, &who)?.encode();
//! // On the light client, with the root it trusts:
//! let proof = StateProof::decode(&bytes)?;
//! let account = verify_account(l.root(), &who, &proof)?.expect("funded at genesis");
//! assert_eq!(account.coins.tfuel_wei, 7u64.into());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use micropool::ReservedFund;
use mpt_refcount::{NodeStore, ProofLimits};
use primitives::rlp::{Rlp, RlpStream};
use primitives::{Address, H256};

use crate::error::ExecError;
use crate::ledger::Ledger;
use crate::state::{Account, account_key, reserve_key};

/// Most nodes in a proof (a ledger key's path is far shorter).
pub const MAX_PROOF_NODES: usize = 64;

/// Most bytes in an encoded proof.
pub const MAX_PROOF_BYTES: usize = 64 * 1024;

/// The trie nodes on one key's path, root first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateProof {
    /// The nodes.
    pub nodes: Vec<Vec<u8>>,
}

/// Why a proof was not made or does not prove anything.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The encoded proof is malformed or over the limits.
    #[error("malformed proof: {0}")]
    Malformed(String),
    /// The proof does not lead from the root to the key (a wrong or tampered node).
    #[error("the proof does not verify: {0}")]
    Invalid(String),
    /// The proven value does not decode as the record the key holds.
    #[error(transparent)]
    Value(#[from] ExecError),
    /// The state asked for is not retained.
    #[error("no retained state at height {height}")]
    NotRetained {
        /// The height.
        height: u64,
    },
}

impl StateProof {
    /// `RLP([node, …])`.
    pub fn encode(&self) -> Vec<u8> {
        let mut s = RlpStream::new_list(self.nodes.len());
        for n in &self.nodes {
            s.append(&n.as_slice());
        }
        s.out().to_vec()
    }

    /// Decodes untrusted bytes: at most [`MAX_PROOF_BYTES`] and [`MAX_PROOF_NODES`], one
    /// RLP list of byte strings, nothing trailing, canonical only. Never panics.
    pub fn decode(bytes: &[u8]) -> Result<Self, ProofError> {
        let bad = |s: String| ProofError::Malformed(s);
        if bytes.len() > MAX_PROOF_BYTES {
            return Err(bad(format!("{} bytes, at most {MAX_PROOF_BYTES}", bytes.len())));
        }
        let r = Rlp::new(bytes);
        let info = r.payload_info().map_err(|e| bad(e.to_string()))?;
        if info.header_len + info.value_len != bytes.len() || !r.is_list() {
            return Err(bad("not one list".into()));
        }
        let n = r.item_count().map_err(|e| bad(e.to_string()))?;
        if n > MAX_PROOF_NODES {
            return Err(bad(format!("{n} nodes, at most {MAX_PROOF_NODES}")));
        }
        let mut nodes = Vec::with_capacity(n);
        for item in r.iter() {
            nodes.push(item.data().map_err(|e| bad(e.to_string()))?.to_vec());
        }
        let proof = StateProof { nodes };
        if proof.encode() != bytes {
            return Err(bad("non-canonical".into()));
        }
        Ok(proof)
    }
}

fn limits() -> ProofLimits {
    ProofLimits { max_nodes: MAX_PROOF_NODES, max_bytes: MAX_PROOF_BYTES, ..ProofLimits::default() }
}

fn verify(root: H256, key: &[u8], proof: &StateProof) -> Result<Option<Vec<u8>>, ProofError> {
    mpt_refcount::verify_proof_with_limits(root, key, &proof.nodes, &limits())
        .map_err(|e| ProofError::Invalid(e.to_string()))
}

/// The account `address` under `root`, as `proof` proves it: `Some` if present, `None` if
/// the proof shows it absent (a zero account).
pub fn verify_account(
    root: H256,
    address: &Address,
    proof: &StateProof,
) -> Result<Option<Account>, ProofError> {
    let key = account_key(address);
    verify(root, &key, proof)?.map(|v| Account::decode(&key, &v).map_err(ProofError::from)).transpose()
}

/// The reserve `(source, reserve_seq)` under `root`, as `proof` proves it (`None`:
/// no such reserve).
pub fn verify_reserve(
    root: H256,
    source: &Address,
    reserve_seq: u64,
    proof: &StateProof,
) -> Result<Option<ReservedFund>, ProofError> {
    let key = reserve_key(source, reserve_seq);
    verify(root, &key, proof)?
        .map(|v| crate::state::decode_reserve(&key, &v).map_err(ProofError::from))
        .transpose()
}

impl<S: NodeStore> Ledger<S> {
    fn prove(&self, height: u64, key: &[u8]) -> Result<StateProof, ProofError> {
        let root = self.root_at(height).ok_or(ProofError::NotRetained { height })?;
        let nodes = mpt_refcount::generate_proof(self.store(), root, key)
            .map_err(|e| ProofError::Value(ExecError::from(e)))?;
        Ok(StateProof { nodes })
    }

    /// A proof of `address`'s account (or its absence) in the retained state of `height`.
    pub fn prove_account(&self, height: u64, address: &Address) -> Result<StateProof, ProofError> {
        self.prove(height, &account_key(address))
    }

    /// A proof of the reserve `(source, reserve_seq)` (or its absence) in the retained
    /// state of `height`.
    pub fn prove_reserve(
        &self,
        height: u64,
        source: &Address,
        reserve_seq: u64,
    ) -> Result<StateProof, ProofError> {
        self.prove(height, &reserve_key(source, reserve_seq))
    }
}
