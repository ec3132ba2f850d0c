//! Slashing from verified evidence (whitepaper v2.0, "Rewards and penalties"; Theta's
//! `ledger/execution/tx_slash.go`; DESIGN.md sections 4.3 and 4.4).
//!
//! A Slash transaction's `slash_proof` bytes hold a [`SlashEvidence`]: either
//! `mlbft-core` double-signing evidence (two conflicting statements by one validator in
//! one epoch) or `micropool` overspend evidence (source-signed cheques of one reserve that
//! promise more than its deposit). [`SlashEvidence::verify`] checks it against what the
//! ledger knows ([`SlashContext`]: the validator committee at a height, the reserve
//! record, the evidence already used) and returns the [`SlashOrder`] the executor applies.
//! Nothing here reads or writes state.
//!
//! # Wire format (`slash_proof`)
//!
//! ```text
//! RLP([version = 1, kind, body])
//!   kind 1 (double signing): body = mlbft_core::Evidence::<Bls>::encode()   (an RLP list)
//!   kind 2 (overspend):      body = RLP list of micropool::SignedCheque      (1..=64 items)
//! ```
//!
//! Decoding takes a size limit (at most [`MAX_SLASH_PROOF_LEN`]), accepts exactly one
//! canonical encoding (no trailing bytes, minimal integers, the embedded evidence and
//! cheques canonical), and returns [`SlashError`] values, never panics.
//!
//! Theta's own `slash_proof` is an RLP `OverspendingProof{ReserveSequence,
//! []ServicePaymentTx}` and Theta has no double-signing slash. This ledger's proof is its
//! own versioned envelope over the workspace's evidence types; a later version can carry
//! Theta `ServicePaymentTx` cheques once `micropool` moves onto Theta's structs.
//!
//! # Rules
//!
//! * **Double signing.** The evidence must verify (`mlbft_core::Evidence::verify`: same
//!   kind, signer and epoch, different blocks, both BLS signatures valid) under the
//!   committee that validated the statements' heights (both heights must have the same
//!   committee). The offence must be at most [`SlashConfig::max_evidence_age`] blocks old
//!   (default Theta's stake return lock, 28 800 blocks, so the stake cannot have left yet)
//!   and not in the future. The order takes `double_sign_slash_bps` of the offender's
//!   stake *in that committee* (default all of it); the reporter receives
//!   `reporter_reward_bps` of it (default none: collusion between the offender and a
//!   reporter must not pay), the rest is burned. The executor takes
//!   `min(amount, stake the offender still holds, locked withdrawals included)`.
//! * **Overspend** (micropool's rule, as `micropool::report_overspend` applies it): the
//!   cheques all name one `(source, reserve_seq)`, each carries the source's valid
//!   signature for the pool's chain id, at most `pool.max_evidence` of them; the reserve
//!   exists and is not slashed; per payee the largest of the settled record's promise and
//!   the cheques' amounts, summed, exceeds the deposit. The penalty is the collateral less
//!   the compensation pool `(collateral − deposit) / 2`, burned or paid to the reporter as
//!   `pool.slash_to` says; the order carries the reserve record after the slash
//!   (collateral = pool, `slashed`, the reporter), which keeps the deposit left and the
//!   pool payable to honest payees until release, where micropool slashes them.
//!   Theta instead pays the collateral and the deposit left to the reporting validator at
//!   once (with a TODO to send it elsewhere against collusion); here payees keep what the
//!   whitepaper promises them.
//! * **Replay.** Each order names an [`SlashOrder::evidence_key`]; the ledger records it
//!   and [`SlashContext::evidence_used`] refuses it again. The key names the *offence*,
//!   not the bytes, so reordered statements or another selection of cheques cannot slash
//!   twice: `keccak256("meshcast/ledger/slash/double-sign/v1" ‖ offender ‖ epoch (8 BE))`
//!   (one slash per validator and epoch) and `keccak256("meshcast/ledger/slash/overspend/v1"
//!   ‖ source ‖ reserve_seq (8 BE))` (one per reserve; the record's `slashed` flag refuses
//!   it as well).
//! * The reporter (the Slash transaction's proposer) cannot be the offender. That the
//!   proposer is a validator and signed is the executor's check, as in Theta.

