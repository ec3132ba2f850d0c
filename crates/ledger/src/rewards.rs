//! Block rewards (whitepaper v2.0, "Rewards and penalties" / "TFUEL mining"; Theta's
//! `ledger/execution/tx_coinbase.go`): new TFUEL at a target annual rate, shared by the
//! validators (by stake) and by the guardians who signed the last finalized checkpoint and
//! win the per-block lottery.
//!
//! This module is pure: it takes plain inputs (the supply, the validators' stakes, the
//! guardian set of the checkpoint with its aggregate) and returns the exact credit list the
//! block's Coinbase must carry. The executor feeds it from the ledger state and checks the
//! Coinbase with [`verify_coinbase`].
//!
//! # The rules
//!
//! * **Issuance.** `issuance = floor(supply · annual_inflation_bps / (10 000 ·
//!   blocks_per_year))` for each block, from the TFUEL supply before the block
//!   ([`RewardConfig::block_issuance`]). Rounding is down, so a block never mints more
//!   than the rate; the supply grows by what is actually credited
//!   ([`BlockRewards::minted`]), which is at most the issuance.
//! * **Pools.** `validator_pool = floor(issuance · validator_share_bps / 10 000)`,
//!   `guardian_pool = floor(issuance · guardian_share_bps / 10 000)`; the shares add up to
//!   at most 10 000 basis points. What rounding leaves over is not minted.
//! * **Validators** share the validator pool by stake: `floor(pool · stake_i / total)`.
//! * **Guardian lottery.** The block carries the aggregate that finalized the last
//!   checkpoint (a `bls_gossip::GossipMessage`, instance = checkpoint height). It must
//!   verify under the guardian set of the checkpoint over
//!   `mlbft_core::guardian_message(checkpoint, set_hash)` and be signed by more than 2/3 of
//!   guardian stake (DESIGN.md section 4.2). Guardian `i` qualifies when it is a signer of
//!   that aggregate and
//!   `H_i = keccak256(keccak256(LOTTERY_DOMAIN ‖ pk_i (48) ‖ keccak256(aggregate)) ‖
//!   previous block hash)` (the inner hash is the guardian's seed for the checkpoint),
//!   read as a 256-bit big-endian integer, satisfies
//!   `H_i · total_stake < 2^256 · expected_winners · stake_i` — a threshold scaled by the
//!   guardian's stake share, so `expected_winners` guardians win per block on average when
//!   all sign. Winners share the guardian pool equally (`floor(pool / winners)`): the chance
//!   of winning already grows with stake, so each guardian's expected reward is
//!   proportional to its stake.
//! * **No proof, no guardian reward.** Without a checkpoint aggregate (none finalized
//!   yet), or when nobody wins, the guardian pool is not minted. It is *not* handed to the
//!   validators, so a proposer gains nothing by leaving the aggregate out.
//! * **Credits.** One `(address, amount)` per recipient, amounts of one address summed (a
//!   validator can also be a guardian's recipient), zero amounts left out, sorted by
//!   address: the outputs of the block's Coinbase in that order, TFUEL only.
//!
//! Theta's Go ledger pays 48 TFUEL per block at checkpoint heights to a stake-weighted
//! sample of 400 stakes among validators and voting guardians; here the rate follows the
//! supply (whitepaper: a target annual inflation), the reward is per block, and the
//! guardian draw is the whitepaper's lottery with the aggregate checked by every node.
//!
//! # Example
//!
//! ```
//! use ledger::rewards::{RewardConfig, RewardInput, block_rewards, verify_coinbase};
//! use ledger::{CoinbaseTx, Coins, TxInput};
//! use primitives::{Address, H256, U256};
//!
//! let cfg = RewardConfig::default();
//! let validators = [(Address::repeat_byte(1), U256::from(1_000u64)), (Address::repeat_byte(2), U256::from(3_000u64))];
//! let supply = U256::from(5_000_000_000u64) * U256::exp10(18);
//! let input = RewardInput {
//!     height: 7,
//!     supply,
//!     previous_block_hash: H256::repeat_byte(9),
//!     validators: &validators,
//!     guardians: None, // before the first finalized checkpoint
//! };
//! let rewards = block_rewards(&cfg, &input)?;
//! assert!(rewards.minted() <= rewards.issuance);
//! // By stake, rounded down: 1/4 and 3/4 of the validator pool.
//! assert_eq!(rewards.credits[0].1, rewards.validator_pool / 4);
//! assert_eq!(rewards.credits[1].1, rewards.validator_pool * 3 / 4);
//!
//! // The proposer's Coinbase must carry exactly these outputs.
//! let tx = CoinbaseTx {
//!     proposer: TxInput::new(Address::repeat_byte(1), Coins::zero(), 0),
//!     outputs: rewards.outputs(),
//!     block_height: 7,
//! };
//! verify_coinbase(&rewards, &tx)?;
//! # Ok::<(), ledger::RewardError>(())
//! ```
//!
//! **Grinding.** The lottery input is the aggregate's encoding, which whoever assembles
//! the finalizing aggregate can vary (other signer subsets or multiplicities over 2/3).
//! The executor must therefore pass the aggregate the chain *recorded* when it finalized
//! the checkpoint, not one a later proposer picks; the previous block hash then varies the
//! draw from block to block. Grinding can only move who wins among signers, never how much
//! is minted.

