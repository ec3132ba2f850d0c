//! Sign bytes, signing and signature checks, as Theta's Go ledger defines them.
//!
//! Sign bytes = `RLP(EthTx{nonce 0, gas price 0, gas 0, to 0x00…00 (20 bytes), value 0,
//! data})` with `data = RLP(chain id string) ‖ RLP(type) ‖ RLP(struct with the signer's
//! signatures emptied)` (Go `addPrefixForSignBytes`); the signer signs
//! `keccak256(sign bytes)` with secp256k1 and writes `r ‖ s ‖ v`, `v ∈ {0, 1}`, low `s`
//! (go-ethereum's `crypto.Sign`). A check recovers the signer and compares its 20-byte
//! address with the input's.
//!
//! Since `HeightTxWrapperExtension` Theta also accepts a signature over the "V2" wrapper,
//! an EIP-155-shaped list `[0, 0, 0, to, 0, data, 1, 0, 0]` (`ChangeEthereumTxWrapper`);
//! [`Transaction::verify`] accepts either, as Theta's `validateInputAdvanced` does, and
//! this crate signs with the original wrapper, as theta-js does.

use primitives::rlp::RlpStream;
use primitives::{Address, H256, Signature, Signer, keccak256};

use crate::error::Error;
use crate::tx::{
    Coins, DepositStakeV2Tx, STAKE_FOR_ELITE_EDGE_NODE, STAKE_FOR_GUARDIAN, STAKE_FOR_VALIDATOR, Transaction,
    TxInput,
};

/// `r ‖ s ‖ v` with Theta's `v ∈ {0, 1}` (primitives' [`Signature::to_bytes`] writes
/// `v ∈ {27, 28}`).
pub fn theta_signature_bytes(sig: &Signature) -> [u8; 65] {
    let mut out = sig.to_bytes();
    out[64] = sig.v() - 27;
    out
}

/// Parses Theta's `r ‖ s ‖ v`: exactly 65 bytes, `v ∈ {0, 1}` only (27/28 is refused,
/// as Theta's recovery refuses it), `0 < r, s < n`, low `s`.
pub fn parse_theta_signature(bytes: &[u8]) -> Result<Signature, primitives::Error> {
    if bytes.len() != Signature::LEN {
        return Err(primitives::Error::BadLength { expected: Signature::LEN, got: bytes.len() });
    }
    match bytes[64] {
        0 | 1 => Signature::from_bytes_lenient(bytes),
        v => Err(primitives::Error::BadRecoveryByte(v)),
    }
}

/// Which wrapper the sign bytes use (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wrapper {
    /// `[nonce, gas price, gas, to, value, data]`, all zero: what theta-js signs.
    V1,
    /// `[nonce, gas price, gas, to, value, data, 1, 0, 0]`: also accepted by Theta.
    V2,
}

/// Wraps `payload` as the data of a zero Ethereum legacy transaction.
pub fn wrap_sign_bytes(payload: &[u8], wrapper: Wrapper) -> Vec<u8> {
    let mut s = RlpStream::new_list(if wrapper == Wrapper::V1 { 6 } else { 9 });
    s.append(&0u64);
    s.append(&0u64);
    s.append(&0u64);
    s.append(&[0u8; 20].as_slice());
    s.append(&0u64);
    s.append(&payload);
    if wrapper == Wrapper::V2 {
        s.append(&1u64);
        s.append(&0u64);
        s.append(&0u64);
    }
    s.out().to_vec()
}

/// Who signs a transaction: each role names one [`TxInput`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SignerRole {
    /// Coinbase and Slash: the block proposer.
    Proposer,
    /// Send: input `i`.
    Input(usize),
    /// ReserveFund, ReleaseFund, ServicePayment (the cheque), DepositStake(V2),
    /// WithdrawStake: the source.
    Source,
    /// ServicePayment: the payee's countersignature.
    Target,
    /// SplitRule: the initiator.
    Initiator,
    /// SmartContract: the caller.
    From,
    /// StakeRewardDistribution: the stake holder.
    Holder,
}

impl std::fmt::Display for SignerRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignerRole::Proposer => f.write_str("proposer"),
            SignerRole::Input(i) => write!(f, "inputs[{i}]"),
            SignerRole::Source => f.write_str("source"),
            SignerRole::Target => f.write_str("target"),
            SignerRole::Initiator => f.write_str("initiator"),
            SignerRole::From => f.write_str("from"),
            SignerRole::Holder => f.write_str("holder"),
        }
    }
}

/// The outcome of checking one signer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureCheck {
    /// The role checked.
    pub role: SignerRole,
    /// The input's address.
    pub address: Address,
    /// `Ok` when the signature recovers to `address`.
    pub result: Result<(), Error>,
}