use std::collections::BTreeMap;

use bls_gossip::Bls;
use micropool::{PoolConfig, ReservedFund, SignedCheque, SlashDestination};
use mlbft_core::{Evidence, MAX_EVIDENCE_LEN, StatementKind, ValidatorIndex, ValidatorSet};
use primitives::rlp::{Rlp, RlpStream};
use primitives::{Address, H256, U256, keccak256_concat};

use crate::rewards::{BASIS_POINTS, mul_div};
use crate::tx::SlashTx;

/// Version byte of the `slash_proof` envelope.
pub const SLASH_PROOF_VERSION: u8 = 1;
/// Envelope kind of double-signing evidence.
pub const KIND_DOUBLE_SIGN: u8 = 1;
/// Envelope kind of overspend evidence.
pub const KIND_OVERSPEND: u8 = 2;
/// Longest `slash_proof` accepted, whatever the caller's limit.
pub const MAX_SLASH_PROOF_LEN: usize = 64 * 1024;
/// Most cheques an overspend proof may carry (micropool's default `max_evidence`).
pub const MAX_OVERSPEND_CHEQUES: usize = 64;
/// Domain of the double-signing replay key.
pub const DOUBLE_SIGN_KEY_DOMAIN: &[u8] = b"meshcast/ledger/slash/double-sign/v1";
/// Domain of the overspend replay key.
pub const OVERSPEND_KEY_DOMAIN: &[u8] = b"meshcast/ledger/slash/overspend/v1";

/// Evidence carried by a Slash transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum SlashEvidence {
    /// Two conflicting statements by one validator in one epoch.
    DoubleSign(Box<Evidence<Bls>>),
    /// Source-signed cheques of one reserve that promise more than its deposit.
    Overspend(Vec<SignedCheque>),
}

