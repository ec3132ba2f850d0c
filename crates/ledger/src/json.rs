//! The JSON shape of the `theta_tx` tool, an interface other programs drive.
//!
//! One object per transaction, `"type"` first, the other keys Theta's field names in
//! snake_case and Theta's order. Addresses are lowercase `0x` hex (40 digits), amounts
//! (`theta`, `tfuel`, `gas_price`) decimal strings, integers (`sequence`, `purpose`,
//! `duration`, …) JSON numbers, byte fields (`slash_proof`, `data`, `bls_pubkey`,
//! `bls_pop`, `holder_sig`) `0x` hex, `"0x"` when empty. A signer's input carries
//! `signature_valid` in `decode` output; in `sign` input it may carry an existing
//! `"signature"`. `holder` (staking) and `beneficiary` are plain addresses: Theta's
//! holder outputs carry no coins (a decoded non-zero holder amount is not shown).

use std::collections::BTreeMap;

use primitives::{Address, SecretKey, U256};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::sign::{SignerRole, parse_theta_signature, theta_signature_bytes};
use crate::tx::{
    BLS_POP_LEN, BLS_PUBKEY_LEN, CoinbaseTx, Coins, DepositStakeV2Tx, ReleaseFundTx, ReserveFundTx, SendTx,
    ServicePaymentTx, SlashTx, SmartContractTx, Split, SplitRuleTx, StakeRewardDistributionTx, StakeTx,
    Transaction, TxInput, TxOutput,
};

/// `{"theta": "…", "tfuel": "…"}`, decimal wei.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoinsJson {
    /// THETA wei, decimal.
    pub theta: String,
    /// TFUEL wei, decimal.
    pub tfuel: String,
}

/// A signer's input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputJson {
    /// Lowercase `0x` address.
    pub address: String,
    /// What it spends.
    pub coins: CoinsJson,
    /// Its sequence number.
    pub sequence: u64,
    /// `sign` input only: an existing signature (`0x` hex, `v ∈ {0, 1}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// `decode` output only: whether the signature recovers to `address`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature_valid: Option<bool>,
}

/// An output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputJson {
    /// Lowercase `0x` address.
    pub address: String,
    /// What it receives.
    pub coins: CoinsJson,
}

/// A split rule share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitJson {
    /// Lowercase `0x` address.
    pub address: String,
    /// Percentage.
    pub percentage: u64,
}

/// One transaction, tagged by `"type"`.
#[allow(missing_docs)] // the fields are Theta's, documented on the `tx` structs
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum TxJson {
    #[serde(rename = "coinbase")]
    Coinbase { proposer: InputJson, outputs: Vec<OutputJson>, block_height: u64 },
    #[serde(rename = "slash")]
    Slash { proposer: InputJson, slashed_address: String, reserve_sequence: u64, slash_proof: String },
    #[serde(rename = "send")]
    Send { fee: CoinsJson, inputs: Vec<InputJson>, outputs: Vec<OutputJson> },
    #[serde(rename = "reserve_fund")]
    ReserveFund {
        fee: CoinsJson,
        source: InputJson,
        collateral: CoinsJson,
        resource_ids: Vec<String>,
        duration: u64,
    },
    #[serde(rename = "release_fund")]
    ReleaseFund { fee: CoinsJson, source: InputJson, reserve_sequence: u64 },
    #[serde(rename = "service_payment")]
    ServicePayment {
        fee: CoinsJson,
        source: InputJson,
        target: InputJson,
        payment_sequence: u64,
        reserve_sequence: u64,
        resource_id: String,
    },
    #[serde(rename = "split_rule")]
    SplitRule {
        fee: CoinsJson,
        resource_id: String,
        initiator: InputJson,
        splits: Vec<SplitJson>,
        duration: u64,
    },
    #[serde(rename = "smart_contract")]
    SmartContract { from: InputJson, to: OutputJson, gas_limit: u64, gas_price: String, data: String },
    #[serde(rename = "deposit_stake")]
    DepositStake { fee: CoinsJson, source: InputJson, holder: String, purpose: u8 },
    #[serde(rename = "withdraw_stake")]
    WithdrawStake { fee: CoinsJson, source: InputJson, holder: String, purpose: u8 },
    #[serde(rename = "deposit_stake_v2")]
    DepositStakeV2 {
        fee: CoinsJson,
        source: InputJson,
        holder: String,
        purpose: u8,
        bls_pubkey: String,
        bls_pop: String,
        holder_sig: String,
    },
    #[serde(rename = "stake_reward_distribution")]
    StakeRewardDistribution { fee: CoinsJson, holder: InputJson, beneficiary: String, split_basis_point: u64 },
}