use std::collections::BTreeMap;

use bls_gossip::{Bls, GossipMessage, GuardianSet};
use mlbft_core::{Checkpoint, MAX_FINALITY_PROOF, guardian_message};
use primitive_types::U512;
use primitives::{Address, H256, U256, keccak256, keccak256_concat};

use crate::Coins;
use crate::tx::{CoinbaseTx, TxOutput};

/// Domain tag of the lottery hash, so no other hash of the workspace can collide with it.
pub const LOTTERY_DOMAIN: &[u8] = b"meshcast/ledger/guardian-lottery/v1";

/// Basis points in one whole (100%).
pub const BASIS_POINTS: u32 = 10_000;

/// Reward parameters. [`RewardConfig::default`]: 5% a year, 6-second blocks, half to
/// validators and half to guardians, 100 expected guardian winners per block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RewardConfig {
    /// Target annual TFUEL inflation in basis points of the supply (500 = 5%).
    pub annual_inflation_bps: u32,
    /// Blocks per year (5 256 000 for 6-second blocks).
    pub blocks_per_year: u64,
    /// Share of each block's issuance for the validators, in basis points.
    pub validator_share_bps: u32,
    /// Share of each block's issuance for the lottery's guardian winners, in basis points.
    pub guardian_share_bps: u32,
    /// The lottery threshold, as the expected number of winners per block when every
    /// guardian signs: guardian `i` wins when `H_i < 2^256 · expected_winners · stake_i /
    /// total_stake`.
    pub lottery_expected_winners: u64,
}

impl Default for RewardConfig {
    fn default() -> Self {
        RewardConfig {
            annual_inflation_bps: 500,
            blocks_per_year: 365 * 24 * 3600 / 6,
            validator_share_bps: 5_000,
            guardian_share_bps: 5_000,
            lottery_expected_winners: 100,
        }
    }
}

