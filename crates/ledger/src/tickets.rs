//! Livepeer's probabilistic micropayment tickets, settled on this chain: the ticket
//! broker's rules ([`pm_tickets::Broker`], Livepeer's `TicketBroker`) kept in the ledger's
//! state, so a broadcaster pays orchestrators with `pm-tickets` lottery tickets and the
//! winners are redeemed on the same chain that runs Theta's micropayment pool.
//!
//! # Transactions
//!
//! Theta has no ticket broker, so [`TicketTx`] is meshcast's own transaction, not a Theta
//! wire type: `RLP([fee, input, op, op_data])`, built from Theta's parts (`Coins`,
//! `TxInput`, the sign-bytes wrapper, a 65-byte `r‖s‖v` secp256k1 signature with
//! `v ∈ {0, 1}`). Its sign bytes are Theta's wrapper around `RLP(chain id) ‖
//! RLP("meshcast/tickets/1") ‖ RLP(tx with the signature emptied)`: the domain tag is a
//! byte string where a Theta payload has its small type integer, so no Theta
//! transaction's signature verifies as a ticket transaction or the reverse. A node
//! carries the bytes in its own envelope. Operations ([`TicketOp`]):
//!
//! * **Fund** `deposit`: moves `deposit` TFUEL from the signer's balance into its broker
//!   deposit (`input.coins` must name exactly that amount) and cancels an unlock in
//!   progress, as `fundDeposit` does.
//! * **Unlock** / **CancelUnlock** / **Withdraw**: `unlock` makes the deposit
//!   withdrawable [`TicketConfig::unlock_rounds`] rounds later; withdrawing pays the
//!   deposit back and, like the contract, leaves the sender unlocked (its tickets are
//!   refused) until it funds again.
//! * **Redeem** a winning [`SignedTicket`]: anyone may submit it (and pays the fee); the
//!   ticket's recipient is paid its face value from the sender's deposit.
//!
//! Every operation's signer pays the fee (at least [`crate::LedgerConfig::min_fee`] in
//! TFUEL, burned) and uses its account's next sequence, so a replay is refused as a
//! stale sequence, and a redeemed ticket is refused as used.
//!
//! # Rounds
//!
//! `round = height / round_blocks`. The first block of a round records the round's
//! block hash: the state root its parent committed (known to nobody before that parent
//! settled, the property `creationRoundBlockHash` gives a ticket). A ticket names its
//! creation round and that hash; it is redeemable while `creation_round +
//! ticket_validity_rounds > round`, as the contract's validity window. Used-ticket marks
//! are kept per creation round and deleted with the round's hash once no ticket of the
//! round can be redeemed, so the broker's state stays bounded by the tickets of the
//! last `ticket_validity_rounds` rounds.
//!
//! # Differences from the contract (pm-tickets' Broker)
//!
//! * No reserve: the contract splits a sender's reserve over the round's active
//!   orchestrator set, which this chain does not keep (the orchestration registry is
//!   off chain). A ticket is paid from the deposit alone, all or nothing
//!   ([`pm_tickets::Settlement::AllOrNothing`]): a ticket the deposit cannot cover is
//!   refused and stays unused. A recipient's max float is the deposit.
//! * The unlock period must be at least the validity period ([`TicketConfig::validate`],
//!   pm-tickets' fee-theft defence), so a ticket accepted before an unlock stays
//!   redeemable while the deposit is still there.
//!
//! # Example
//!
//! ```
//! use ledger::tickets::{TicketOp, TicketTx};
//! use ledger::{Coins, TxInput};
//! use primitives::{SecretKey, Signer, U256};
//!
//! let key = SecretKey::from_bytes([7; 32])?;
//! let fee = Coins::new(U256::zero(), U256::from(300_000_000_000_000_000u64));
//! let deposit = U256::from(10u64).pow(U256::from(20u64));
//! let mut tx = TicketTx {
//!     fee,
//!     input: TxInput::new(key.address(), Coins::new(U256::zero(), deposit), 1),
//!     op: TicketOp::Fund { deposit },
//! };
//! tx.sign("privatenet", &key)?;
//! let bytes = tx.encode();
//! let back = TicketTx::decode(&bytes, ledger::tickets::MAX_TICKET_TX_BYTES)?;
//! assert_eq!(back, tx);
//! back.verify("privatenet")?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use mpt_refcount::NodeStore;
use pm_tickets::SignedTicket;
use primitives::rlp::{Rlp, RlpStream};
use primitives::{Address, H256, Signer, U256, keccak256};