fn hex(bytes: &[u8]) -> String {
    primitives::codec::to_hex(bytes)
}

fn addr(a: &Address) -> String {
    hex(a.as_bytes())
}

fn coins_json(c: &Coins) -> CoinsJson {
    CoinsJson { theta: c.theta_wei.to_string(), tfuel: c.tfuel_wei.to_string() }
}

fn output_json(o: &TxOutput) -> OutputJson {
    OutputJson { address: addr(&o.address), coins: coins_json(&o.coins) }
}

/// The `decode` JSON of `tx`, with `signature_valid` checked on `chain_id`.
pub fn to_json(tx: &Transaction, chain_id: &str) -> TxJson {
    // One pass over the signers (a Send's inputs share one sign-bytes digest).
    let checks: BTreeMap<SignerRole, bool> =
        tx.verify(chain_id).into_iter().map(|c| (c.role, c.result.is_ok())).collect();
    let valid = |role: SignerRole| checks.get(&role).copied().unwrap_or(false);
    let input = |i: &TxInput, role: SignerRole| InputJson {
        address: addr(&i.address),
        coins: coins_json(&i.coins),
        sequence: i.sequence,
        signature: None,
        signature_valid: Some(valid(role)),
    };
    let outputs = |o: &[TxOutput]| o.iter().map(output_json).collect::<Vec<_>>();
    match tx {
        Transaction::Coinbase(t) => TxJson::Coinbase {
            proposer: input(&t.proposer, SignerRole::Proposer),
            outputs: outputs(&t.outputs),
            block_height: t.block_height,
        },
        Transaction::Slash(t) => TxJson::Slash {
            proposer: input(&t.proposer, SignerRole::Proposer),
            slashed_address: addr(&t.slashed_address),
            reserve_sequence: t.reserve_sequence,
            slash_proof: hex(&t.slash_proof),
        },
        Transaction::Send(t) => TxJson::Send {
            fee: coins_json(&t.fee),
            inputs: t.inputs.iter().enumerate().map(|(n, i)| input(i, SignerRole::Input(n))).collect(),
            outputs: outputs(&t.outputs),
        },
        Transaction::ReserveFund(t) => TxJson::ReserveFund {
            fee: coins_json(&t.fee),
            source: input(&t.source, SignerRole::Source),
            collateral: coins_json(&t.collateral),
            resource_ids: t.resource_ids.clone(),
            duration: t.duration,
        },
        Transaction::ReleaseFund(t) => TxJson::ReleaseFund {
            fee: coins_json(&t.fee),
            source: input(&t.source, SignerRole::Source),
            reserve_sequence: t.reserve_sequence,
        },
        Transaction::ServicePayment(t) => TxJson::ServicePayment {
            fee: coins_json(&t.fee),
            source: input(&t.source, SignerRole::Source),
            target: input(&t.target, SignerRole::Target),
            payment_sequence: t.payment_sequence,
            reserve_sequence: t.reserve_sequence,
            resource_id: t.resource_id.clone(),
        },
        Transaction::SplitRule(t) => TxJson::SplitRule {
            fee: coins_json(&t.fee),
            resource_id: t.resource_id.clone(),
            initiator: input(&t.initiator, SignerRole::Initiator),
            splits: t
                .splits
                .iter()
                .map(|s| SplitJson { address: addr(&s.address), percentage: s.percentage })
                .collect(),
            duration: t.duration,
        },
        Transaction::SmartContract(t) => TxJson::SmartContract {
            from: input(&t.from, SignerRole::From),
            to: output_json(&t.to),
            gas_limit: t.gas_limit,
            gas_price: t.gas_price.to_string(),
            data: hex(&t.data),
        },
        Transaction::DepositStake(t) => TxJson::DepositStake {
            fee: coins_json(&t.fee),
            source: input(&t.source, SignerRole::Source),
            holder: addr(&t.holder.address),
            purpose: t.purpose,
        },
        Transaction::WithdrawStake(t) => TxJson::WithdrawStake {
            fee: coins_json(&t.fee),
            source: input(&t.source, SignerRole::Source),
            holder: addr(&t.holder.address),
            purpose: t.purpose,
        },
        Transaction::DepositStakeV2(t) => TxJson::DepositStakeV2 {
            fee: coins_json(&t.fee),
            source: input(&t.source, SignerRole::Source),
            holder: addr(&t.holder.address),
            purpose: t.purpose,
            bls_pubkey: hex(t.bls_pubkey.as_ref().map(|k| k.as_slice()).unwrap_or_default()),
            bls_pop: hex(t.bls_pop.as_ref().map(|p| p.as_slice()).unwrap_or_default()),
            holder_sig: t
                .holder_sig
                .as_ref()
                .map_or_else(|| hex(&[]), |sig| hex(&theta_signature_bytes(sig))),
        },
        Transaction::StakeRewardDistribution(t) => TxJson::StakeRewardDistribution {
            fee: coins_json(&t.fee),
            holder: input(&t.holder, SignerRole::Holder),
            beneficiary: addr(&t.beneficiary.address),
            split_basis_point: t.split_basis_point,
        },
    }
}