/// Everything that can go wrong computing rewards or checking a Coinbase.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RewardError {
    /// The configuration cannot be used.
    #[error("invalid reward config: {reason}")]
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
    /// The validator list is empty or all its stakes are zero.
    #[error("no validator stake to reward")]
    NoValidatorStake,
    /// The guardian recipients do not line up with the guardian set.
    #[error("{recipients} guardian recipients for a set of {guardians}")]
    RecipientsMismatch {
        /// Recipients given.
        recipients: usize,
        /// Guardians in the set.
        guardians: usize,
    },
    /// The checkpoint aggregate does not decode.
    #[error("checkpoint aggregate does not decode: {0}")]
    ProofDecode(bls_gossip::Error),
    /// The aggregate is for another checkpoint height.
    #[error("checkpoint aggregate for height {found}, expected {expected}")]
    WrongCheckpoint {
        /// The checkpoint's height.
        expected: u64,
        /// The aggregate's instance.
        found: u64,
    },
    /// The aggregate's distinct signers hold at most 2/3 of guardian stake.
    #[error("checkpoint aggregate signed by {signed} of {total} guardian stake, not more than 2/3")]
    NotQuorum {
        /// Stake of the distinct signers.
        signed: u128,
        /// Total guardian stake.
        total: u128,
    },
    /// The aggregate signature does not verify (forged, or from another set or checkpoint).
    #[error("checkpoint aggregate does not verify for checkpoint at height {height}")]
    AggregateInvalid {
        /// The checkpoint's height.
        height: u64,
    },
    /// The signature layer failed while verifying.
    #[error("signature layer: {0}")]
    Bls(bls_gossip::Error),
    /// A guardian index outside the set.
    #[error("guardian {index} outside a set of {len}")]
    UnknownGuardian {
        /// Index given.
        index: usize,
        /// Set size.
        len: usize,
    },
    /// The guardian did not sign the checkpoint aggregate.
    #[error("guardian {index} did not sign the checkpoint aggregate")]
    NotASigner {
        /// The guardian.
        index: usize,
    },
    /// The guardian's lottery hash is not below its threshold.
    #[error("guardian {index} does not qualify in the lottery")]
    NotAWinner {
        /// The guardian.
        index: usize,
    },
    /// A verified aggregate passed with guardians it was not verified for.
    #[error("the verified aggregate is not that of the given checkpoint guardians")]
    VerificationMismatch,
    /// The Coinbase names another block height.
    #[error("coinbase for height {found}, expected {expected}")]
    WrongHeight {
        /// The block's height.
        expected: u64,
        /// The Coinbase's `block_height`.
        found: u64,
    },
    /// A Coinbase output credits THETA (rewards are TFUEL only).
    #[error("coinbase credits {amount} THETA wei to {address:?}")]
    ThetaCredited {
        /// The output's address.
        address: Address,
        /// THETA amount.
        amount: U256,
    },
    /// Two Coinbase outputs credit the same address.
    #[error("coinbase credits {address:?} twice")]
    Duplicate {
        /// The address.
        address: Address,
    },
    /// A Coinbase output credits an address that earned nothing.
    #[error("coinbase credits {amount} to {address:?}, which earned nothing")]
    Extra {
        /// The address.
        address: Address,
        /// The amount credited.
        amount: U256,
    },
    /// An address that earned a reward has no Coinbase output.
    #[error("coinbase misses {amount} owed to {address:?}")]
    Missing {
        /// The address.
        address: Address,
        /// The amount owed.
        amount: U256,
    },
    /// The right recipients in the wrong order (outputs must be sorted by address).
    #[error("coinbase output {index} credits {found:?}, expected {expected:?}")]
    WrongRecipient {
        /// Output index.
        index: usize,
        /// The address expected there.
        expected: Address,
        /// The address found.
        found: Address,
    },
    /// The right recipient with the wrong amount.
    #[error("coinbase credits {found} to {address:?}, expected {expected}")]
    WrongAmount {
        /// The address.
        address: Address,
        /// The amount owed.
        expected: U256,
        /// The amount credited.
        found: U256,
    },
}

impl RewardConfig {
    /// Checks the parameters: blocks per year positive, shares adding up to at most
    /// 10 000 basis points.
    pub fn validate(&self) -> Result<(), RewardError> {
        if self.blocks_per_year == 0 {
            return Err(RewardError::InvalidConfig { reason: "blocks_per_year is zero" });
        }
        if u64::from(self.validator_share_bps) + u64::from(self.guardian_share_bps) > u64::from(BASIS_POINTS)
        {
            return Err(RewardError::InvalidConfig {
                reason: "validator and guardian shares exceed 10 000 bps",
            });
        }
        Ok(())
    }

    /// New TFUEL for one block: `floor(supply · annual_inflation_bps / (10 000 ·
    /// blocks_per_year))`, exact (no intermediate overflow while the result fits).
    pub fn block_issuance(&self, supply: U256) -> Result<U256, RewardError> {
        self.validate()?;
        let denominator = U256::from(BASIS_POINTS).saturating_mul(U256::from(self.blocks_per_year));
        mul_div(supply, U256::from(self.annual_inflation_bps), denominator)
            .ok_or(RewardError::Overflow { what: "block issuance" })
    }
}