use crate::error::{Error, ExecError};
use crate::exec::{TxKind, TxReceipt, check_fee, check_input, credit, debit_signer};
use crate::sign::{Wrapper, wrap_sign_bytes};
use crate::state::{View, visit_prefix};
use crate::tx::{Coins, TxInput};
use crate::{LedgerConfig, tx};

/// The domain tag of a ticket transaction's sign bytes.
pub const TICKET_DOMAIN: &[u8] = b"meshcast/tickets/1";
/// The largest encoded ticket transaction accepted (a redemption is about 500 bytes).
pub const MAX_TICKET_TX_BYTES: usize = 1024;
/// A sender's broker account: `RLP([deposit, withdraw_round])`.
pub const TICKET_SENDER_PREFIX: &[u8] = b"ls/tb/s/";
/// A round's block hash, by round (8 bytes big-endian).
pub const TICKET_ROUND_PREFIX: &[u8] = b"ls/tb/r/";
/// A used ticket, by creation round (8 bytes big-endian) then ticket hash.
pub const TICKET_USED_PREFIX: &[u8] = b"ls/tb/u/";

/// The broker's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TicketConfig {
    /// Blocks per round (at least 1).
    pub round_blocks: u64,
    /// Rounds a ticket stays redeemable after its creation round began (at least 1).
    pub ticket_validity_rounds: u64,
    /// Rounds between an unlock and the first round a withdrawal is allowed (at least
    /// `ticket_validity_rounds`).
    pub unlock_rounds: u64,
}

impl Default for TicketConfig {
    /// Rounds of 100 blocks, tickets valid for 2 rounds, unlock after 2 rounds.
    fn default() -> Self {
        TicketConfig { round_blocks: 100, ticket_validity_rounds: 2, unlock_rounds: 2 }
    }
}

impl TicketConfig {
    /// Refuses a zero round length or validity, and an unlock period shorter than the
    /// validity period (a sender could then withdraw before tickets it paid with expire).
    pub fn validate(&self) -> Result<(), pm_tickets::Error> {
        if self.round_blocks == 0 || self.ticket_validity_rounds == 0 {
            return Err(pm_tickets::Error::ZeroValidityPeriod);
        }
        if self.unlock_rounds < self.ticket_validity_rounds {
            return Err(pm_tickets::Error::UnlockShorterThanValidity {
                unlock_period: self.unlock_rounds,
                ticket_validity_period: self.ticket_validity_rounds,
            });
        }
        Ok(())
    }

    /// The round of block `height`.
    pub fn round_of(&self, height: u64) -> u64 {
        height / self.round_blocks.max(1)
    }
}

/// A sender's broker account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TicketSender {
    /// TFUEL wei that pays winning tickets.
    pub deposit: U256,
    /// Round from which a withdrawal is allowed; 0 when no unlock is in progress.
    pub withdraw_round: u64,
}

impl TicketSender {
    /// Whether its tickets are still accepted at `round` (`isLocked`: no unlock, or the
    /// unlock period has not passed).
    pub fn is_locked(&self, round: u64) -> bool {
        self.withdraw_round == 0 || round < self.withdraw_round
    }

    /// `RLP([deposit, withdraw_round])`.
    pub fn encode(&self) -> Vec<u8> {
        let mut s = RlpStream::new_list(2);
        s.append(&self.deposit);
        s.append(&self.withdraw_round);
        s.out().to_vec()
    }

    /// Decodes the record stored under `key`.
    pub fn decode(key: &[u8], bytes: &[u8]) -> Result<Self, ExecError> {
        let corrupt = |reason: &str| ExecError::CorruptState {
            key: String::from_utf8_lossy(key).into_owned(),
            reason: format!("ticket sender: {reason}"),
        };
        let r = Rlp::new(bytes);
        let f = tx::list(&r, 2, "ticket sender").map_err(|e| corrupt(&e.to_string()))?;
        Ok(TicketSender {
            deposit: tx::u256(&f[0], "deposit").map_err(|e| corrupt(&e.to_string()))?,
            withdraw_round: tx::uint(&f[1], "withdraw_round").map_err(|e| corrupt(&e.to_string()))?,
        })
    }
}

