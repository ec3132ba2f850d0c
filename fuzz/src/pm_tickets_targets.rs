//! Harnesses for the decoders in `pm-tickets`.

use pm_tickets::{
    MAX_SAVED_GENERATIONS, Price, Recipient, RecipientConfig, RecipientInput, RecipientKeys, RecipientOutput,
    RecipientState, Sender, SenderConfig, SenderInput, SenderOutput, SenderState, SignedTicket, Ticket,
    TicketBatch, TicketExpirationParams, TicketParams, TicketSenderParams,
};
use primitives::{Address, H256, Machine, SecretKey, Timestamp, U256};

/// The sender key of the seeded states.
fn sender_key() -> SecretKey {
    SecretKey::from_bytes([4u8; 32]).expect("valid key")
}

/// The recipient keys of the seeded states.
fn recipient_keys() -> RecipientKeys {
    RecipientKeys { address: Address::repeat_byte(1), secret: [6u8; 32] }
}

/// An RLP `SignedTicket` record from untrusted bytes; accepted records are canonical
/// and go through the contract checks without panicking. Also `auxData` parsing.
pub fn ticket(data: &[u8]) {
    if let Ok(st) = SignedTicket::from_rlp(data) {
        assert_eq!(st.to_rlp(), data, "RLP tickets are canonical");
        let _ = st.check_winning();
        assert_eq!(st.ticket.packed().len(), pm_tickets::PACKED_LEN);
    }
    if let Ok(ep) = TicketExpirationParams::from_aux_data(data) {
        assert_eq!(ep.aux_data().as_slice(), data);
    }
}

/// A SCALE ticket batch frame from untrusted bytes; accepted frames are canonical, and
/// validating their first tickets never panics.
pub fn batch(data: &[u8]) {
    if let Ok(b) = TicketBatch::decode(data) {
        assert_eq!(b.encode(), data, "batch frames are canonical");
        for (t, sig) in b.tickets().take(2) {
            let _ = t.verify_signature(&sig);
        }
    }
}

/// Seeds: a valid RLP ticket, a valid batch frame, and valid auxData.
pub fn seeds() -> Vec<Vec<u8>> {
    let key = SecretKey::from_bytes([4u8; 32]).expect("valid key");
    let params = TicketParams {
        recipient: Address::repeat_byte(1),
        face_value: U256::from(1_000_000u64),
        win_prob: U256::MAX / 3,
        recipient_rand_hash: pm_tickets::rand_hash(&H256::repeat_byte(2)),
        seed: H256::repeat_byte(3),
        expiration_block: 77,
        price: Price { num: U256::from(5u64), den: U256::one() },
        expiration_params: TicketExpirationParams {
            creation_round: 9,
            creation_round_block_hash: H256::repeat_byte(4),
        },
    };
    let ticket = Ticket::new(&params, key.address(), 1);
    let sig = ticket.sign(&key).expect("sender is the key");
    let st = SignedTicket { ticket, sig, recipient_rand: H256::repeat_byte(2) };
    let batch = TicketBatch {
        params,
        sender: key.address(),
        sender_params: vec![
            TicketSenderParams { sender_nonce: 1, sig },
            TicketSenderParams { sender_nonce: 2, sig },
        ],
    };
    vec![
        st.to_rlp(),
        batch.encode(),
        params.expiration_params.aux_data().to_vec(),
        seed_sender_state(params),
        seed_recipient_state(),
    ]
}

/// A sender with one session that paid once, exported.
fn seed_sender_state(params: TicketParams) -> Vec<u8> {
    let now = Timestamp::ZERO;
    let mut s = Sender::new(SenderConfig::default(), sender_key(), now, [0u8; 32]);
    s.handle(now, SenderInput::Chain { block: 10 }).expect("chain");
    s.handle(now, SenderInput::Funds { deposit: U256::MAX / 2, reserve: U256::one(), withdraw_round: 0 })
        .expect("funds");
    s.handle(now, SenderInput::StartSession(params)).expect("params are acceptable");
    s.handle(now, SenderInput::Pay { session: params.recipient_rand_hash, amount: U256::from(1u64) })
        .expect("pay");
    s.export_state().encode()
}