/// `floor(a · b / d)`, exact for every `U256` input (the product is taken in 512 bits).
/// `None` when `d` is zero or the result does not fit in `U256`.
pub(crate) fn mul_div(a: U256, b: U256, d: U256) -> Option<U256> {
    if d.is_zero() {
        return None;
    }
    let wide = a.full_mul(b) / U512::from(d);
    U256::try_from(wide).ok()
}

/// The guardians of the last finalized checkpoint and the aggregate that finalized it.
#[derive(Debug, Clone, Copy)]
pub struct CheckpointGuardians<'a> {
    /// The finalized checkpoint (height and block hash).
    pub checkpoint: Checkpoint,
    /// The guardian set in force for that checkpoint (keys PoP-checked when staked;
    /// stakes in `u128` base units, as `bls-gossip` keeps them).
    pub set: &'a GuardianSet<Bls>,
    /// The set's hash, as signed in the checkpoint message
    /// (`mlbft_core::Guardians::set_hash`).
    pub set_hash: [u8; 32],
    /// Who is credited for guardian `i` (its holder or stake source), index-aligned with
    /// `set`.
    pub recipients: &'a [Address],
    /// The aggregate: a `bls_gossip::GossipMessage` encoding whose instance is the
    /// checkpoint height (the chain's recorded finality proof, see the module docs on
    /// grinding).
    pub aggregate: &'a [u8],
}

/// What one block's rewards are computed from.
#[derive(Debug, Clone, Copy)]
pub struct RewardInput<'a> {
    /// Height of the block whose Coinbase is computed.
    pub height: u64,
    /// TFUEL supply before this block's issuance.
    pub supply: U256,
    /// Hash of the previous block (the lottery's per-block input).
    pub previous_block_hash: H256,
    /// The validators of this block: `(recipient, stake)`. Give one entry per stake source
    /// to pay delegators directly; entries for one address are summed.
    pub validators: &'a [(Address, U256)],
    /// The guardians of the last finalized checkpoint, or `None` before the first one.
    pub guardians: Option<CheckpointGuardians<'a>>,
}

/// The rewards of one block: the issuance, its split, the lottery's winners and the exact
/// credit list of the block's Coinbase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockRewards {
    /// The block's height (the Coinbase's `block_height`).
    pub height: u64,
    /// New TFUEL the rate allows for this block.
    pub issuance: U256,
    /// The validators' part of the issuance.
    pub validator_pool: U256,
    /// The guardians' part of the issuance (minted only when someone wins).
    pub guardian_pool: U256,
    /// Indices of the winning guardians, ascending.
    pub winners: Vec<usize>,
    /// `(address, TFUEL wei)`, sorted by address, no zero amounts, one per address.
    pub credits: Vec<(Address, U256)>,
}

impl BlockRewards {
    /// Total credited: the amount the supply grows by (at most [`BlockRewards::issuance`]).
    pub fn minted(&self) -> U256 {
        // Cannot overflow: the credits are floor-shares of the issuance.
        self.credits.iter().fold(U256::zero(), |a, (_, v)| a.saturating_add(*v))
    }

    /// The Coinbase outputs: the credits as TFUEL-only [`TxOutput`]s, in order.
    pub fn outputs(&self) -> Vec<TxOutput> {
        self.credits.iter().map(|(a, v)| TxOutput::new(*a, Coins::new(U256::zero(), *v))).collect()
    }
}

/// A checkpoint aggregate that verified, with what the lottery needs of its signers.
///
/// Verifying costs a weighted key sum and two pairings; the executor can verify once per
/// checkpoint and reuse this for every block until the next
/// ([`block_rewards_with`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAggregate {
    /// The checkpoint it finalizes.
    pub checkpoint: Checkpoint,
    /// The guardian set hash it was verified under.
    pub set_hash: [u8; 32],
    /// Indices of the distinct signers, ascending.
    pub signers: Vec<usize>,
    /// The signers' compressed public keys, aligned with `signers`.
    pub signer_keys: Vec<[u8; 48]>,
    /// The signers' lottery seeds ([`lottery_seed`]), aligned with `signers`.
    pub signer_seeds: Vec<H256>,
    /// The signers' stakes, aligned with `signers`.
    pub signer_stakes: Vec<u128>,
    /// Total guardian stake of the set.
    pub total_stake: u128,
    /// `keccak256` of the aggregate's bytes (its one canonical encoding).
    pub digest: H256,
}