/// The state key of `sender`'s broker account.
pub fn sender_key(sender: &Address) -> Vec<u8> {
    [TICKET_SENDER_PREFIX, sender.as_bytes()].concat()
}

/// The state key of round `round`'s block hash.
pub fn round_key(round: u64) -> Vec<u8> {
    [TICKET_ROUND_PREFIX, &round.to_be_bytes()].concat()
}

/// The state key marking ticket `hash` of creation round `round` used.
pub fn used_key(round: u64, hash: &H256) -> Vec<u8> {
    [TICKET_USED_PREFIX, &round.to_be_bytes(), hash.as_bytes()].concat()
}

/// What a ticket transaction does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TicketOp {
    /// Adds `deposit` TFUEL wei to the signer's deposit (cancels an unlock).
    Fund {
        /// The amount; the input's coins must be exactly `(0, deposit)`.
        deposit: U256,
    },
    /// Starts the unlock period.
    Unlock,
    /// Cancels an unlock in progress.
    CancelUnlock,
    /// Pays the deposit back once the unlock period has passed.
    Withdraw,
    /// Redeems a winning ticket for its recipient.
    Redeem(Box<SignedTicket>),
}

/// The kind of a [`TicketOp`], as receipts name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TicketOpKind {
    /// [`TicketOp::Fund`].
    Fund,
    /// [`TicketOp::Unlock`].
    Unlock,
    /// [`TicketOp::CancelUnlock`].
    CancelUnlock,
    /// [`TicketOp::Withdraw`].
    Withdraw,
    /// [`TicketOp::Redeem`].
    Redeem,
}

impl TicketOpKind {
    fn code(self) -> u64 {
        match self {
            TicketOpKind::Fund => 0,
            TicketOpKind::Unlock => 1,
            TicketOpKind::CancelUnlock => 2,
            TicketOpKind::Withdraw => 3,
            TicketOpKind::Redeem => 4,
        }
    }

    /// The snake_case name (`"fund"`, `"redeem"`, …).
    pub fn name(self) -> &'static str {
        match self {
            TicketOpKind::Fund => "ticket_fund",
            TicketOpKind::Unlock => "ticket_unlock",
            TicketOpKind::CancelUnlock => "ticket_cancel_unlock",
            TicketOpKind::Withdraw => "ticket_withdraw",
            TicketOpKind::Redeem => "ticket_redeem",
        }
    }
}

impl TicketOp {
    /// Its kind.
    pub fn kind(&self) -> TicketOpKind {
        match self {
            TicketOp::Fund { .. } => TicketOpKind::Fund,
            TicketOp::Unlock => TicketOpKind::Unlock,
            TicketOp::CancelUnlock => TicketOpKind::CancelUnlock,
            TicketOp::Withdraw => TicketOpKind::Withdraw,
            TicketOp::Redeem(_) => TicketOpKind::Redeem,
        }
    }
}

/// A ticket broker transaction (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketTx {
    /// The fee, TFUEL only, burned.
    pub fee: Coins,
    /// The signer: its address, the coins the operation takes from it (a Fund's deposit,
    /// otherwise none), its next sequence and its signature.
    pub input: TxInput,
    /// The operation.
    pub op: TicketOp,
}

impl TicketTx {
    /// `RLP([fee, input, op, op_data])`: `op_data` is a Fund's deposit, a redemption's
    /// RLP signed ticket (`SignedTicket::to_rlp`), otherwise empty.
    pub fn encode(&self) -> Vec<u8> {
        self.encode_with(self.input.signature.as_ref())
    }

    fn encode_with(&self, sig: Option<&primitives::Signature>) -> Vec<u8> {
        let mut s = RlpStream::new_list(4);
        tx::put_coins(&mut s, &self.fee);
        let input = TxInput { signature: sig.copied(), ..self.input };
        tx::put_input(&mut s, &input);
        s.append(&self.op.kind().code());
        match &self.op {
            TicketOp::Fund { deposit } => s.append(deposit),
            TicketOp::Redeem(t) => s.append(&t.to_rlp().as_slice()),
            TicketOp::Unlock | TicketOp::CancelUnlock | TicketOp::Withdraw => s.append_empty_data(),
        };
        s.out().to_vec()
    }

