//! Harnesses for the decoders in `pm-tickets`.

use pm_tickets::{
    Price, SignedTicket, Ticket, TicketBatch, TicketExpirationParams, TicketParams, TicketSenderParams,
};
use primitives::{Address, H256, SecretKey, U256};

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
    vec![st.to_rlp(), batch.encode(), params.expiration_params.aux_data().to_vec()]
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
