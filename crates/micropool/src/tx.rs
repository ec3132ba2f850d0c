//! The pool's on-chain transactions, their signed digests and canonical RLP encodings
//! (whitepaper v2.0, "Resource Oriented Micropayment Pool"; Theta's `ReserveFundTx`,
//! `ServicePaymentTx`, `ReleaseFundTx`, plus the overspend report the reference code
//! lacks).

use primitives::rlp::{Decodable, DecoderError, Encodable, Rlp, RlpStream};
use primitives::{Address, H256, SecretKey, Signature, U256, keccak256};

use crate::cheque::{ResourceId, SignedCheque, check_signer, decode_canonical};
use crate::error::{Error, Role};

/// Longest encoded [`Transaction`] [`Transaction::decode`] accepts.
pub const MAX_TX_BYTES: usize = 16 * 1024;

/// Most resource ids, or evidence cheques, a decoded transaction may carry (the rules
/// apply the tighter [`PoolConfig`](crate::PoolConfig) limits).
pub const MAX_TX_ITEMS: usize = 64;

/// Domain tag of the [`ServicePayment`] countersignature digest.
pub const SETTLE_DOMAIN: &[u8] = b"meshcast/micropool/settle/v1";

fn digest(domain: &[u8], chain_id: u64, fields: usize, append: impl FnOnce(&mut RlpStream)) -> H256 {
    let mut s = RlpStream::new_list(fields + 2);
    s.append(&domain);
    s.append(&chain_id);
    append(&mut s);
    keccak256(s.out())
}

fn bounded_list<T: Decodable>(r: &Rlp<'_>, at: usize) -> Result<Vec<T>, DecoderError> {
    let item = r.at(at)?;
    if item.item_count()? > MAX_TX_ITEMS {
        return Err(DecoderError::Custom("too many items"));
    }
    item.as_list()
}

fn expect_len(r: &Rlp<'_>, n: usize) -> Result<(), DecoderError> {
    if r.item_count()? == n { Ok(()) } else { Err(DecoderError::RlpIncorrectListLen) }
}

/// Locks `deposit + collateral` of `source` for `duration` blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReserveFund {
    /// The viewer; pays deposit, collateral and fee, and signs.
    pub source: Address,
    /// Must exceed every reserve sequence `source` used before.
    pub reserve_seq: u64,
    /// Resources the cheques may pay for.
    pub resource_ids: Vec<ResourceId>,
    /// Pays the cheques.
    pub deposit: U256,
    /// Slashed on overspend; must exceed the deposit.
    pub collateral: U256,
    /// Blocks from inclusion to the end height.
    pub duration: u64,
    /// Transaction fee.
    pub fee: U256,
    /// The source's signature over [`ReserveFund::signing_hash`].
    pub signature: Signature,
}

impl ReserveFund {
    /// Digest signed by the source.
    pub fn signing_hash(&self, chain_id: u64) -> H256 {
        digest(b"meshcast/micropool/reserve/v1", chain_id, 7, |s| {
            s.append(&self.source).append(&self.reserve_seq);
            s.append_list(&self.resource_ids);
            s.append(&self.deposit).append(&self.collateral).append(&self.duration).append(&self.fee);
        })
    }

    /// Fills `signature` with `key`'s signature.
    pub fn signed(mut self, key: &SecretKey, chain_id: u64) -> Self {
        self.signature = key.sign_prehash(&self.signing_hash(chain_id));
        self
    }

    /// Checks the source's signature.
    pub fn verify(&self, chain_id: u64) -> Result<(), Error> {
        check_signer(&self.signature, &self.signing_hash(chain_id), self.source, Role::Source)
    }
}

/// Settles a cheque: the payee's countersignature over the source-signed cheque.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePayment {
    /// The source-signed cheque; its `target` submits and signs.
    pub cheque: SignedCheque,
    /// Transaction fee, paid by the target.
    pub fee: U256,
    /// The target's signature over [`ServicePayment::signing_hash`].
    pub target_signature: Signature,
}

impl ServicePayment {
    /// Digest the target countersigns: keccak256 of the RLP list `[SETTLE_DOMAIN,
    /// chain_id, cheque_digest, source_signature, fee]`, where `cheque_digest` is the
    /// cheque's [`Cheque::signing_hash`](crate::Cheque::signing_hash). It commits to the
    /// cheque through the digest the source signed (computed once when verifying both
    /// signatures) and to the source's signature.
    pub fn signing_hash(&self, chain_id: u64) -> H256 {
        self.signing_hash_over(&self.cheque.cheque.signing_hash(chain_id), chain_id)
    }