    /// Decodes untrusted bytes of at most `limit` bytes (and at most
    /// [`MAX_TICKET_TX_BYTES`]): one list, nothing after, canonical form only.
    pub fn decode(bytes: &[u8], limit: usize) -> Result<Self, Error> {
        let limit = limit.min(MAX_TICKET_TX_BYTES);
        if bytes.len() > limit {
            return Err(Error::TooLong { len: bytes.len(), limit });
        }
        if bytes.is_empty() {
            return Err(Error::Empty);
        }
        let len = tx::item_len(bytes, "ticket tx")?;
        if len != bytes.len() {
            return Err(Error::TrailingBytes { extra: bytes.len() - len });
        }
        let r = Rlp::new(bytes);
        let f = tx::list(&r, 4, "ticket tx")?;
        let fee = tx::coins(&f[0], "ticket.fee")?;
        let input = tx::input(&f[1], "ticket.input")?;
        let code = tx::uint(&f[2], "ticket.op")?;
        let op = match code {
            0 => TicketOp::Fund { deposit: tx::u256(&f[3], "ticket.deposit")? },
            1..=3 => {
                if !tx::data(&f[3], "ticket.op_data")?.is_empty() {
                    return Err(Error::NonCanonical);
                }
                match code {
                    1 => TicketOp::Unlock,
                    2 => TicketOp::CancelUnlock,
                    _ => TicketOp::Withdraw,
                }
            }
            4 => {
                let raw = tx::data(&f[3], "ticket.signed_ticket")?;
                let st = SignedTicket::from_rlp(raw).map_err(|e| Error::Rlp {
                    field: "ticket.signed_ticket".into(),
                    reason: e.to_string(),
                })?;
                TicketOp::Redeem(Box::new(st))
            }
            other => return Err(Error::UnknownType(other)),
        };
        let t = TicketTx { fee, input, op };
        if t.encode() != bytes {
            return Err(Error::NonCanonical);
        }
        Ok(t)
    }

    /// The sign bytes on chain `chain_id` (see the module docs).
    pub fn sign_bytes(&self, chain_id: &str) -> Vec<u8> {
        let mut payload = primitives::rlp::encode(&chain_id.as_bytes()).to_vec();
        payload.extend_from_slice(&primitives::rlp::encode(&TICKET_DOMAIN));
        payload.extend_from_slice(&self.encode_with(None));
        wrap_sign_bytes(&payload, Wrapper::V1)
    }

    /// Its id: keccak256 of the sign bytes (it does not cover the signature).
    pub fn id(&self, chain_id: &str) -> H256 {
        keccak256(self.sign_bytes(chain_id))
    }

    /// Signs with `signer`, whose address must be the input's.
    pub fn sign(&mut self, chain_id: &str, signer: &dyn Signer) -> Result<(), Error> {
        if signer.address() != self.input.address {
            return Err(Error::SignerMismatch { key: signer.address(), input: self.input.address });
        }
        self.input.signature = Some(signer.sign_digest(&self.id(chain_id)));
        Ok(())
    }

    /// Checks the signature: present, and recovering to the input's address.
    pub fn verify(&self, chain_id: &str) -> Result<(), Error> {
        let sig = self.input.signature.ok_or(Error::MissingSignature { address: self.input.address })?;
        let recovered = sig.recover(&self.id(chain_id)).map_err(|_| Error::RecoveryFailed)?;
        if recovered != self.input.address {
            return Err(Error::WrongSigner { recovered, expected: self.input.address });
        }
        Ok(())
    }
}

fn ticket_err(e: pm_tickets::Error) -> ExecError {
    ExecError::Ticket(e)
}

/// Reads `sender`'s broker account (zero when it has none).
pub(crate) fn sender<S: NodeStore + ?Sized>(
    view: &View<'_, S>,
    sender: &Address,
) -> Result<TicketSender, ExecError> {
    let key = sender_key(sender);
    match view.get(&key)? {
        Some(v) => TicketSender::decode(&key, &v),
        None => Ok(TicketSender::default()),
    }
}