impl Transaction {
    /// Every signer role of this transaction, in signing order, with its address.
    /// (ServicePayment's source signs before its target: the target's sign bytes cover
    /// the source's signature.)
    pub fn signers(&self) -> Vec<(SignerRole, Address)> {
        match self {
            Transaction::Coinbase(t) => vec![(SignerRole::Proposer, t.proposer.address)],
            Transaction::Slash(t) => vec![(SignerRole::Proposer, t.proposer.address)],
            Transaction::Send(t) => {
                t.inputs.iter().enumerate().map(|(i, inp)| (SignerRole::Input(i), inp.address)).collect()
            }
            Transaction::ReserveFund(t) => vec![(SignerRole::Source, t.source.address)],
            Transaction::ReleaseFund(t) => vec![(SignerRole::Source, t.source.address)],
            Transaction::ServicePayment(t) => {
                vec![(SignerRole::Source, t.source.address), (SignerRole::Target, t.target.address)]
            }
            Transaction::SplitRule(t) => vec![(SignerRole::Initiator, t.initiator.address)],
            Transaction::SmartContract(t) => vec![(SignerRole::From, t.from.address)],
            Transaction::DepositStake(t) | Transaction::WithdrawStake(t) => {
                vec![(SignerRole::Source, t.source.address)]
            }
            Transaction::DepositStakeV2(t) => vec![(SignerRole::Source, t.source.address)],
            Transaction::StakeRewardDistribution(t) => vec![(SignerRole::Holder, t.holder.address)],
        }
    }

    /// The input a role names.
    pub fn input(&self, role: SignerRole) -> Result<&TxInput, Error> {
        let found = match (self, role) {
            (Transaction::Coinbase(t), SignerRole::Proposer) => Some(&t.proposer),
            (Transaction::Slash(t), SignerRole::Proposer) => Some(&t.proposer),
            (Transaction::Send(t), SignerRole::Input(i)) => t.inputs.get(i),
            (Transaction::ReserveFund(t), SignerRole::Source) => Some(&t.source),
            (Transaction::ReleaseFund(t), SignerRole::Source) => Some(&t.source),
            (Transaction::ServicePayment(t), SignerRole::Source) => Some(&t.source),
            (Transaction::ServicePayment(t), SignerRole::Target) => Some(&t.target),
            (Transaction::SplitRule(t), SignerRole::Initiator) => Some(&t.initiator),
            (Transaction::SmartContract(t), SignerRole::From) => Some(&t.from),
            (Transaction::DepositStake(t) | Transaction::WithdrawStake(t), SignerRole::Source) => {
                Some(&t.source)
            }
            (Transaction::DepositStakeV2(t), SignerRole::Source) => Some(&t.source),
            (Transaction::StakeRewardDistribution(t), SignerRole::Holder) => Some(&t.holder),
            _ => None,
        };
        found.ok_or_else(|| self.no_such(role))
    }

    fn input_mut(&mut self, role: SignerRole) -> Result<&mut TxInput, Error> {
        let tx_type = self.tx_type();
        let found = match (self, role) {
            (Transaction::Coinbase(t), SignerRole::Proposer) => Some(&mut t.proposer),
            (Transaction::Slash(t), SignerRole::Proposer) => Some(&mut t.proposer),
            (Transaction::Send(t), SignerRole::Input(i)) => t.inputs.get_mut(i),
            (Transaction::ReserveFund(t), SignerRole::Source) => Some(&mut t.source),
            (Transaction::ReleaseFund(t), SignerRole::Source) => Some(&mut t.source),
            (Transaction::ServicePayment(t), SignerRole::Source) => Some(&mut t.source),
            (Transaction::ServicePayment(t), SignerRole::Target) => Some(&mut t.target),
            (Transaction::SplitRule(t), SignerRole::Initiator) => Some(&mut t.initiator),
            (Transaction::SmartContract(t), SignerRole::From) => Some(&mut t.from),
            (Transaction::DepositStake(t) | Transaction::WithdrawStake(t), SignerRole::Source) => {
                Some(&mut t.source)
            }
            (Transaction::DepositStakeV2(t), SignerRole::Source) => Some(&mut t.source),
            (Transaction::StakeRewardDistribution(t), SignerRole::Holder) => Some(&mut t.holder),
            _ => None,
        };
        found.ok_or(Error::NoSuchSigner { tx_type, role: role.to_string() })
    }

    fn no_such(&self, role: SignerRole) -> Error {
        Error::NoSuchSigner { tx_type: self.tx_type(), role: role.to_string() }
    }