fn bad(field: &str, reason: impl ToString) -> Error {
    Error::JsonField { field: field.to_owned(), reason: reason.to_string() }
}

fn parse_bytes(s: &str, field: &str) -> Result<Vec<u8>, Error> {
    if !(s.starts_with("0x") || s.starts_with("0X")) {
        return Err(bad(field, "expected 0x-prefixed hex"));
    }
    primitives::codec::from_hex(s).map_err(|e| bad(field, e))
}

fn parse_addr(s: &str, field: &str) -> Result<Address, Error> {
    let b = parse_bytes(s, field)?;
    if b.len() != 20 {
        return Err(bad(field, format!("expected 20 bytes, got {}", b.len())));
    }
    Ok(Address::from_slice(&b))
}

fn parse_amount(s: &str, field: &str) -> Result<U256, Error> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(field, "expected a decimal integer string"));
    }
    U256::from_dec_str(s).map_err(|_| bad(field, "amount does not fit 256 bits"))
}

fn parse_coins(c: &CoinsJson, field: &str) -> Result<Coins, Error> {
    Ok(Coins { theta_wei: parse_amount(&c.theta, field)?, tfuel_wei: parse_amount(&c.tfuel, field)? })
}

fn parse_input(i: &InputJson, field: &str) -> Result<TxInput, Error> {
    let signature = match &i.signature {
        None => None,
        Some(s) => {
            let b = parse_bytes(s, field)?;
            if b.is_empty() { None } else { Some(parse_theta_signature(&b).map_err(|e| bad(field, e))?) }
        }
    };
    Ok(TxInput {
        address: parse_addr(&i.address, field)?,
        coins: parse_coins(&i.coins, field)?,
        sequence: i.sequence,
        signature,
    })
}

fn parse_output(o: &OutputJson, field: &str) -> Result<TxOutput, Error> {
    Ok(TxOutput { address: parse_addr(&o.address, field)?, coins: parse_coins(&o.coins, field)? })
}

fn parse_outputs(o: &[OutputJson], field: &str) -> Result<Vec<TxOutput>, Error> {
    o.iter().map(|o| parse_output(o, field)).collect()
}