    fn signing_hash_over(&self, cheque_digest: &H256, chain_id: u64) -> H256 {
        digest(SETTLE_DOMAIN, chain_id, 3, |s| {
            s.append(cheque_digest);
            s.append(&self.cheque.signature);
            s.append(&self.fee);
        })
    }

    /// Countersigns `cheque` with the payee's `key`.
    pub fn countersign(cheque: SignedCheque, fee: U256, key: &SecretKey, chain_id: u64) -> Self {
        let mut tx = ServicePayment { cheque, fee, target_signature: placeholder_signature() };
        tx.target_signature = key.sign_prehash(&tx.signing_hash(chain_id));
        tx
    }

    /// Checks both signatures: the source's on the cheque and the target's on the
    /// settlement.
    pub fn verify(&self, chain_id: u64) -> Result<(), Error> {
        let cheque_digest = self.cheque.cheque.signing_hash(chain_id);
        check_signer(&self.cheque.signature, &cheque_digest, self.cheque.cheque.source, Role::Source)?;
        check_signer(
            &self.target_signature,
            &self.signing_hash_over(&cheque_digest, chain_id),
            self.cheque.cheque.target,
            Role::Target,
        )
    }
}

/// Returns the rest of a reserve to its source after `end_height + freeze_period`.
/// Anyone may submit it (the funds go to the source, or are slashed), so a slashed
/// reserve cannot stay locked forever.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseFund {
    /// Pays the fee and signs.
    pub submitter: Address,
    /// The reserve's source.
    pub source: Address,
    /// The reserve's sequence.
    pub reserve_seq: u64,
    /// Transaction fee.
    pub fee: U256,
    /// The submitter's signature over [`ReleaseFund::signing_hash`].
    pub signature: Signature,
}

impl ReleaseFund {
    /// Digest signed by the submitter.
    pub fn signing_hash(&self, chain_id: u64) -> H256 {
        digest(b"meshcast/micropool/release/v1", chain_id, 4, |s| {
            s.append(&self.submitter).append(&self.source).append(&self.reserve_seq).append(&self.fee);
        })
    }

    /// Fills `signature` with `key`'s signature.
    pub fn signed(mut self, key: &SecretKey, chain_id: u64) -> Self {
        self.signature = key.sign_prehash(&self.signing_hash(chain_id));
        self
    }

    /// Checks the submitter's signature.
    pub fn verify(&self, chain_id: u64) -> Result<(), Error> {
        check_signer(&self.signature, &self.signing_hash(chain_id), self.submitter, Role::Submitter)
    }
}

/// **\[beyond\]** Proves an overspend: source-signed cheques of one reserve whose
/// cumulative amounts, taken with what the reserve already settled, exceed the deposit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportOverspend {
    /// Pays the fee, signs, and receives the penalty under
    /// [`SlashDestination::Reporter`](crate::SlashDestination::Reporter).
    pub reporter: Address,
    /// The source-signed cheques (no countersignature needed).
    pub evidence: Vec<SignedCheque>,
    /// Transaction fee.
    pub fee: U256,
    /// The reporter's signature over [`ReportOverspend::signing_hash`].
    pub signature: Signature,
}

impl ReportOverspend {
    /// Digest signed by the reporter.
    pub fn signing_hash(&self, chain_id: u64) -> H256 {
        digest(b"meshcast/micropool/overspend/v1", chain_id, 3, |s| {
            s.append(&self.reporter);
            s.append_list(&self.evidence);
            s.append(&self.fee);
        })
    }

    /// Fills `signature` with `key`'s signature.
    pub fn signed(mut self, key: &SecretKey, chain_id: u64) -> Self {
        self.signature = key.sign_prehash(&self.signing_hash(chain_id));
        self
    }

    /// Checks the reporter's signature (the evidence is checked by the rule).
    pub fn verify(&self, chain_id: u64) -> Result<(), Error> {
        check_signer(&self.signature, &self.signing_hash(chain_id), self.reporter, Role::Submitter)
    }
}