    /// `RLP(type) ‖ RLP(struct)` as the signer of `role` signs it: the same transaction
    /// with that role's signatures emptied (all inputs' for Send, whose inputs sign the
    /// same bytes), except where Theta signs something else:
    /// ServicePayment's source signs the cheque (fee zero, source without sequence,
    /// target reduced to its address); DepositStakeV2 for a validator signs the V1
    /// DepositStake (type 8) made of its first four fields.
    fn unsigned_payload(&self, role: SignerRole) -> Result<Vec<u8>, Error> {
        self.input(role)?;
        let mut tx = self.clone();
        match &mut tx {
            Transaction::Send(t) => t.inputs.iter_mut().for_each(|i| i.signature = None),
            Transaction::ServicePayment(t) if role == SignerRole::Source => {
                t.fee = Coins::zero();
                t.source = TxInput::new(t.source.address, t.source.coins, 0);
                t.target = TxInput::new(t.target.address, Coins::zero(), 0);
            }
            Transaction::DepositStakeV2(t) => {
                t.source.signature = None;
                match t.purpose {
                    STAKE_FOR_VALIDATOR => {
                        let v1 = crate::tx::StakeTx {
                            fee: t.fee,
                            source: t.source.clone(),
                            holder: t.holder.clone(),
                            purpose: t.purpose,
                        };
                        return Ok(Transaction::DepositStake(v1).encode());
                    }
                    STAKE_FOR_GUARDIAN | STAKE_FOR_ELITE_EDGE_NODE => {}
                    other => return Err(Error::InvalidStakePurpose(other)),
                }
            }
            other => other.input_mut(role)?.signature = None,
        }
        Ok(tx.encode())
    }

    /// The sign bytes for `role` on chain `chain_id`, with the V1 wrapper.
    pub fn sign_bytes(&self, chain_id: &str, role: SignerRole) -> Result<Vec<u8>, Error> {
        self.sign_bytes_with(chain_id, role, Wrapper::V1)
    }

    /// The sign bytes for `role` with a chosen wrapper.
    pub fn sign_bytes_with(
        &self,
        chain_id: &str,
        role: SignerRole,
        wrapper: Wrapper,
    ) -> Result<Vec<u8>, Error> {
        let mut payload = primitives::rlp::encode(&chain_id.as_bytes()).to_vec();
        payload.extend_from_slice(&self.unsigned_payload(role)?);
        Ok(wrap_sign_bytes(&payload, wrapper))
    }

    /// Theta's transaction id (`types.TxID`): keccak256 of the sign bytes (for
    /// ServicePayment, the target's). It does not cover the signatures.
    pub fn id(&self, chain_id: &str) -> Result<H256, Error> {
        let role = match self {
            Transaction::ServicePayment(_) => SignerRole::Target,
            _ => match self.signers().first() {
                Some((role, _)) => *role,
                // A Send without inputs: Theta hashes the sign bytes anyway.
                None => return Ok(keccak256(self.sign_bytes_unchecked(chain_id))),
            },
        };
        Ok(keccak256(self.sign_bytes(chain_id, role)?))
    }

    fn sign_bytes_unchecked(&self, chain_id: &str) -> Vec<u8> {
        let mut payload = primitives::rlp::encode(&chain_id.as_bytes()).to_vec();
        payload.extend_from_slice(&self.encode());
        wrap_sign_bytes(&payload, Wrapper::V1)
    }

    /// Signs `role` with `signer`, whose address must be the role's input's.
    pub fn sign(&mut self, chain_id: &str, role: SignerRole, signer: &dyn Signer) -> Result<(), Error> {
        let address = self.input(role)?.address;
        if signer.address() != address {
            return Err(Error::SignerMismatch { key: signer.address(), input: address });
        }
        let digest = keccak256(self.sign_bytes(chain_id, role)?);
        self.input_mut(role)?.signature = Some(signer.sign_digest(&digest));
        Ok(())
    }

    /// Signs every role whose address is `signer`'s, in signing order; returns how many.
    pub fn sign_all(&mut self, chain_id: &str, signer: &dyn Signer) -> Result<usize, Error> {
        self.sign_with_keys(chain_id, &[signer])
    }

    /// Signs every role whose address matches one of `signers`, in signing order (so a
    /// ServicePayment's target countersigns after its source signed); returns how many
    /// roles were signed. A Send's inputs share one digest, built once.
    pub fn sign_with_keys(&mut self, chain_id: &str, signers: &[&dyn Signer]) -> Result<usize, Error> {
        let mut shared: Option<H256> = None;
        let mut count = 0;
        for (role, address) in self.signers() {
            let Some(signer) = signers.iter().find(|s| s.address() == address) else { continue };
            let digest = match shared {
                Some(d) => d,
                None => keccak256(self.sign_bytes(chain_id, role)?),
            };
            if matches!(self, Transaction::Send(_)) {
                shared = Some(digest);
            }
            self.input_mut(role)?.signature = Some(signer.sign_digest(&digest));
            count += 1;
        }
        Ok(count)
    }