/// Everything that can go wrong decoding or verifying slash evidence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SlashError {
    /// The proof is longer than the limit.
    #[error("slash proof of {len} bytes exceeds the limit of {limit}")]
    TooLong {
        /// Its length.
        len: usize,
        /// The limit applied.
        limit: usize,
    },
    /// Not RLP of the envelope's shape.
    #[error("malformed slash proof ({what}): {reason}")]
    Malformed {
        /// The part being decoded.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// An envelope version this ledger does not know.
    #[error("slash proof version {found}, expected {expected}")]
    UnsupportedVersion {
        /// The version found.
        found: u64,
        /// The version supported.
        expected: u8,
    },
    /// An evidence kind this ledger does not know.
    #[error("unknown slash evidence kind {0}")]
    UnknownKind(u64),
    /// The bytes decode but are not the canonical encoding of what they decode to.
    #[error("non-canonical slash proof")]
    NonCanonical,
    /// The double-signing evidence does not decode or does not verify.
    #[error("double-signing evidence: {0}")]
    Evidence(mlbft_core::Error),
    /// An overspend proof with no cheques.
    #[error("overspend proof carries no cheques")]
    NoCheques,
    /// An overspend proof with too many cheques.
    #[error("overspend proof carries {count} cheques, at most {max}")]
    TooManyCheques {
        /// Cheques carried.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A cheque does not decode, or its source signature does not verify.
    #[error("cheque {index}: {source}")]
    Cheque {
        /// Position in the proof.
        index: usize,
        /// micropool's error.
        source: micropool::Error,
    },
    /// The cheques name more than one reserve.
    #[error(
        "cheque {index} is of reserve {found_seq} of {found_source:?}, expected {expected_seq} of {expected_source:?}"
    )]
    MixedReserves {
        /// Position of the first stray cheque.
        index: usize,
        /// The first cheque's source.
        expected_source: Address,
        /// The first cheque's reserve.
        expected_seq: u64,
        /// The stray cheque's source.
        found_source: Address,
        /// The stray cheque's reserve.
        found_seq: u64,
    },
    /// No committee is known for a statement's height.
    #[error("no validator committee known for height {height}")]
    UnknownCommittee {
        /// The height.
        height: u64,
    },
    /// The two statements' heights were validated by different committees.
    #[error("statements at heights {first} and {second} fall under different committees")]
    CommitteeMismatch {
        /// Height of the first statement.
        first: u64,
        /// Height of the second.
        second: u64,
    },
    /// A committee whose address list does not line up with its set.
    #[error("committee has {addresses} addresses for {validators} validators")]
    InvalidCommittee {
        /// Addresses given.
        addresses: usize,
        /// Validators in the set.
        validators: usize,
    },
    /// The offence is older than the evidence window.
    #[error("offence at height {offence} is {age} blocks old, the window is {max_age}")]
    EvidenceTooOld {
        /// Height of the offence.
        offence: u64,
        /// Its age at the current height.
        age: u64,
        /// The window.
        max_age: u64,
    },
    /// The offence is at a height the chain has not reached.
    #[error("offence at height {offence}, above the current height {current}")]
    EvidenceFromFuture {
        /// Height of the offence.
        offence: u64,
        /// The current height.
        current: u64,
    },
    /// The reporter is the offender.
    #[error("{reporter:?} cannot report its own offence")]
    ReporterIsOffender {
        /// The reporter.
        reporter: Address,
    },
    /// The reserve the cheques draw on does not exist (never made, or released).
    #[error("reserve {reserve_seq} of {source_addr:?} not found")]
    ReserveNotFound {
        /// The source.
        source_addr: Address,
        /// The reserve.
        reserve_seq: u64,
    },
    /// The reserve's record names another source or sequence than asked for.
    #[error("reserve record is not reserve {reserve_seq} of {source_addr:?}")]
    ReserveMismatch {
        /// The source asked for.
        source_addr: Address,
        /// The reserve asked for.
        reserve_seq: u64,
    },
    /// The reserve was slashed already.
    #[error("reserve {reserve_seq} of {source_addr:?} is already slashed")]
    AlreadySlashed {
        /// The source.
        source_addr: Address,
        /// The reserve.
        reserve_seq: u64,
    },
    /// The cheques and the record promise no more than the deposit.
    #[error("cheques promise {total}, within the deposit of {deposit}")]
    NoOverspend {
        /// Sum over payees of the largest promise.
        total: U256,
        /// The deposit.
        deposit: U256,
    },
    /// The offence was slashed before.
    #[error("evidence {key:?} was used before")]
    Replayed {
        /// The offence's key.
        key: H256,
    },
    /// The Slash transaction's `slashed_address` is not the offender.
    #[error("slash transaction names {named:?}, the evidence proves {offender:?}")]
    WrongSlashedAddress {
        /// `slashed_address`.
        named: Address,
        /// The offender.
        offender: Address,
    },
    /// The Slash transaction's `reserve_sequence` does not match the evidence (0 for
    /// double signing).
    #[error("slash transaction names reserve {named}, the evidence {expected}")]
    WrongReserveSequence {
        /// `reserve_sequence`.
        named: u64,
        /// What the evidence implies.
        expected: u64,
    },
    /// Basis points above 10 000 in the config.
    #[error("invalid slash config: {reason}")]
    InvalidConfig {
        /// What is wrong.
        reason: &'static str,
    },
    /// An amount does not fit in `U256`.
    #[error("overflow computing {what}")]
    Overflow {
        /// The quantity.
        what: &'static str,
    },
}

