//! The workspace's default [`Context`]: one validator set, an optional signing key, and
//! guardian finality checked against a `bls_gossip::GuardianSet`.

use std::sync::Arc;

use bls_gossip::{GossipMessage, GuardianSet, Scheme};

use crate::Error;
use crate::checkpoint::guardian_message;
use crate::schedule::SetSchedule;
use crate::types::{Checkpoint, Context};
use crate::validators::{KeyBytes, ValidatorIndex, ValidatorSet};

/// Largest guardian finality proof accepted (a gossip message: instance, signer vector,
/// 96-byte aggregate).
pub const MAX_FINALITY_PROOF: usize = 64 * 1024;

/// The guardians in force and the hash that names them in checkpoint messages.
#[derive(Clone, Debug)]
pub struct Guardians<S: Scheme> {
    /// The set (keys PoP-checked when staked).
    pub set: Arc<GuardianSet<S>>,
    /// Its hash, as signed in `bls_gossip::checkpoint_message`.
    pub set_hash: [u8; 32],
}

/// A fixed validator set, our key (if we are a validator), the guardians (if any), and
/// payloads from a caller-supplied function.
#[derive(Clone)]
pub struct StaticContext<S: Scheme> {
    set: Arc<ValidatorSet<S>>,
    schedule: SetSchedule<S>,
    key: Option<(ValidatorIndex, S::SecretKey)>,
    guardians: Option<Guardians<S>>,
    payload: fn(ValidatorIndex, u64) -> Vec<u8>,
}

impl<S: Scheme> core::fmt::Debug for StaticContext<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("StaticContext").field("me", &self.key.as_ref().map(|k| k.0)).finish_non_exhaustive()
    }
}

fn default_payload(proposer: ValidatorIndex, height: u64) -> Vec<u8> {
    let mut p = height.to_be_bytes().to_vec();
    p.extend_from_slice(&proposer.to_be_bytes());
    p
}

impl<S: Scheme> StaticContext<S> {
    /// A context for validator `key.0` (or an observer when `key` is `None`). Payloads
    /// default to `height ‖ proposer` (big-endian).
    pub fn new(set: Arc<ValidatorSet<S>>, key: Option<(ValidatorIndex, S::SecretKey)>) -> Self {
        StaticContext {
            schedule: SetSchedule::new(set.clone()),
            set,
            key,
            guardians: None,
            payload: default_payload,
        }
    }

    /// A context whose validator sets follow `schedule` (its genesis set and changes).
    pub fn with_schedule(schedule: SetSchedule<S>, key: Option<(ValidatorIndex, S::SecretKey)>) -> Self {
        StaticContext {
            set: schedule.genesis().clone(),
            schedule,
            key,
            guardians: None,
            payload: default_payload,
        }
    }

    /// With guardian finality checked against `guardians`.
    pub fn with_guardians(mut self, guardians: Guardians<S>) -> Self {
        self.guardians = Some(guardians);
        self
    }

    /// With the ledger's change to `set`, decided in the block at height `decided_at`
    /// (effective from `decided_at + SET_CHANGE_LAG`). Changes must come in increasing
    /// height order.
    pub fn with_set_change(mut self, decided_at: u64, set: Arc<ValidatorSet<S>>) -> Result<Self, Error> {
        self.schedule.decide(decided_at, set)?;
        Ok(self)
    }

    /// The set schedule (genesis set and changes).
    pub fn schedule(&self) -> &SetSchedule<S> {
        &self.schedule
    }

    /// With payloads from `f(proposer, height)`.
    pub fn with_payload(mut self, f: fn(ValidatorIndex, u64) -> Vec<u8>) -> Self {
        self.payload = f;
        self
    }
}

impl<S: Scheme + KeyBytes> Context for StaticContext<S> {
    type Scheme = S;

    fn validator_set(&self) -> &Arc<ValidatorSet<S>> {
        &self.set
    }

    fn validator_set_for(&self, height: u64) -> Option<Arc<ValidatorSet<S>>> {
        Some(self.schedule.set_for(height).clone())
    }

    fn set_since(&self, height: u64) -> Option<u64> {
        Some(self.schedule.since(height))
    }

    fn sign(&self, msg: &[u8]) -> Option<(ValidatorIndex, S::Signature)> {
        self.key.as_ref().map(|(i, sk)| (*i, S::sign(sk, msg)))
    }

    fn me(&self) -> Option<ValidatorIndex> {
        self.key.as_ref().map(|k| k.0)
    }

    fn payload(&mut self, height: u64) -> Vec<u8> {
        (self.payload)(self.me().unwrap_or(0), height)
    }

    /// `proof` is a `bls_gossip::GossipMessage` for instance `checkpoint.height` whose
    /// aggregate verifies over [`guardian_message`] and whose distinct signers hold more
    /// than 2/3 of guardian stake.
    fn verify_finality(&self, checkpoint: &Checkpoint, proof: &[u8]) -> Result<bool, Error> {
        let Some(g) = &self.guardians else { return Ok(false) };
        let msg = GossipMessage::<S>::decode(proof, g.set.len(), MAX_FINALITY_PROOF)?;
        if msg.instance() != checkpoint.height {
            return Ok(false);
        }
        let agg = msg.aggregate();
        if !g.set.is_quorum(&agg.signers) {
            return Ok(false);
        }
        Ok(agg.verify(g.set.keys(), &guardian_message(checkpoint, &g.set_hash))?)
    }
}