    /// Checks one role's signature: present, and recovering to the input's address over
    /// the V1 or the V2 wrapper.
    pub fn verify_role(&self, chain_id: &str, role: SignerRole) -> Result<(), Error> {
        self.verify_with(&mut Digests::new(self, chain_id), role)
    }

    fn verify_with(&self, digests: &mut Digests<'_>, role: SignerRole) -> Result<(), Error> {
        let input = self.input(role)?;
        let sig = input.signature.ok_or(Error::MissingSignature { address: input.address })?;
        let v1 = digests.get(role, Wrapper::V1)?;
        let recovered = sig.recover(&v1).map_err(|_| Error::RecoveryFailed)?;
        if recovered == input.address {
            return Ok(());
        }
        let v2 = digests.get(role, Wrapper::V2)?;
        if sig.recover(&v2).ok() == Some(input.address) {
            return Ok(());
        }
        Err(Error::WrongSigner { recovered, expected: input.address })
    }

    /// Checks every signer; one entry per role, in [`Transaction::signers`] order.
    ///
    /// Each distinct sign-bytes payload is built and hashed once (a Send's inputs share
    /// one), so the cost is one encoding of the transaction plus one or two recoveries
    /// per signer, not one encoding per signer.
    pub fn verify(&self, chain_id: &str) -> Vec<SignatureCheck> {
        let mut digests = Digests::new(self, chain_id);
        self.signers()
            .into_iter()
            .map(|(role, address)| SignatureCheck {
                role,
                address,
                result: self.verify_with(&mut digests, role),
            })
            .collect()
    }

    /// `Ok` when every signer's signature is valid; otherwise the first failure.
    pub fn verify_all(&self, chain_id: &str) -> Result<(), Error> {
        self.verify(chain_id).into_iter().try_for_each(|c| c.result)
    }
}

/// Sign-bytes digests of one transaction, computed on first use. Roles share a digest
/// unless Theta signs different bytes for them (only ServicePayment's source and target
/// differ).
struct Digests<'a> {
    tx: &'a Transaction,
    chain_id: &'a str,
    /// `[class][wrapper]`: class 1 is ServicePayment's source, 0 everything else.
    cache: [[Option<H256>; 2]; 2],
}

impl<'a> Digests<'a> {
    fn new(tx: &'a Transaction, chain_id: &'a str) -> Self {
        Digests { tx, chain_id, cache: [[None; 2]; 2] }
    }

    fn get(&mut self, role: SignerRole, wrapper: Wrapper) -> Result<H256, Error> {
        let class =
            usize::from(matches!(self.tx, Transaction::ServicePayment(_)) && role == SignerRole::Source);
        let w = usize::from(wrapper == Wrapper::V2);
        if let Some(d) = self.cache[class][w] {
            return Ok(d);
        }
        let d = keccak256(self.tx.sign_bytes_with(self.chain_id, role, wrapper)?);
        self.cache[class][w] = Some(d);
        Ok(d)
    }
}

impl DepositStakeV2Tx {
    /// What the holder signs: `keccak256(bls_pop)`, or `None` without a PoP.
    pub fn holder_digest(&self) -> Option<H256> {
        self.bls_pop.as_ref().map(keccak256)
    }

    /// Sets `holder_sig` with the holder's key. Sign this before the source signs: a
    /// guardian deposit's sign bytes cover the holder signature.
    pub fn sign_holder(&mut self, signer: &dyn Signer) -> Result<(), Error> {
        if signer.address() != self.holder.address {
            return Err(Error::SignerMismatch { key: signer.address(), input: self.holder.address });
        }
        let digest = self.holder_digest().ok_or(Error::BadLength {
            field: "deposit_stake_v2.bls_pop".into(),
            expected: crate::tx::BLS_POP_LEN,
            got: 0,
        })?;
        self.holder_sig = Some(signer.sign_digest(&digest));
        Ok(())
    }

    /// Checks that the holder signed the PoP (Theta's `checkBLSSummary` signature part;
    /// the BLS PoP itself is checked by the staking rules against the DESIGN.md
    /// ciphersuite, not here).
    pub fn verify_holder(&self) -> Result<(), Error> {
        let sig = self.holder_sig.ok_or(Error::MissingSignature { address: self.holder.address })?;
        let digest = self.holder_digest().ok_or(Error::BadLength {
            field: "deposit_stake_v2.bls_pop".into(),
            expected: crate::tx::BLS_POP_LEN,
            got: 0,
        })?;
        let recovered = sig.recover(&digest).map_err(|_| Error::RecoveryFailed)?;
        if recovered == self.holder.address {
            Ok(())
        } else {
            Err(Error::WrongSigner { recovered, expected: self.holder.address })
        }
    }
}