/// The validators of a height as slashing needs them: the set `mlbft-core` verifies with,
/// and each validator's account (stake holder) by index.
#[derive(Debug, Clone)]
pub struct Committee {
    /// Keys and stakes by index.
    pub set: ValidatorSet<Bls>,
    /// The account of validator `i`, index-aligned with `set`.
    pub addresses: Vec<Address>,
}

/// What verification reads from the ledger.
pub trait SlashContext {
    /// Height of the block the Slash transaction is in.
    fn height(&self) -> u64;
    /// The committee that validated blocks at `height` (the validator set the ledger
    /// decided for it), or `None` if unknown.
    fn committee_at(&self, height: u64) -> Option<&Committee>;
    /// The reserve record `(source, reserve_seq)`, or `None`.
    fn reserve(&self, source: &Address, reserve_seq: u64) -> Option<ReservedFund>;
    /// Whether an order under `key` was applied before.
    fn evidence_used(&self, key: &H256) -> bool;
}

/// Slashing parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlashConfig {
    /// micropool's rules: the cheques' chain id, `max_evidence`, and where overspend
    /// penalties go (`slash_to`).
    pub pool: PoolConfig,
    /// Fraction of a double-signer's stake taken, in basis points (default 10 000: all).
    pub double_sign_slash_bps: u32,
    /// Fraction of a double-signing slash paid to the reporter, in basis points (default
    /// 0: all burned).
    pub reporter_reward_bps: u32,
    /// Oldest offence accepted, in blocks before the current height (default 28 800,
    /// Theta's stake return lock).
    pub max_evidence_age: u64,
}

impl Default for SlashConfig {
    fn default() -> Self {
        SlashConfig {
            pool: PoolConfig::default(),
            double_sign_slash_bps: BASIS_POINTS,
            reporter_reward_bps: 0,
            max_evidence_age: 28_800,
        }
    }
}

/// The offence an order punishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offence {
    /// Two conflicting statements in one epoch.
    DoubleSign {
        /// Proposals or votes.
        kind: StatementKind,
        /// The epoch.
        epoch: u64,
        /// Height of the first statement (the committee's height).
        height: u64,
        /// The offender's index in that committee.
        validator: ValidatorIndex,
        /// The offender's stake in that committee.
        stake: U256,
    },
    /// Cheques of one reserve over its deposit.
    Overspend {
        /// The reserve.
        reserve_seq: u64,
        /// Sum over payees of the largest promise.
        promised: U256,
        /// The reserve's deposit.
        deposit: U256,
    },
}

/// What the executor applies for verified evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlashOrder {
    /// The offence.
    pub offence: Offence,
    /// Whose funds are taken: the validator's account, or the reserve's source.
    pub offender: Address,
    /// Amount taken: from the offender's stake (double signing; the executor caps it at
    /// what is still staked or locked) or from the reserve's collateral (overspend).
    pub amount: U256,
    /// The reporter and its part of `amount`, if any.
    pub beneficiary: Option<(Address, U256)>,
    /// The part of `amount` destroyed (`amount` = beneficiary's part + `burned`).
    pub burned: U256,
    /// The key under which the ledger records the offence as slashed.
    pub evidence_key: H256,
    /// Overspend: the reserve record after the slash, to be written back.
    pub reserve: Option<ReservedFund>,
}

fn malformed(what: &'static str) -> impl Fn(primitives::rlp::DecoderError) -> SlashError {
    move |e| SlashError::Malformed { what, reason: e.to_string() }
}

