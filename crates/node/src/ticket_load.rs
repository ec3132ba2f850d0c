//! The localnet's ticket workload: a broadcaster pays orchestrators per segment with
//! Livepeer probabilistic tickets (`pm-tickets`' sender and recipient machines, run by
//! the launcher), and each orchestrator redeems its winners on the chain's ticket broker
//! ([`ledger::tickets`]) with signed redemption transactions.
//!
//! The machines get the chain's view over JSON-RPC every tick: the broker round and its
//! recorded block hash (`meshcast_ticketRound`), the broadcaster's deposit
//! (`meshcast_ticketSender`), and whether a redemption executed (`meshcast_tx`). An
//! orchestrator keeps at most one redemption in flight and signs it with its account's
//! next sequence read from the chain, so a redemption that fails in its block leaves no
//! sequence gap behind it.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ledger::tickets::{TicketOp, TicketTx};
use ledger::{Coins, TxInput};
use pm_tickets::{
    Price, Recipient, RecipientConfig, RecipientEvent, RecipientInput, RecipientKeys, RecipientOutput,
    Sender, SenderConfig, SenderInput, SenderOutput,
};
use primitives::{H256, Machine, SecretKey, Timestamp, U256, keccak256};
use serde_json::{Value, json};

use crate::launcher::rpc;
use crate::localnet::{CHAIN_ID, Localnet};

/// Orchestrators paid with tickets in a localnet run.
pub const TICKET_ORCHESTRATORS: usize = 2;

/// A redemption that has not executed this long is reported failed (and retried by the
/// recipient after its backoff).
const REDEEM_TIMEOUT: Duration = Duration::from_secs(10);

struct Orchestrator {
    key: SecretKey,
    recipient: Recipient,
    /// Open session: id and the block its params expire at.
    session: Option<(H256, u64)>,
    /// Params the recipient quoted, not yet given to the sender.
    pending_params: Option<pm_tickets::TicketParams>,
    /// Winners the recipient asked to redeem, not yet submitted.
    queue: Vec<pm_tickets::SignedTicket>,
    /// The redemption in flight: its transaction hash, ticket hash, face value, when.
    in_flight: Option<(String, H256, U256, Instant)>,
}

/// The workload's state and counters.
pub(crate) struct TicketLoad {
    broadcaster: SecretKey,
    sender: Sender,
    orchestrators: Vec<Orchestrator>,
    fund: Option<String>,
    funded: bool,
    start: Instant,
    last_pay: Instant,
    ev: U256,
    /// Winning tickets the orchestrators' recipients reported.
    pub won: u64,
    /// Redemptions confirmed on chain.
    pub redeemed: u64,
    /// Face value received by the orchestrators.
    pub paid: U256,
    /// Tickets sent.
    pub sent: u64,
}

impl TicketLoad {
    /// A ticket EV of 0.3 TFUEL (one ledger fee) and winners of 1.2 TFUEL: one ticket in
    /// four wins, and a redemption's fee is a quarter of what it collects.
    pub(crate) fn new(keys: &Localnet, broadcaster: usize, seed: u64) -> Self {
        let cfg = Localnet::ledger_config();
        let ev = cfg.min_fee;
        let now = Instant::now();
        let rcfg = RecipientConfig {
            ev,
            redeem_gas: 1,
            tx_cost_multiplier: 4,
            params_expiration_blocks: 5,
            ticket_validity_period: cfg.tickets.ticket_validity_rounds,
            redeem_retry_base_ms: 2_000,
            redeem_retry_max_ms: 8_000,
            ..RecipientConfig::default()
        };
        let orchestrators = (0..TICKET_ORCHESTRATORS)
            .map(|k| {
                let key = keys.accounts[broadcaster + 1 + k].clone();
                let material = [&seed.to_be_bytes()[..], b"orchestrator", &(k as u64).to_be_bytes()].concat();
                let secret = keccak256(&material).to_fixed_bytes();
                let mut recipient = Recipient::new(
                    rcfg.clone(),
                    RecipientKeys { address: key.address(), secret },
                    Timestamp::ZERO,
                    keccak256(secret).to_fixed_bytes(),
                );
                // The redemption costs one transaction fee: face value = 4 fees.
                let _ = recipient.handle(Timestamp::ZERO, RecipientInput::GasPrice(cfg.min_fee));
                Orchestrator {
                    key,
                    recipient,
                    session: None,
                    pending_params: None,
                    queue: Vec::new(),
                    in_flight: None,
                }
            })
            .collect();
        let bkey = keys.accounts[broadcaster].clone();
        let sender = Sender::new(
            SenderConfig { max_ev: ev.saturating_mul(U256::from(2u64)), ..SenderConfig::default() },
            bkey.clone(),
            Timestamp::ZERO,
            keccak256(seed.to_be_bytes()).to_fixed_bytes(),
        );
        TicketLoad {
            broadcaster: bkey,
            sender,
            orchestrators,
            fund: None,
            funded: false,
            start: now,
            last_pay: now,
            ev,
            won: 0,
            redeemed: 0,
            paid: U256::zero(),
            sent: 0,
        }
    }