/// A recipient that credited a batch whose tickets all win, with one winner in flight,
/// exported.
fn seed_recipient_state() -> Vec<u8> {
    let now = Timestamp::ZERO;
    let key = sender_key();
    let config = RecipientConfig { ev: U256::from(1_000u64), ..RecipientConfig::default() };
    let mut r = Recipient::new(config, recipient_keys(), now, [7u8; 32]);
    let chain = |block| RecipientInput::Chain { block, round: 3, round_block_hash: H256::repeat_byte(3) };
    r.handle(now, chain(10)).expect("chain");
    let funds =
        RecipientInput::SenderFunds { sender: key.address(), max_float: U256::MAX / 2, withdraw_round: 0 };
    r.handle(now, funds).expect("funds");
    r.handle(
        now,
        RecipientInput::Quote { sender: key.address(), price: Price { num: U256::one(), den: U256::one() } },
    )
    .expect("quote");
    let Some(RecipientOutput::Params { params, .. }) = r.poll_output() else { return Vec::new() };
    let sender_params = (1..=3u32)
        .map(|n| TicketSenderParams {
            sender_nonce: n,
            sig: Ticket::new(&params, key.address(), n).sign(&key).expect("sender is the key"),
        })
        .collect();
    r.handle(
        now,
        RecipientInput::Batch(Box::new(TicketBatch { params, sender: key.address(), sender_params })),
    )
    .expect("batch");
    r.handle(now, chain(params.expiration_block)).expect("expire");
    while r.poll_output().is_some() {}
    r.export_state().encode()
}

/// A saved [`SenderState`] frame from untrusted bytes (a corrupted or hostile store):
/// accepted frames are canonical, and a sender restored from one pays in each of its
/// sessions without panicking.
pub fn sender_state(data: &[u8]) {
    let Ok(state) = SenderState::decode(data) else { return };
    assert_eq!(state.encode(), data, "sender states are canonical");
    let now = Timestamp::ZERO;
    let Ok(mut s) = Sender::restore(SenderConfig::default(), sender_key(), now, [0u8; 32], state.clone())
    else {
        return;
    };
    assert_eq!(s.export_state(), state, "a restore keeps the state");
    for st in &state.sessions {
        let id = st.params.recipient_rand_hash;
        let _ = s.handle(now, SenderInput::StartSession(st.params));
        if s.handle(now, SenderInput::Pay { session: id, amount: U256::from(1u64) }).is_ok() {
            while let Some(o) = s.poll_output() {
                if let SenderOutput::Send { batch, .. } = o {
                    assert!(TicketBatch::decode(&batch.encode()).is_ok(), "a sent batch decodes");
                }
            }
        }
    }
}

/// A saved [`RecipientState`] frame from untrusted bytes: accepted frames are canonical;
/// a recipient restored from one exports the same state and handles chain progress and
/// timeouts without panicking.
pub fn recipient_state(data: &[u8]) {
    let Ok(state) = RecipientState::decode(data) else { return };
    assert_eq!(state.encode(), data, "recipient states are canonical");
    // At `Timestamp::MAX` no backoff is clamped, so the export must equal the input.
    let now = Timestamp::MAX;
    let config = RecipientConfig { ev: U256::from(1_000u64), ..RecipientConfig::default() };
    let Ok(mut r) = Recipient::restore(config, recipient_keys(), now, [8u8; 32], state.clone()) else {
        return;
    };
    if state.generations.len() < MAX_SAVED_GENERATIONS {
        assert_eq!(r.export_state(), state, "a restore keeps the state");
    }
    let block = state.block.saturating_add(1);
    let _ = r.handle(
        now,
        RecipientInput::Chain { block, round: state.round, round_block_hash: state.round_block_hash },
    );
    let _ = r.handle(now, RecipientInput::Timeout);
    while r.poll_output().is_some() {}
    assert!(RecipientState::decode(&r.export_state().encode()).is_ok(), "an exported state decodes");
}

/// A decoded batch fed to a recipient machine: hostile batches are refused with a typed
/// error, never a panic.
pub fn batch_into_recipient(data: &[u8]) {
    use pm_tickets::{Recipient, RecipientConfig, RecipientInput, RecipientKeys};
    use primitives::{Machine, Timestamp};
    if let Ok(b) = TicketBatch::decode(data) {
        let keys = RecipientKeys { address: b.params.recipient, secret: [5u8; 32] };
        let mut r = Recipient::new(RecipientConfig::default(), keys, Timestamp::ZERO, [0u8; 32]);
        if r.handle(Timestamp::ZERO, RecipientInput::Batch(Box::new(b))).is_err() {
            assert!(r.poll_output().is_none(), "a refused batch leaves no output");
        }
    }
}