/// Decodes the checkpoint aggregate and checks it: canonical bytes, instance = checkpoint
/// height, distinct signers over 2/3 of guardian stake, and the aggregate signature valid
/// for `guardian_message(checkpoint, set_hash)` under `set`'s keys.
pub fn verify_checkpoint_aggregate(g: &CheckpointGuardians<'_>) -> Result<VerifiedAggregate, RewardError> {
    let msg = GossipMessage::<Bls>::decode(g.aggregate, g.set.len(), MAX_FINALITY_PROOF)
        .map_err(RewardError::ProofDecode)?;
    if msg.encode() != g.aggregate {
        return Err(RewardError::ProofDecode(bls_gossip::Error::Malformed {
            reason: "non-canonical encoding",
        }));
    }
    if msg.instance() != g.checkpoint.height {
        return Err(RewardError::WrongCheckpoint { expected: g.checkpoint.height, found: msg.instance() });
    }
    let agg = msg.aggregate();
    if !g.set.is_quorum(&agg.signers) {
        return Err(RewardError::NotQuorum {
            signed: g.set.signed_stake(&agg.signers),
            total: g.set.total_stake(),
        });
    }
    let valid =
        agg.verify(g.set.keys(), &guardian_message(&g.checkpoint, &g.set_hash)).map_err(RewardError::Bls)?;
    if !valid {
        return Err(RewardError::AggregateInvalid { height: g.checkpoint.height });
    }
    let keys = g.set.keys();
    let digest = keccak256(g.aggregate);
    let mut signers = Vec::with_capacity(agg.signers.distinct());
    let mut signer_seeds = Vec::with_capacity(agg.signers.distinct());
    let mut signer_keys = Vec::with_capacity(agg.signers.distinct());
    let mut signer_stakes = Vec::with_capacity(agg.signers.distinct());
    for (i, _) in agg.signers.iter() {
        let pk = keys.get(i).ok_or(RewardError::UnknownGuardian { index: i, len: keys.len() })?;
        let pk = pk.to_bytes();
        signers.push(i);
        signer_seeds.push(lottery_seed(&pk, &digest));
        signer_keys.push(pk);
        signer_stakes.push(g.set.stake(i));
    }
    Ok(VerifiedAggregate {
        checkpoint: g.checkpoint,
        set_hash: g.set_hash,
        signers,
        signer_keys,
        signer_seeds,
        signer_stakes,
        total_stake: g.set.total_stake(),
        digest,
    })
}

/// A guardian's lottery seed for one checkpoint aggregate: `keccak256(LOTTERY_DOMAIN ‖
/// pk (48 bytes) ‖ aggregate digest)` (every part fixed-length). Computed once per
/// checkpoint ([`VerifiedAggregate::signer_seeds`]).
pub fn lottery_seed(pk: &[u8; 48], aggregate_digest: &H256) -> H256 {
    keccak256_concat([LOTTERY_DOMAIN, pk.as_slice(), aggregate_digest.as_bytes()])
}

/// The lottery hash of a guardian for one block: `keccak256(lottery_seed(pk,
/// aggregate digest) ‖ previous block hash)`, a hash of (pk, checkpoint aggregate,
/// previous block hash) as the whitepaper's lottery asks, in one keccak block per block.
pub fn lottery_hash(pk: &[u8; 48], aggregate_digest: &H256, previous_block_hash: &H256) -> H256 {
    hash_with_seed(&lottery_seed(pk, aggregate_digest), previous_block_hash)
}

fn hash_with_seed(seed: &H256, previous_block_hash: &H256) -> H256 {
    keccak256_concat([seed.as_bytes(), previous_block_hash.as_bytes()])
}

