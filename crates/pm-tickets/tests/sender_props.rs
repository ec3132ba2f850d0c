//! Sender credit accounting against a model: after every payment the exact EV of the
//! tickets sent covers everything paid, by less than one ticket's EV; nonces never
//! repeat; every ticket is validly signed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::BTreeSet;

use pm_tickets::*;
use primitives::{Address, H256, Machine, SecretKey, Timestamp, U256};
use proptest::prelude::*;

const NOW: Timestamp = Timestamp::ZERO;

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn sent_ev_covers_payments_by_less_than_one_ticket(
        face in 1_000u64..1_000_000,
        ev_div in 2u64..50,
        pays in proptest::collection::vec(0u64..3_000, 1..12),
    ) {
        let key = SecretKey::from_bytes([0x31; 32]).unwrap();
        let orch = Address::repeat_byte(0x0c);
        let face = U256::from(face);
        let target = face / U256::from(ev_div);
        let win_prob = win_prob_for_ev(face, target).unwrap();
        let params = TicketParams {
            recipient: orch,
            face_value: face,
            win_prob,
            recipient_rand_hash: H256::repeat_byte(1),
            seed: H256::zero(),
            expiration_block: 10,
            price: Price::new(1.into(), 1.into()).unwrap(),
            expiration_params: TicketExpirationParams::default(),
        };
        let ticket_ev = params.expected_value();
        prop_assert!(ticket_ev.covers(target));
        let mut s = Sender::new(
            SenderConfig { max_ev: U256::MAX, deposit_multiplier: 1, max_nonces: u32::MAX, ..SenderConfig::default() },
            key.clone(),
            NOW,
            [0; 32],
        );
        s.handle(NOW, SenderInput::Deposit(U256::MAX)).unwrap();
        s.handle(NOW, SenderInput::StartSession(params)).unwrap();
        let mut paid = ExpectedValue::ZERO;
        let mut sent = ExpectedValue::ZERO;
        let mut nonces = BTreeSet::new();
        for amount in pays {
            s.handle(NOW, SenderInput::Pay { session: params.recipient_rand_hash, amount: amount.into() }).unwrap();
            paid = paid.checked_add(ExpectedValue::from_amount(amount.into())).unwrap();
            for out in std::iter::from_fn(|| s.poll_output()) {
                if let SenderOutput::Send { batch, .. } = out {
                    for (t, sig) in batch.tickets() {
                        prop_assert!(nonces.insert(t.sender_nonce), "nonce reused");
                        prop_assert_eq!(t.verify_signature(&sig).unwrap(), t.hash());
                        sent = sent.checked_add(t.expected_value()).unwrap();
                    }
                }
            }
            prop_assert!(sent >= paid, "EV sent below amounts paid");
            let excess = sent.checked_sub(paid).unwrap();
            prop_assert!(excess < ticket_ev, "over-paid by a whole ticket or more");
            prop_assert_eq!(s.credit(&params.recipient_rand_hash), Some(excess));
        }
    }
}

#[derive(Clone, Debug)]
enum SOp {
    /// Pay this much in session `i % sessions`.
    Pay(usize, u64),
    /// The host reports new funds: deposit, reserve, unlock in progress.
    Funds(u64, u64, bool),
    /// `StartSession` again with the same params.
    Resume(usize),
    /// `EndSession`, then `StartSession` later (on the next `Resume`).
    End(usize),
    /// The process restarts from its saved state (through the SCALE frame).
    Restart,
}

fn sop() -> impl Strategy<Value = SOp> {
    prop_oneof![
        6 => (0..3usize, 0..4_000u64).prop_map(|(i, a)| SOp::Pay(i, a)),
        2 => (0..3_000u64, 0..2u64, proptest::bool::weighted(0.15)).prop_map(|(d, r, u)| SOp::Funds(d, r, u)),
        1 => (0..3usize).prop_map(SOp::Resume),
        1 => (0..3usize).prop_map(SOp::End),
        2 => Just(SOp::Restart),
    ]
}