fn parse_fixed<const N: usize>(s: &str, field: &str) -> Result<Option<[u8; N]>, Error> {
    let b = parse_bytes(s, field)?;
    if b.is_empty() {
        return Ok(None);
    }
    <[u8; N]>::try_from(b.as_slice())
        .map(Some)
        .map_err(|_| bad(field, format!("expected {N} bytes, got {}", b.len())))
}

fn holder(s: &str, field: &str) -> Result<TxOutput, Error> {
    Ok(TxOutput::new(parse_addr(s, field)?, Coins::zero()))
}

/// The transaction a `sign` JSON document describes (signatures as given).
pub fn from_json(j: &TxJson) -> Result<Transaction, Error> {
    Ok(match j {
        TxJson::Coinbase { proposer, outputs, block_height } => Transaction::Coinbase(CoinbaseTx {
            proposer: parse_input(proposer, "proposer")?,
            outputs: parse_outputs(outputs, "outputs")?,
            block_height: *block_height,
        }),
        TxJson::Slash { proposer, slashed_address, reserve_sequence, slash_proof } => {
            Transaction::Slash(SlashTx {
                proposer: parse_input(proposer, "proposer")?,
                slashed_address: parse_addr(slashed_address, "slashed_address")?,
                reserve_sequence: *reserve_sequence,
                slash_proof: parse_bytes(slash_proof, "slash_proof")?,
            })
        }
        TxJson::Send { fee, inputs, outputs } => Transaction::Send(SendTx {
            fee: parse_coins(fee, "fee")?,
            inputs: inputs.iter().map(|i| parse_input(i, "inputs")).collect::<Result<_, _>>()?,
            outputs: parse_outputs(outputs, "outputs")?,
        }),
        TxJson::ReserveFund { fee, source, collateral, resource_ids, duration } => {
            Transaction::ReserveFund(ReserveFundTx {
                fee: parse_coins(fee, "fee")?,
                source: parse_input(source, "source")?,
                collateral: parse_coins(collateral, "collateral")?,
                resource_ids: resource_ids.clone(),
                duration: *duration,
            })
        }
        TxJson::ReleaseFund { fee, source, reserve_sequence } => Transaction::ReleaseFund(ReleaseFundTx {
            fee: parse_coins(fee, "fee")?,
            source: parse_input(source, "source")?,
            reserve_sequence: *reserve_sequence,
        }),
        TxJson::ServicePayment { fee, source, target, payment_sequence, reserve_sequence, resource_id } => {
            Transaction::ServicePayment(ServicePaymentTx {
                fee: parse_coins(fee, "fee")?,
                source: parse_input(source, "source")?,
                target: parse_input(target, "target")?,
                payment_sequence: *payment_sequence,
                reserve_sequence: *reserve_sequence,
                resource_id: resource_id.clone(),
            })
        }
        TxJson::SplitRule { fee, resource_id, initiator, splits, duration } => {
            Transaction::SplitRule(SplitRuleTx {
                fee: parse_coins(fee, "fee")?,
                resource_id: resource_id.clone(),
                initiator: parse_input(initiator, "initiator")?,
                splits: splits
                    .iter()
                    .map(|s| {
                        Ok(Split { address: parse_addr(&s.address, "splits")?, percentage: s.percentage })
                    })
                    .collect::<Result<_, Error>>()?,
                duration: *duration,
            })
        }
        TxJson::SmartContract { from, to, gas_limit, gas_price, data } => {
            Transaction::SmartContract(SmartContractTx {
                from: parse_input(from, "from")?,
                to: parse_output(to, "to")?,
                gas_limit: *gas_limit,
                gas_price: parse_amount(gas_price, "gas_price")?,
                data: parse_bytes(data, "data")?,
            })
        }
        TxJson::DepositStake { fee, source, holder: h, purpose } => Transaction::DepositStake(StakeTx {
            fee: parse_coins(fee, "fee")?,
            source: parse_input(source, "source")?,
            holder: holder(h, "holder")?,
            purpose: *purpose,
        }),
        TxJson::WithdrawStake { fee, source, holder: h, purpose } => Transaction::WithdrawStake(StakeTx {
            fee: parse_coins(fee, "fee")?,
            source: parse_input(source, "source")?,
            holder: holder(h, "holder")?,
            purpose: *purpose,
        }),
        TxJson::DepositStakeV2 { fee, source, holder: h, purpose, bls_pubkey, bls_pop, holder_sig } => {
            let sig = parse_bytes(holder_sig, "holder_sig")?;
            Transaction::DepositStakeV2(DepositStakeV2Tx {
                fee: parse_coins(fee, "fee")?,
                source: parse_input(source, "source")?,
                holder: holder(h, "holder")?,
                purpose: *purpose,
                bls_pubkey: parse_fixed::<BLS_PUBKEY_LEN>(bls_pubkey, "bls_pubkey")?,
                bls_pop: parse_fixed::<BLS_POP_LEN>(bls_pop, "bls_pop")?,
                holder_sig: if sig.is_empty() {
                    None
                } else {
                    Some(parse_theta_signature(&sig).map_err(|e| bad("holder_sig", e))?)
                },
            })
        }
        TxJson::StakeRewardDistribution { fee, holder: h, beneficiary, split_basis_point } => {
            Transaction::StakeRewardDistribution(StakeRewardDistributionTx {
                fee: parse_coins(fee, "fee")?,
                holder: parse_input(h, "holder")?,
                beneficiary: holder(beneficiary, "beneficiary")?,
                split_basis_point: *split_basis_point,
            })
        }
    })
}