/// Whether a lottery hash wins for a guardian with `stake` of `total`:
/// `hash · total < 2^256 · expected_winners · stake`, computed exactly in 512 bits (a
/// threshold at or above `2^256` always wins; zero stake or zero total never does).
pub fn qualifies(hash: &H256, stake: u128, total: u128, expected_winners: u64) -> bool {
    if stake == 0 || total == 0 {
        return false;
    }
    let h = U256::from_big_endian(hash.as_bytes());
    let lhs = h.full_mul(U256::from(total));
    // expected_winners · stake < 2^192, so the shifted value stays below 2^448.
    let weight = U256::from(expected_winners).saturating_mul(U256::from(stake));
    let rhs = U512::from(weight) << 256;
    lhs < rhs
}

/// The winners among the signers of a verified aggregate, ascending.
pub fn lottery_winners(
    cfg: &RewardConfig,
    aggregate: &VerifiedAggregate,
    previous_block_hash: &H256,
) -> Vec<usize> {
    aggregate
        .signers
        .iter()
        .zip(&aggregate.signer_seeds)
        .zip(&aggregate.signer_stakes)
        .filter(|((_, seed), stake)| {
            let h = hash_with_seed(seed, previous_block_hash);
            qualifies(&h, **stake, aggregate.total_stake, cfg.lottery_expected_winners)
        })
        .map(|((i, _), _)| *i)
        .collect()
}

/// Proves that guardian `index` wins this block's lottery: the aggregate verifies and
/// finalizes the checkpoint, `index` signed it, and its hash is below its threshold.
pub fn verify_winner(
    cfg: &RewardConfig,
    g: &CheckpointGuardians<'_>,
    previous_block_hash: &H256,
    index: usize,
) -> Result<(), RewardError> {
    let agg = verify_checkpoint_aggregate(g)?;
    if index >= g.set.len() {
        return Err(RewardError::UnknownGuardian { index, len: g.set.len() });
    }
    let Ok(at) = agg.signers.binary_search(&index) else {
        return Err(RewardError::NotASigner { index });
    };
    let h = lottery_hash(&agg.signer_keys[at], &agg.digest, previous_block_hash);
    if !qualifies(&h, agg.signer_stakes[at], agg.total_stake, cfg.lottery_expected_winners) {
        return Err(RewardError::NotAWinner { index });
    }
    Ok(())
}

fn credit(credits: &mut BTreeMap<Address, U256>, to: Address, amount: U256) -> Result<(), RewardError> {
    if amount.is_zero() {
        return Ok(());
    }
    let e = credits.entry(to).or_default();
    *e = e.checked_add(amount).ok_or(RewardError::Overflow { what: "credit" })?;
    Ok(())
}

/// Computes one block's rewards (see the module docs for the rules). Fails on a bad
/// config, no validator stake, recipients that do not line up with the guardian set, or a
/// checkpoint aggregate that does not decode, does not verify or does not reach 2/3.
pub fn block_rewards(cfg: &RewardConfig, input: &RewardInput<'_>) -> Result<BlockRewards, RewardError> {
    let verified = input.guardians.as_ref().map(verify_checkpoint_aggregate).transpose()?;
    compute(cfg, input, verified.as_ref())
}

/// [`block_rewards`] with the checkpoint aggregate verified earlier (once per checkpoint,
/// by [`verify_checkpoint_aggregate`]). `verified` must be the verification of
/// `input.guardians`: same checkpoint, set hash and aggregate bytes, else
/// [`RewardError::VerificationMismatch`] (also when `input.guardians` is `None`).
pub fn block_rewards_with(
    cfg: &RewardConfig,
    input: &RewardInput<'_>,
    verified: &VerifiedAggregate,
) -> Result<BlockRewards, RewardError> {
    let matches = input.guardians.as_ref().is_some_and(|g| {
        verified.checkpoint == g.checkpoint
            && verified.set_hash == g.set_hash
            && verified.total_stake == g.set.total_stake()
            && verified.digest == keccak256(g.aggregate)
    });
    if !matches {
        return Err(RewardError::VerificationMismatch);
    }
    compute(cfg, input, Some(verified))
}