/// Any pool transaction. Wire form: the RLP list `[kind, fields…, signature]` with kind
/// 1 = reserve, 2 = service payment, 3 = release, 4 = overspend report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transaction {
    /// [`ReserveFund`].
    Reserve(ReserveFund),
    /// [`ServicePayment`].
    Pay(ServicePayment),
    /// [`ReleaseFund`].
    Release(ReleaseFund),
    /// [`ReportOverspend`].
    Report(ReportOverspend),
}

impl Transaction {
    /// Canonical wire bytes.
    pub fn encode(&self) -> Vec<u8> {
        primitives::rlp::encode(self).to_vec()
    }

    /// Decodes untrusted bytes: at most [`MAX_TX_BYTES`], canonical RLP, at most
    /// [`MAX_TX_ITEMS`] resource ids or evidence cheques. Signatures are parsed but not
    /// checked.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        decode_canonical(bytes, MAX_TX_BYTES, "transaction")
    }

    /// Checks the transaction's signatures.
    pub fn verify(&self, chain_id: u64) -> Result<(), Error> {
        match self {
            Transaction::Reserve(t) => t.verify(chain_id),
            Transaction::Pay(t) => t.verify(chain_id),
            Transaction::Release(t) => t.verify(chain_id),
            Transaction::Report(t) => t.verify(chain_id),
        }
    }
}

impl Encodable for Transaction {
    fn rlp_append(&self, s: &mut RlpStream) {
        match self {
            Transaction::Reserve(t) => {
                s.begin_list(9).append(&1u8).append(&t.source).append(&t.reserve_seq);
                s.append_list(&t.resource_ids);
                s.append(&t.deposit).append(&t.collateral).append(&t.duration).append(&t.fee);
                s.append(&t.signature);
            }
            Transaction::Pay(t) => {
                s.begin_list(4).append(&2u8).append(&t.cheque).append(&t.fee).append(&t.target_signature);
            }
            Transaction::Release(t) => {
                s.begin_list(6).append(&3u8).append(&t.submitter).append(&t.source);
                s.append(&t.reserve_seq).append(&t.fee).append(&t.signature);
            }
            Transaction::Report(t) => {
                s.begin_list(5).append(&4u8).append(&t.reporter);
                s.append_list(&t.evidence);
                s.append(&t.fee).append(&t.signature);
            }
        }
    }
}

impl Decodable for Transaction {
    fn decode(r: &Rlp<'_>) -> Result<Self, DecoderError> {
        let kind: u8 = r.val_at(0)?;
        Ok(match kind {
            1 => {
                expect_len(r, 9)?;
                Transaction::Reserve(ReserveFund {
                    source: r.val_at(1)?,
                    reserve_seq: r.val_at(2)?,
                    resource_ids: bounded_list(r, 3)?,
                    deposit: r.val_at(4)?,
                    collateral: r.val_at(5)?,
                    duration: r.val_at(6)?,
                    fee: r.val_at(7)?,
                    signature: r.val_at(8)?,
                })
            }
            2 => {
                expect_len(r, 4)?;
                Transaction::Pay(ServicePayment {
                    cheque: r.val_at(1)?,
                    fee: r.val_at(2)?,
                    target_signature: r.val_at(3)?,
                })
            }
            3 => {
                expect_len(r, 6)?;
                Transaction::Release(ReleaseFund {
                    submitter: r.val_at(1)?,
                    source: r.val_at(2)?,
                    reserve_seq: r.val_at(3)?,
                    fee: r.val_at(4)?,
                    signature: r.val_at(5)?,
                })
            }
            4 => {
                expect_len(r, 5)?;
                Transaction::Report(ReportOverspend {
                    reporter: r.val_at(1)?,
                    evidence: bounded_list(r, 2)?,
                    fee: r.val_at(3)?,
                    signature: r.val_at(4)?,
                })
            }
            _ => return Err(DecoderError::Custom("unknown transaction kind")),
        })
    }
}

/// A syntactically valid placeholder signature (r = s = 1) for building a transaction
/// before signing it; no key produced it for any message of this crate.
pub fn placeholder_signature() -> Signature {
    let mut bytes = [0u8; 65];
    bytes[31] = 1;
    bytes[63] = 1;
    bytes[64] = 27;
    #[allow(clippy::expect_used)]
    // r = s = 1 lies in range, is low-S and has v = 27: parsing cannot fail.
    Signature::from_bytes(&bytes).expect("r = s = 1 is a well-formed signature")
}