fn error_line(e: &Error) -> String {
    serde_json::json!({ "error": e.to_string() }).to_string()
}

fn render(j: &TxJson) -> String {
    serde_json::to_string(j).unwrap_or_else(|e| error_line(&Error::Json(e.to_string())))
}

/// `theta_tx decode` for one line: hex (optional `0x`) in, one JSON object out.
pub fn decode_line(line: &str, chain_id: &str, limit: usize) -> String {
    let run = || -> Result<String, Error> {
        let line = line.trim();
        let bytes = primitives::codec::from_hex(line).map_err(|e| bad("hex", e))?;
        let tx = Transaction::decode(&bytes, limit)?;
        Ok(render(&to_json(&tx, chain_id)))
    };
    run().unwrap_or_else(|e| error_line(&e))
}

/// Builds and signs the transaction a JSON document describes: a DepositStakeV2's
/// missing `holder_sig` is made first by a key matching the holder, then every signer
/// role matching one of `keys` is signed, in signing order.
pub fn sign_json(j: &TxJson, chain_id: &str, keys: &[SecretKey]) -> Result<Transaction, Error> {
    let mut tx = from_json(j)?;
    if let Transaction::DepositStakeV2(t) = &mut tx
        && t.holder_sig.is_none()
        && t.bls_pop.is_some()
        && let Some(k) = keys.iter().find(|k| k.address() == t.holder.address)
    {
        t.sign_holder(k)?;
    }
    let signers: Vec<&dyn primitives::Signer> = keys.iter().map(|k| k as &dyn primitives::Signer).collect();
    tx.sign_with_keys(chain_id, &signers)?;
    Ok(tx)
}

/// `theta_tx sign` for one line: one JSON object in, the transaction hex (no `0x`, as
/// theta-js prints it) or `{"error": …}` out.
pub fn sign_line(line: &str, chain_id: &str, keys: &[SecretKey]) -> String {
    let run = || -> Result<String, Error> {
        let j: TxJson = serde_json::from_str(line).map_err(|e| Error::Json(e.to_string()))?;
        Ok(hex_no_prefix(&sign_json(&j, chain_id, keys)?.encode()))
    };
    run().unwrap_or_else(|e| error_line(&e))
}

fn hex_no_prefix(b: &[u8]) -> String {
    let h = hex(b);
    h.strip_prefix("0x").unwrap_or(&h).to_owned()
}