impl SlashEvidence {
    /// Decodes untrusted `slash_proof` bytes (at most `min(limit, MAX_SLASH_PROOF_LEN)`).
    /// Signatures are parsed, not verified: call [`SlashEvidence::verify`].
    pub fn decode(bytes: &[u8], limit: usize) -> Result<Self, SlashError> {
        let limit = limit.min(MAX_SLASH_PROOF_LEN);
        if bytes.len() > limit {
            return Err(SlashError::TooLong { len: bytes.len(), limit });
        }
        let r = Rlp::new(bytes);
        let info = r.payload_info().map_err(malformed("envelope"))?;
        if info.header_len + info.value_len != bytes.len() {
            return Err(SlashError::Malformed { what: "envelope", reason: "trailing bytes".into() });
        }
        if !r.is_list() {
            return Err(SlashError::Malformed { what: "envelope", reason: "not a list".into() });
        }
        let n = r.item_count().map_err(malformed("envelope"))?;
        if n != 3 {
            return Err(SlashError::Malformed { what: "envelope", reason: format!("{n} items, expected 3") });
        }
        let version: u64 = r.val_at(0).map_err(malformed("version"))?;
        if version != u64::from(SLASH_PROOF_VERSION) {
            return Err(SlashError::UnsupportedVersion { found: version, expected: SLASH_PROOF_VERSION });
        }
        let kind: u64 = r.val_at(1).map_err(malformed("kind"))?;
        let body = r.at(2).map_err(malformed("body"))?;
        let evidence = match kind {
            k if k == u64::from(KIND_DOUBLE_SIGN) => {
                let raw = body.as_raw();
                let e = Evidence::<Bls>::decode(raw, MAX_EVIDENCE_LEN).map_err(SlashError::Evidence)?;
                SlashEvidence::DoubleSign(Box::new(e))
            }
            k if k == u64::from(KIND_OVERSPEND) => {
                if !body.is_list() {
                    return Err(SlashError::Malformed { what: "cheques", reason: "not a list".into() });
                }
                let count = body.item_count().map_err(malformed("cheques"))?;
                if count == 0 {
                    return Err(SlashError::NoCheques);
                }
                if count > MAX_OVERSPEND_CHEQUES {
                    return Err(SlashError::TooManyCheques { count, max: MAX_OVERSPEND_CHEQUES });
                }
                let mut cheques = Vec::with_capacity(count);
                for (index, item) in body.iter().enumerate() {
                    let c = SignedCheque::decode(item.as_raw())
                        .map_err(|source| SlashError::Cheque { index, source })?;
                    cheques.push(c);
                }
                SlashEvidence::Overspend(cheques)
            }
            other => return Err(SlashError::UnknownKind(other)),
        };
        if evidence.encode() != bytes {
            return Err(SlashError::NonCanonical);
        }
        Ok(evidence)
    }

    /// The canonical `slash_proof` bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut s = RlpStream::new_list(3);
        s.append(&SLASH_PROOF_VERSION);
        match self {
            SlashEvidence::DoubleSign(e) => {
                s.append(&KIND_DOUBLE_SIGN);
                s.append_raw(&e.encode(), 1);
            }
            SlashEvidence::Overspend(cheques) => {
                s.append(&KIND_OVERSPEND);
                s.append_list(cheques);
            }
        }
        s.out().to_vec()
    }

    /// Verifies the evidence for `reporter` against the ledger (see the module docs for the
    /// rules) and returns the order to apply.
    pub fn verify<C: SlashContext + ?Sized>(
        &self,
        reporter: Address,
        cfg: &SlashConfig,
        ctx: &C,
    ) -> Result<SlashOrder, SlashError> {
        if cfg.double_sign_slash_bps > BASIS_POINTS || cfg.reporter_reward_bps > BASIS_POINTS {
            return Err(SlashError::InvalidConfig { reason: "basis points above 10 000" });
        }
        let order = match self {
            SlashEvidence::DoubleSign(e) => verify_double_sign(e, reporter, cfg, ctx)?,
            SlashEvidence::Overspend(cheques) => verify_overspend(cheques, reporter, cfg, ctx)?,
        };
        if ctx.evidence_used(&order.evidence_key) {
            return Err(SlashError::Replayed { key: order.evidence_key });
        }
        Ok(order)
    }
}