fn compute(
    cfg: &RewardConfig,
    input: &RewardInput<'_>,
    verified: Option<&VerifiedAggregate>,
) -> Result<BlockRewards, RewardError> {
    let issuance = cfg.block_issuance(input.supply)?;
    let overflow = |what| RewardError::Overflow { what };
    let validator_pool = mul_div(issuance, U256::from(cfg.validator_share_bps), U256::from(BASIS_POINTS))
        .ok_or(overflow("validator pool"))?;
    let guardian_pool = mul_div(issuance, U256::from(cfg.guardian_share_bps), U256::from(BASIS_POINTS))
        .ok_or(overflow("guardian pool"))?;

    let total_stake = input
        .validators
        .iter()
        .try_fold(U256::zero(), |a, (_, s)| a.checked_add(*s))
        .ok_or(overflow("validator stake"))?;
    if total_stake.is_zero() {
        return Err(RewardError::NoValidatorStake);
    }
    let mut credits = BTreeMap::new();
    for (addr, stake) in input.validators {
        let share = mul_div(validator_pool, *stake, total_stake).ok_or(overflow("validator reward"))?;
        credit(&mut credits, *addr, share)?;
    }

    let mut winners = Vec::new();
    if let (Some(g), Some(agg)) = (&input.guardians, verified) {
        if g.recipients.len() != g.set.len() {
            return Err(RewardError::RecipientsMismatch {
                recipients: g.recipients.len(),
                guardians: g.set.len(),
            });
        }
        winners = lottery_winners(cfg, agg, &input.previous_block_hash);
        if let Ok(n) = u64::try_from(winners.len())
            && n > 0
        {
            let each = guardian_pool / U256::from(n);
            for &i in &winners {
                let to = *g
                    .recipients
                    .get(i)
                    .ok_or(RewardError::UnknownGuardian { index: i, len: g.set.len() })?;
                credit(&mut credits, to, each)?;
            }
        }
    }

    Ok(BlockRewards {
        height: input.height,
        issuance,
        validator_pool,
        guardian_pool,
        winners,
        credits: credits.into_iter().collect(),
    })
}

/// Checks that `tx` carries exactly `expected`'s credits: the block height, TFUEL only,
/// outputs in `expected`'s order (sorted by address) with the owed amounts, nothing
/// missing, extra or repeated. The proposer's signature and membership are the
/// executor's to check.
///
/// Errors are reported in this order: [`RewardError::WrongHeight`],
/// [`RewardError::ThetaCredited`], [`RewardError::Duplicate`], [`RewardError::Extra`],
/// [`RewardError::Missing`], [`RewardError::WrongRecipient`], [`RewardError::WrongAmount`].
pub fn verify_coinbase(expected: &BlockRewards, tx: &CoinbaseTx) -> Result<(), RewardError> {
    if tx.block_height != expected.height {
        return Err(RewardError::WrongHeight { expected: expected.height, found: tx.block_height });
    }
    if let Some(o) = tx.outputs.iter().find(|o| !o.coins.theta_wei.is_zero()) {
        return Err(RewardError::ThetaCredited { address: o.address, amount: o.coins.theta_wei });
    }
    let mut found: BTreeMap<Address, U256> = BTreeMap::new();
    for o in &tx.outputs {
        if found.insert(o.address, o.coins.tfuel_wei).is_some() {
            return Err(RewardError::Duplicate { address: o.address });
        }
    }
    let owed: BTreeMap<Address, U256> = expected.credits.iter().copied().collect();
    if let Some(o) = tx.outputs.iter().find(|o| !owed.contains_key(&o.address)) {
        return Err(RewardError::Extra { address: o.address, amount: o.coins.tfuel_wei });
    }
    if let Some((a, v)) = expected.credits.iter().find(|(a, _)| !found.contains_key(a)) {
        return Err(RewardError::Missing { address: *a, amount: *v });
    }
    // Same recipients (no duplicates, none extra or missing), so the lengths agree.
    for (index, (o, (a, _))) in tx.outputs.iter().zip(&expected.credits).enumerate() {
        if o.address != *a {
            return Err(RewardError::WrongRecipient { index, expected: *a, found: o.address });
        }
    }
    for (o, (a, v)) in tx.outputs.iter().zip(&expected.credits) {
        if o.coins.tfuel_wei != *v {
            return Err(RewardError::WrongAmount { address: *a, expected: *v, found: o.coins.tfuel_wei });
        }
    }
    Ok(())
}