/// Reads round `round`'s recorded block hash.
pub(crate) fn round_hash<S: NodeStore + ?Sized>(
    view: &View<'_, S>,
    round: u64,
) -> Result<Option<H256>, ExecError> {
    let key = round_key(round);
    match view.get(&key)? {
        Some(v) if v.len() == 32 => Ok(Some(H256::from_slice(&v))),
        Some(_) => Err(ExecError::CorruptState {
            key: String::from_utf8_lossy(&key).into_owned(),
            reason: "round hash of other than 32 bytes".into(),
        }),
        None => Ok(None),
    }
}

/// Opens block `height`'s round: on the round's first block (or the first block seen
/// in it) records its hash, `parent_root`, and deletes the hashes and used-ticket marks
/// of rounds whose tickets can no longer be redeemed.
pub(crate) fn begin_block<S: NodeStore>(
    view: &mut View<'_, S>,
    store: &S,
    root: H256,
    cfg: &TicketConfig,
    height: u64,
) -> Result<(), ExecError> {
    let round = cfg.round_of(height);
    if round_hash(view, round)?.is_some() {
        return Ok(());
    }
    view.put(round_key(round), root.as_bytes().to_vec());
    // Tickets of creation round c are redeemable while c + validity > round.
    let Some(oldest_live) =
        round.checked_add(1).and_then(|r| r.checked_sub(cfg.ticket_validity_rounds.max(1)))
    else {
        return Ok(());
    };
    for prefix in [TICKET_ROUND_PREFIX, TICKET_USED_PREFIX] {
        let mut stale = Vec::new();
        visit_prefix(store, root, prefix, |k, _| {
            let p = prefix.len();
            match k.get(p..p + 8).and_then(|b| <[u8; 8]>::try_from(b).ok()) {
                Some(b) if u64::from_be_bytes(b) < oldest_live => {
                    stale.push(k.to_vec());
                    std::ops::ControlFlow::Continue(())
                }
                _ => std::ops::ControlFlow::Break(()),
            }
        })?;
        for k in stale {
            view.delete(k);
        }
    }
    Ok(())
}

/// Executes a ticket transaction at `height` (atomic through the caller's view).
pub(crate) fn apply<S: NodeStore + ?Sized>(
    view: &mut View<'_, S>,
    cfg: &LedgerConfig,
    height: u64,
    t: &TicketTx,
) -> Result<TxReceipt, ExecError> {
    cfg.tickets.validate().map_err(ticket_err)?;
    t.verify(&cfg.chain_id)?;
    check_fee(&t.fee, cfg.min_fee)?;
    let moved = match &t.op {
        TicketOp::Fund { deposit } => {
            if deposit.is_zero() {
                return Err(ExecError::Ticket(pm_tickets::Error::NoFunds(t.input.address)));
            }
            Coins::new(U256::zero(), *deposit)
        }
        _ => Coins::zero(),
    };
    if t.input.coins != moved {
        return Err(ExecError::TicketInputCoins { expected: moved.tfuel_wei, got: Box::new(t.input.coins) });
    }
    let needed = moved.checked_add(&t.fee).ok_or(ExecError::Overflow { what: "deposit plus fee" })?;
    let acc = check_input(view, &t.input, &needed)?;
    let round = cfg.tickets.round_of(height);
    let me = t.input.address;
    let mut paid = U256::zero();
    match &t.op {
        TicketOp::Fund { deposit } => {
            let mut s = sender(view, &me)?;
            s.deposit =
                s.deposit.checked_add(*deposit).ok_or(ExecError::Overflow { what: "ticket deposit" })?;
            s.withdraw_round = 0;
            view.put(sender_key(&me), s.encode());
        }
        TicketOp::Unlock => {
            let mut s = sender(view, &me)?;
            if s.deposit.is_zero() {
                return Err(ticket_err(pm_tickets::Error::NoFunds(me)));
            }
            if s.withdraw_round > 0 {
                return Err(ticket_err(pm_tickets::Error::UnlockInProgress {
                    withdraw_round: s.withdraw_round,
                }));
            }
            s.withdraw_round = round
                .checked_add(cfg.tickets.unlock_rounds)
                .ok_or(ExecError::Overflow { what: "withdraw round" })?;
            view.put(sender_key(&me), s.encode());
        }
        TicketOp::CancelUnlock => {
            let mut s = sender(view, &me)?;
            if s.withdraw_round == 0 {
                return Err(ticket_err(pm_tickets::Error::NoUnlockInProgress));
            }
            s.withdraw_round = 0;
            view.put(sender_key(&me), s.encode());
        }
        TicketOp::Withdraw => {
            let mut s = sender(view, &me)?;
            if s.deposit.is_zero() {
                return Err(ticket_err(pm_tickets::Error::NoFunds(me)));
            }
            if s.withdraw_round == 0 {
                return Err(ticket_err(pm_tickets::Error::NoUnlockInProgress));
            }
            if s.is_locked(round) {
                return Err(ticket_err(pm_tickets::Error::SenderLocked {
                    withdraw_round: s.withdraw_round,
                    current_round: round,
                }));
            }
            paid = s.deposit;
            s.deposit = U256::zero();
            view.put(sender_key(&me), s.encode());
        }
        TicketOp::Redeem(st) => {
            paid = redeem(view, &cfg.tickets, round, st)?;
        }
    }
    debit_signer(view, &me, acc, &needed)?;
    match &t.op {
        TicketOp::Withdraw => credit(view, &me, &Coins::new(U256::zero(), paid))?,
        TicketOp::Redeem(st) => credit(view, &st.ticket.recipient, &Coins::new(U256::zero(), paid))?,
        _ => {}
    }
    view.burn(&t.fee)?;
    Ok(TxReceipt { tx_type: TxKind::Ticket(t.op.kind()), fee: t.fee, slashed: Coins::zero() })
}