/// The replay key of a double-signing offence: one per validator account and epoch.
pub fn double_sign_key(offender: &Address, epoch: u64) -> H256 {
    keccak256_concat([DOUBLE_SIGN_KEY_DOMAIN, offender.as_bytes(), &epoch.to_be_bytes()])
}

/// The replay key of an overspend: one per reserve.
pub fn overspend_key(source: &Address, reserve_seq: u64) -> H256 {
    keccak256_concat([OVERSPEND_KEY_DOMAIN, source.as_bytes(), &reserve_seq.to_be_bytes()])
}

fn committee<C: SlashContext + ?Sized>(ctx: &C, height: u64) -> Result<&Committee, SlashError> {
    let c = ctx.committee_at(height).ok_or(SlashError::UnknownCommittee { height })?;
    if c.addresses.len() != c.set.len() {
        return Err(SlashError::InvalidCommittee { addresses: c.addresses.len(), validators: c.set.len() });
    }
    Ok(c)
}

fn verify_double_sign<C: SlashContext + ?Sized>(
    e: &Evidence<Bls>,
    reporter: Address,
    cfg: &SlashConfig,
    ctx: &C,
) -> Result<SlashOrder, SlashError> {
    let (h1, h2) = (e.first.block.height, e.second.block.height);
    let current = ctx.height();
    for offence in [h1, h2] {
        if offence > current {
            return Err(SlashError::EvidenceFromFuture { offence, current });
        }
    }
    let oldest = h1.min(h2);
    let age = current - oldest;
    if age > cfg.max_evidence_age {
        return Err(SlashError::EvidenceTooOld { offence: oldest, age, max_age: cfg.max_evidence_age });
    }
    let c1 = committee(ctx, h1)?;
    if h2 != h1 {
        let c2 = committee(ctx, h2)?;
        if c2.set.hash() != c1.set.hash() || c2.addresses != c1.addresses {
            return Err(SlashError::CommitteeMismatch { first: h1, second: h2 });
        }
    }
    e.verify(&c1.set).map_err(SlashError::Evidence)?;
    let index = e.offender();
    let len = c1.addresses.len();
    let offender = *c1
        .addresses
        .get(index as usize)
        .ok_or(SlashError::Evidence(mlbft_core::Error::UnknownValidator { index, len }))?;
    if reporter == offender {
        return Err(SlashError::ReporterIsOffender { reporter });
    }
    let stake = c1.set.stake(index);
    let overflow = |what| SlashError::Overflow { what };
    let amount = mul_div(stake, U256::from(cfg.double_sign_slash_bps), U256::from(BASIS_POINTS))
        .ok_or(overflow("slashed stake"))?;
    let reward = mul_div(amount, U256::from(cfg.reporter_reward_bps), U256::from(BASIS_POINTS))
        .ok_or(overflow("reporter reward"))?;
    let burned = amount.checked_sub(reward).ok_or(overflow("burned stake"))?;
    Ok(SlashOrder {
        offence: Offence::DoubleSign {
            kind: e.first.kind,
            epoch: e.epoch(),
            height: h1,
            validator: index,
            stake,
        },
        offender,
        amount,
        beneficiary: (!reward.is_zero()).then_some((reporter, reward)),
        burned,
        evidence_key: double_sign_key(&offender, e.epoch()),
        reserve: None,
    })
}

