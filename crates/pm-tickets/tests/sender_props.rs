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
            SenderConfig { max_ev: U256::MAX, deposit_multiplier: 1, max_nonces: u32::MAX },
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