/// `redeemWinningTicket` against the recorded rounds and the sender's deposit; marks the
/// ticket used and returns its face value (the caller credits the recipient).
fn redeem<S: NodeStore + ?Sized>(
    view: &mut View<'_, S>,
    cfg: &TicketConfig,
    round: u64,
    st: &SignedTicket,
) -> Result<U256, ExecError> {
    let t = &st.ticket;
    if t.recipient.is_zero() {
        return Err(ticket_err(pm_tickets::Error::ZeroRecipient));
    }
    if t.sender.is_zero() {
        return Err(ticket_err(pm_tickets::Error::ZeroSender));
    }
    let ep = t.expiration_params;
    match round_hash(view, ep.creation_round)? {
        None => {
            return Err(ticket_err(pm_tickets::Error::UnknownCreationRound {
                round: U256::from(ep.creation_round),
            }));
        }
        Some(h) if h != ep.creation_round_block_hash => {
            return Err(ticket_err(pm_tickets::Error::CreationRoundBlockHashMismatch {
                round: ep.creation_round,
                found: ep.creation_round_block_hash,
                expected: h,
            }));
        }
        Some(_) => {}
    }
    if ep.creation_round.saturating_add(cfg.ticket_validity_rounds) <= round {
        return Err(ticket_err(pm_tickets::Error::TicketExpired {
            creation_round: ep.creation_round,
            current_round: round,
            validity_period: cfg.ticket_validity_rounds,
        }));
    }
    let hash = st.check_winning().map_err(ticket_err)?;
    let used = used_key(ep.creation_round, &hash);
    if view.get(&used)?.is_some() {
        return Err(ticket_err(pm_tickets::Error::TicketUsed(hash)));
    }
    let mut s = sender(view, &t.sender)?;
    if !s.is_locked(round) {
        return Err(ticket_err(pm_tickets::Error::SenderUnlocked(t.sender)));
    }
    if s.deposit.is_zero() {
        return Err(ticket_err(pm_tickets::Error::NoFunds(t.sender)));
    }
    if t.face_value > s.deposit {
        return Err(ticket_err(pm_tickets::Error::InsufficientFunds {
            face_value: t.face_value,
            available: s.deposit,
        }));
    }
    s.deposit -= t.face_value;
    view.put(sender_key(&t.sender), s.encode());
    view.put(used, vec![1]);
    Ok(t.face_value)
}