fn verify_overspend<C: SlashContext + ?Sized>(
    cheques: &[SignedCheque],
    reporter: Address,
    cfg: &SlashConfig,
    ctx: &C,
) -> Result<SlashOrder, SlashError> {
    let first = cheques.first().ok_or(SlashError::NoCheques)?;
    let max = cfg.pool.max_evidence.min(MAX_OVERSPEND_CHEQUES);
    if cheques.len() > max {
        return Err(SlashError::TooManyCheques { count: cheques.len(), max });
    }
    let (source, reserve_seq) = (first.cheque.source, first.cheque.reserve_seq);
    for (index, sc) in cheques.iter().enumerate() {
        if (sc.cheque.source, sc.cheque.reserve_seq) != (source, reserve_seq) {
            return Err(SlashError::MixedReserves {
                index,
                expected_source: source,
                expected_seq: reserve_seq,
                found_source: sc.cheque.source,
                found_seq: sc.cheque.reserve_seq,
            });
        }
    }
    if reporter == source {
        return Err(SlashError::ReporterIsOffender { reporter });
    }
    for (index, sc) in cheques.iter().enumerate() {
        sc.verify(cfg.pool.chain_id).map_err(|source| SlashError::Cheque { index, source })?;
    }
    let mut fund = ctx
        .reserve(&source, reserve_seq)
        .ok_or(SlashError::ReserveNotFound { source_addr: source, reserve_seq })?;
    if (fund.source, fund.reserve_seq) != (source, reserve_seq) {
        return Err(SlashError::ReserveMismatch { source_addr: source, reserve_seq });
    }
    if fund.slashed {
        return Err(SlashError::AlreadySlashed { source_addr: source, reserve_seq });
    }
    let mut promised: BTreeMap<Address, U256> =
        fund.transfers.iter().map(|t| (t.target, t.promised)).collect();
    for sc in cheques {
        let e = promised.entry(sc.cheque.target).or_default();
        *e = (*e).max(sc.cheque.amount);
    }
    let total = promised
        .values()
        .try_fold(U256::zero(), |a, b| a.checked_add(*b))
        .ok_or(SlashError::Overflow { what: "promised total" })?;
    if total <= fund.deposit {
        return Err(SlashError::NoOverspend { total, deposit: fund.deposit });
    }
    // micropool's compensation pool: half the collateral's excess over the deposit stays
    // for payees the deposit shorted; the rest is the penalty.
    let pool = fund.collateral.saturating_sub(fund.deposit) / 2;
    let penalty = fund.collateral.checked_sub(pool).ok_or(SlashError::Overflow { what: "penalty" })?;
    let (beneficiary, burned) = match cfg.pool.slash_to {
        SlashDestination::Burn => (None, penalty),
        SlashDestination::Reporter => ((!penalty.is_zero()).then_some((reporter, penalty)), U256::zero()),
    };
    fund.collateral = pool;
    fund.slashed = true;
    fund.reporter = reporter;
    Ok(SlashOrder {
        offence: Offence::Overspend { reserve_seq, promised: total, deposit: fund.deposit },
        offender: source,
        amount: penalty,
        beneficiary,
        burned,
        evidence_key: overspend_key(&source, reserve_seq),
        reserve: Some(fund),
    })
}

/// Decodes and verifies a Slash transaction's proof (at most `limit` bytes) for its
/// proposer, and checks that `slashed_address` is the offender and `reserve_sequence` the
/// evidence's reserve (0 for double signing). The proposer's signature and validator
/// membership are the executor's to check.
pub fn verify_slash_tx<C: SlashContext + ?Sized>(
    tx: &SlashTx,
    limit: usize,
    cfg: &SlashConfig,
    ctx: &C,
) -> Result<SlashOrder, SlashError> {
    let evidence = SlashEvidence::decode(&tx.slash_proof, limit)?;
    let order = evidence.verify(tx.proposer.address, cfg, ctx)?;
    if tx.slashed_address != order.offender {
        return Err(SlashError::WrongSlashedAddress { named: tx.slashed_address, offender: order.offender });
    }
    let expected = match order.offence {
        Offence::DoubleSign { .. } => 0,
        Offence::Overspend { reserve_seq, .. } => reserve_seq,
    };
    if tx.reserve_sequence != expected {
        return Err(SlashError::WrongReserveSequence { named: tx.reserve_sequence, expected });
    }
    Ok(order)
}