fn session_params(i: u8, face: u64) -> TicketParams {
    let face = U256::from(face);
    TicketParams {
        recipient: Address::repeat_byte(0x0c),
        face_value: face,
        win_prob: win_prob_for_ev(face, face / U256::from(7u64)).unwrap(),
        recipient_rand_hash: H256::repeat_byte(i + 1),
        seed: H256::repeat_byte(i),
        expiration_block: 10,
        price: Price::new(1.into(), 1.into()).unwrap(),
        expiration_params: TicketExpirationParams::default(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Sessions with restarts (of a session and of the whole process) and funds that
    /// change under them: a nonce is never reused in a session, every ticket sent was
    /// allowed by the funds reported at that time, a refused payment changes nothing,
    /// and per session the EV sent covers the payments accepted by less than one
    /// ticket's EV.
    #[test]
    fn restarts_and_funds_changes_never_reuse_a_nonce_or_break_the_credit(
        faces in proptest::collection::vec(500u64..2_000, 3),
        ops in proptest::collection::vec(sop(), 1..40),
    ) {
        let key = SecretKey::from_bytes([0x31; 32]).unwrap();
        let config = SenderConfig { max_ev: U256::MAX, deposit_multiplier: 1, max_nonces: 600, ..SenderConfig::default() };
        let params: Vec<TicketParams> =
            faces.iter().enumerate().map(|(i, f)| session_params(i as u8, *f)).collect();
        let mut s = Sender::new(config.clone(), key.clone(), NOW, [0; 32]);
        s.handle(NOW, SenderInput::Chain { block: 1 }).unwrap();
        let (mut deposit, mut reserve, mut unlocking) = (5_000u64, 0u64, false);
        s.handle(NOW, SenderInput::Deposit(deposit.into())).unwrap();
        for p in &params {
            s.handle(NOW, SenderInput::StartSession(*p)).unwrap();
        }
        let mut nonces: Vec<BTreeSet<u32>> = vec![BTreeSet::new(); params.len()];
        let mut paid = vec![ExpectedValue::ZERO; params.len()];
        let mut sent = vec![ExpectedValue::ZERO; params.len()];
        let mut open = vec![true; params.len()];
        for op in ops {
            match op {
                SOp::Pay(i, amount) => {
                    let id = params[i].recipient_rand_hash;
                    let before = (s.credit(&id), s.next_nonce(&id));
                    let res = s.handle(NOW, SenderInput::Pay { session: id, amount: amount.into() });
                    let allowed = open[i]
                        && !unlocking
                        && (deposit > 0 || reserve > 0)
                        && params[i].face_value <= U256::from(deposit);
                    match res {
                        Ok(()) => {
                            prop_assert!(allowed, "paid while the funds forbid it");
                            paid[i] = paid[i].checked_add(ExpectedValue::from_amount(amount.into())).unwrap();
                        }
                        Err(e) => {
                            prop_assert!(!allowed, "refused a payment the funds allow: {e:?}");
                            prop_assert!(matches!(
                                e,
                                Error::UnknownSession(_) | Error::FaceValueTooHigh { .. }
                                    | Error::NoFunds(_) | Error::UnlockInProgress { .. }
                            ), "{e:?}");
                            prop_assert_eq!(before, (s.credit(&id), s.next_nonce(&id)), "a refusal changed the session");
                        }
                    }
                }
                SOp::Funds(d, r, u) => {
                    (deposit, reserve, unlocking) = (d, r, u);
                    s.handle(NOW, SenderInput::Funds {
                        deposit: d.into(),
                        reserve: r.into(),
                        withdraw_round: if u { 9 } else { 0 },
                    }).unwrap();
                }
                SOp::Resume(i) => {
                    let res = s.handle(NOW, SenderInput::StartSession(params[i]));
                    if res.is_ok() {
                        open[i] = true;
                    }
                }
                SOp::End(i) => {
                    let res = s.handle(NOW, SenderInput::EndSession(params[i].recipient_rand_hash));
                    prop_assert_eq!(res.is_ok(), open[i]);
                    open[i] = false;
                }
                SOp::Restart => {
                    let frame = s.export_state().encode();
                    let state = SenderState::decode(&frame).unwrap();
                    s = Sender::restore(config.clone(), key.clone(), NOW, [0; 32], state).unwrap();
                }
            }
            for out in std::iter::from_fn(|| s.poll_output()) {
                if let SenderOutput::Send { session, batch } = out {
                    let i = params.iter().position(|p| p.recipient_rand_hash == session).unwrap();
                    for (t, sig) in batch.tickets() {
                        prop_assert!(nonces[i].insert(t.sender_nonce), "nonce {} reused", t.sender_nonce);
                        prop_assert_eq!(t.verify_signature(&sig).unwrap(), t.hash());
                        sent[i] = sent[i].checked_add(t.expected_value()).unwrap();
                    }
                }
            }
            for i in 0..params.len() {
                prop_assert!(sent[i] >= paid[i], "EV sent below amounts paid");
                prop_assert!(sent[i].checked_sub(paid[i]).unwrap() < params[i].expected_value());
            }
        }
    }
}

fn saved_state() -> Vec<u8> {
    let key = SecretKey::from_bytes([0x31; 32]).unwrap();
    let mut s = Sender::new(SenderConfig::default(), key, NOW, [0; 32]);
    s.handle(NOW, SenderInput::Funds { deposit: 1_000_000.into(), reserve: 7.into(), withdraw_round: 0 })
        .unwrap();
    for i in 0..2u8 {
        let p = session_params(i, 1_000);
        s.handle(NOW, SenderInput::StartSession(p)).unwrap();
        s.handle(NOW, SenderInput::Pay { session: p.recipient_rand_hash, amount: 300.into() }).unwrap();
    }
    s.handle(NOW, SenderInput::EndSession(session_params(1, 1_000).recipient_rand_hash)).unwrap();
    s.export_state().encode()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// `SenderState::decode` takes bytes from the host's storage: damaged frames are typed
    /// errors, never panics, and whatever decodes is canonical and passes validation.
    #[test]
    fn sender_state_decoder_is_total_and_canonical(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
        cut in any::<usize>(),
        noise in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut bytes = saved_state();
        for (at, b) in edits {
            let i = at % bytes.len();
            bytes[i] = b;
        }
        bytes.truncate(cut % (bytes.len() + 1));
        for bytes in [bytes, noise] {
            if let Ok(state) = SenderState::decode(&bytes) {
                prop_assert_eq!(state.encode(), bytes, "accepted a non-canonical frame");
                prop_assert!(state.validate().is_ok());
            }
        }
    }
}
