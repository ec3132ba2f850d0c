//! Recipient restarts never credit a replay, with or without saved state.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use pm_tickets::*;
use primitives::{H256, Machine, SecretKey, Timestamp};

const T0: Timestamp = Timestamp::from_secs(1_000);

fn round_hash(r: u64) -> H256 {
    primitives::keccak256(r.to_be_bytes())
}

fn keys() -> RecipientKeys {
    RecipientKeys { address: SecretKey::from_bytes([0x22; 32]).unwrap().address(), secret: [7; 32] }
}

fn config() -> RecipientConfig {
    RecipientConfig { ev: 1_000.into(), redeem_gas: 1, tx_cost_multiplier: 100, ..RecipientConfig::default() }
}

fn drain<M: Machine>(m: &mut M) -> Vec<M::Output> {
    std::iter::from_fn(|| m.poll_output()).collect()
}

fn credited(out: &[RecipientOutput]) -> usize {
    out.iter().filter(|o| matches!(o, RecipientOutput::Event(RecipientEvent::Credited { .. }))).count()
}

/// Feeds a (re)started recipient the chain and the sender's funds, as a host does.
fn boot(r: &mut Recipient, sender: &SecretKey) {
    r.handle(T0, RecipientInput::Chain { block: 100, round: 1, round_block_hash: round_hash(1) }).unwrap();
    r.handle(
        T0,
        RecipientInput::SenderFunds { sender: sender.address(), max_float: 1_000_000.into(), withdraw_round: 0 },
    )
    .unwrap();
    drain(r);
}

/// A recipient that quoted and credited one 3-ticket batch; gas price 0, so face = EV
/// and every ticket wins.
fn credited_once() -> (SecretKey, Recipient, TicketBatch) {
    let key = SecretKey::from_bytes([0x11; 32]).unwrap();
    let mut r = Recipient::new(config(), keys(), T0, [1; 32]);
    boot(&mut r, &key);
    let price = Price::new(1.into(), 1.into()).unwrap();
    r.handle(T0, RecipientInput::Quote { sender: key.address(), price }).unwrap();
    let Some(RecipientOutput::Params { params, .. }) = r.poll_output() else { panic!("params") };
    let mut s =
        Sender::new(SenderConfig { max_ev: 1_000_000.into(), ..SenderConfig::default() }, key.clone(), T0, [2; 32]);
    s.handle(T0, SenderInput::Chain { block: 100 }).unwrap();
    s.handle(T0, SenderInput::Funds { deposit: 1_000_000.into(), reserve: 0.into(), withdraw_round: 0 })
        .unwrap();
    s.handle(T0, SenderInput::StartSession(params)).unwrap();
    s.handle(T0, SenderInput::Pay { session: params.recipient_rand_hash, amount: 3_000.into() }).unwrap();
    let batch = drain(&mut s)
        .into_iter()
        .find_map(|o| match o {
            SenderOutput::Send { batch, .. } => Some(*batch),
            _ => None,
        })
        .unwrap();
    r.handle(T0, RecipientInput::Batch(Box::new(batch.clone()))).unwrap();
    let out = drain(&mut r);
    assert_eq!(credited(&out), 1);
    assert_eq!(r.queued(), 3, "every ticket wins");
    (key, r, batch)
}

/// The defect: a recipient restarted with the same secret (and a fresh boot seed, as the
/// machine shape asks) but without its nonce ledgers credited the same batch again.
#[test]
fn a_recipient_restarted_without_state_refuses_params_quoted_before_the_restart() {
    let (key, _old, batch) = credited_once();
    let mut restarted = Recipient::new(config(), keys(), T0, [9; 32]);
    boot(&mut restarted, &key);
    let replay = restarted.handle(T0, RecipientInput::Batch(Box::new(batch.clone())));
    let out = drain(&mut restarted);
    assert_eq!(credited(&out), 0, "replay after restart credited twice");
    assert_eq!(replay, Err(Error::QuotedBeforeRestart { seed: batch.params.seed }));
    assert_eq!(restarted.queued(), 0);
}