    /// The deposit the broadcaster funds: 1,000 tickets' EV (250 winners).
    fn deposit(&self) -> U256 {
        self.ev.saturating_mul(U256::from(1_000u64))
    }

    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.start.elapsed().as_millis() as u64)
    }

    /// Whether nothing is left to redeem.
    pub(crate) fn idle(&self) -> bool {
        self.orchestrators
            .iter()
            .all(|o| o.queue.is_empty() && o.in_flight.is_none() && o.recipient.queued() == 0)
    }

    fn signed(key: &SecretKey, sequence: u64, op: TicketOp) -> Vec<u8> {
        let fee = Coins::new(U256::zero(), Localnet::ledger_config().min_fee);
        let moved = match &op {
            TicketOp::Fund { deposit } => Coins::new(U256::zero(), *deposit),
            _ => Coins::zero(),
        };
        let mut tx = TicketTx { fee, input: TxInput::new(key.address(), moved, sequence), op };
        // The key is the input's own: signing cannot fail.
        let _ = tx.sign(CHAIN_ID, key);
        crate::tx::NodeTx::ticket_body(&tx)
    }

    fn submit(addr: SocketAddr, body: &[u8]) -> Result<String, String> {
        let v = rpc(addr, "meshcast_submitTx", json!([format!("0x{}", hex::encode(body))]))?;
        v.as_str().map(str::to_owned).ok_or_else(|| format!("unexpected reply {v}"))
    }

    fn executed(addr: SocketAddr, hash: &str) -> bool {
        rpc(addr, "meshcast_tx", json!([hash]))
            .is_ok_and(|v| v.get("height").and_then(Value::as_u64).is_some())
    }

    /// One workload tick against validator `addr`. `paying`: still sending tickets
    /// (false while the run drains: only redemptions continue).
    pub(crate) fn step(&mut self, addr: SocketAddr, paying: bool) {
        let now = self.now();
        match (&self.fund, self.funded) {
            (None, _) => {
                let body = Self::signed(&self.broadcaster, 1, TicketOp::Fund { deposit: self.deposit() });
                self.fund = Self::submit(addr, &body).ok();
                return;
            }
            (Some(h), false) => {
                self.funded = Self::executed(addr, h);
                if !self.funded {
                    return;
                }
            }
            _ => {}
        }
        // The chain's view, to every machine.
        let Ok(round) = rpc(addr, "meshcast_ticketRound", json!([])) else { return };
        let (Some(r), Some(height), Some(hash)) = (
            round.get("round").and_then(Value::as_u64),
            round.get("settled_height").and_then(Value::as_u64),
            round.get("block_hash").and_then(Value::as_str).and_then(parse_h256),
        ) else {
            return;
        };
        let me = self.broadcaster.address();
        let Ok(acct) = rpc(addr, "meshcast_ticketSender", json!([format!("{me:#x}")])) else { return };
        let deposit = acct.get("deposit").and_then(Value::as_str).and_then(|d| U256::from_dec_str(d).ok());
        let withdraw_round = acct.get("withdraw_round").and_then(Value::as_u64).unwrap_or(0);
        let Some(deposit) = deposit else { return };
        let _ = self.sender.handle(now, SenderInput::Chain { block: height });
        let _ =
            self.sender.handle(now, SenderInput::Funds { deposit, reserve: U256::zero(), withdraw_round });
        let pay_now = paying && self.last_pay.elapsed() >= Duration::from_millis(500);
        if pay_now {
            self.last_pay = Instant::now();
        }
        for k in 0..self.orchestrators.len() {
            let o = &mut self.orchestrators[k];
            let _ = o
                .recipient
                .handle(now, RecipientInput::Chain { block: height, round: r, round_block_hash: hash });
            let _ = o
                .recipient
                .handle(now, RecipientInput::SenderFunds { sender: me, max_float: deposit, withdraw_round });
            if o.recipient.poll_timeout().is_some_and(|t| t <= now) {
                let _ = o.recipient.handle(now, RecipientInput::Timeout);
            }
            if pay_now {
                // A fresh quote once the session's params are about to expire.
                if o.session.is_none_or(|(_, exp)| height + 1 >= exp) {
                    let price = Price { num: self.ev, den: U256::one() };
                    if o.recipient.handle(now, RecipientInput::Quote { sender: me, price }).is_ok() {
                        o.session = None;
                    }
                }
                let mut batch = None;
                drain_recipient(o, &mut self.won);
                if let Some(params) = o.pending_params.take()
                    && self.sender.handle(now, SenderInput::StartSession(params)).is_ok()
                {
                    o.session = Some((params.recipient_rand_hash, params.expiration_block));
                }
                if let Some((session, _)) = o.session
                    && self.sender.handle(now, SenderInput::Pay { session, amount: self.ev }).is_ok()
                {
                    while let Some(out) = self.sender.poll_output() {
                        if let SenderOutput::Send { batch: b, .. } = out {
                            batch = Some(b);
                        }
                    }
                }
                if let Some(b) = batch {
                    self.sent += b.len() as u64;
                    let _ = o.recipient.handle(now, RecipientInput::Batch(b));
                }
            }
            drain_recipient(o, &mut self.won);
            // Redemptions: one in flight per orchestrator.
            match &o.in_flight {
                Some((tx, ticket, face, at)) => {
                    if Self::executed(addr, tx) {
                        let (ticket, face) = (*ticket, *face);
                        o.in_flight = None;
                        self.redeemed += 1;
                        self.paid = self.paid.saturating_add(face);
                        let _ = o
                            .recipient
                            .handle(now, RecipientInput::Redeemed { ticket_hash: ticket, paid: face });
                    } else if at.elapsed() > REDEEM_TIMEOUT {
                        let ticket = *ticket;
                        o.in_flight = None;
                        let _ = o
                            .recipient
                            .handle(now, RecipientInput::RedeemFailed { ticket_hash: ticket, reason: None });
                    }
                }
                None => {
                    if let Some(st) = o.queue.pop() {
                        let who = o.key.address();
                        let seq = rpc(addr, "meshcast_account", json!([format!("{who:#x}")]))
                            .ok()
                            .and_then(|a| a.get("sequence").and_then(Value::as_u64));
                        let ticket = st.ticket.hash();
                        let sent = seq.ok_or_else(String::new).and_then(|s| {
                            Self::submit(addr, &Self::signed(&o.key, s + 1, TicketOp::Redeem(Box::new(st))))
                        });
                        match sent {
                            Ok(tx) => o.in_flight = Some((tx, ticket, st.ticket.face_value, Instant::now())),
                            Err(_) => {
                                let _ = o.recipient.handle(
                                    now,
                                    RecipientInput::RedeemFailed { ticket_hash: ticket, reason: None },
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}

fn drain_recipient(o: &mut Orchestrator, won: &mut u64) {
    while let Some(out) = o.recipient.poll_output() {
        match out {
            RecipientOutput::Params { params, .. } => o.pending_params = Some(params),
            RecipientOutput::Redeem(st) => o.queue.push(st),
            RecipientOutput::Event(RecipientEvent::Won { .. }) => *won += 1,
            RecipientOutput::Event(_) => {}
        }
    }
}

fn parse_h256(s: &str) -> Option<H256> {
    let b = hex::decode(s.strip_prefix("0x")?).ok()?;
    <[u8; 32]>::try_from(b.as_slice()).ok().map(H256::from)
}
