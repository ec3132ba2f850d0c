//! Harnesses for the decoders in `micropool`: cheques, transactions, reserve records
//! (the value a payee reads out of a state proof) and saved payer states (bytes the host
//! reads back from its disk after a restart).

use micropool::{
    Cheque, Payer, PayerConfig, PayerInput, PayerState, ReleaseFund, ReportOverspend, ReserveFund,
    ReservedFund, ServicePayment, SignedCheque, Transaction, TransferRecord, placeholder_signature,
    resource_id,
};
use primitives::{Address, Machine, SecretKey, Timestamp, U256};

const PAYER_KEY: [u8; 32] = [5u8; 32];

fn payer_config() -> PayerConfig {
    PayerConfig {
        chain_id: 1,
        reserve_seq: 1,
        deposit: U256::from(1_000u64),
        slot_unit: U256::one(),
        expires_at: Timestamp(1_000),
    }
}

/// A signed cheque from untrusted bytes: canonical round trip, then signature check.
pub fn cheque(data: &[u8]) {
    if let Ok(c) = SignedCheque::decode(data) {
        assert_eq!(c.encode(), data, "cheque decoding must be canonical");
        let _ = c.verify(1);
    }
}

/// A pool transaction from untrusted bytes: canonical round trip, then signatures.
pub fn transaction(data: &[u8]) {
    if let Ok(tx) = Transaction::decode(data) {
        assert_eq!(tx.encode(), data, "transaction decoding must be canonical");
        let _ = tx.verify(1);
    }
}

/// A reserve record from untrusted bytes (a proof's value).
pub fn record(data: &[u8]) {
    if let Ok(r) = ReservedFund::decode(data) {
        assert_eq!(r.encode(), data, "record decoding must be canonical");
        let _ = (r.remaining(), r.locked());
    }
}

/// A saved payer state from the host's disk: canonical round trip; a resume either
/// fails with a typed error or gives a payer that never signs beyond the deposit.
pub fn payer_state(data: &[u8]) {
    let Ok(state) = PayerState::decode(data) else { return };
    assert_eq!(state.encode(), data, "payer state decoding must be canonical");
    let key = SecretKey::from_bytes(PAYER_KEY).expect("valid key");
    let cfg = payer_config();
    let Ok(mut payer) = Payer::resume(cfg.clone(), key, Timestamp(0), [0; 32], state.clone()) else { return };
    assert!(state.signed <= cfg.deposit, "resumed a state beyond the deposit");
    let peer = state.peers.keys().next().copied().unwrap_or_else(|| Address::repeat_byte(7));
    let _ = payer.handle(
        Timestamp(1),
        PayerInput::ChunkReceived { peer, resource_id: resource_id("seed"), price: U256::from(3u64) },
    );
    while payer.poll_output().is_some() {}
    assert!(payer.signed_total() <= cfg.deposit, "resumed payer signed beyond the deposit");
}

/// Seeds: one valid encoding of each kind.
pub fn seeds() -> Vec<Vec<u8>> {
    let key = SecretKey::from_bytes([5u8; 32]).expect("valid key");
    let payee = SecretKey::from_bytes([6u8; 32]).expect("valid key");
    let c = Cheque {
        source: key.address(),
        reserve_seq: 1,
        target: payee.address(),
        resource_id: resource_id("seed"),
        amount: U256::from(1234u64),
        payment_seq: 7,
    }
    .sign(&key, 1);
    let reserve = ReserveFund {
        source: key.address(),
        reserve_seq: 1,
        resource_ids: vec![resource_id("seed"), resource_id("seed2")],
        deposit: U256::from(100u64),
        collateral: U256::from(101u64),
        duration: 300,
        fee: U256::from(1u64),
        signature: placeholder_signature(),
    }
    .signed(&key, 1);
    let release = ReleaseFund {
        submitter: key.address(),
        source: key.address(),
        reserve_seq: 1,
        fee: U256::zero(),
        signature: placeholder_signature(),
    }
    .signed(&key, 1);
    let report = ReportOverspend {
        reporter: payee.address(),
        evidence: vec![c.clone(), c.clone()],
        fee: U256::zero(),
        signature: placeholder_signature(),
    }
    .signed(&payee, 1);
    let record = ReservedFund {
        source: key.address(),
        reserve_seq: 1,
        resource_ids: vec![resource_id("seed")],
        deposit: U256::from(100u64),
        collateral: U256::from(101u64),
        used: U256::from(3u64),
        end_height: 310,
        slashed: false,
        reporter: Address::zero(),
        transfers: vec![TransferRecord {
            target: payee.address(),
            payment_seq: 2,
            promised: U256::from(3u64),
            paid: U256::from(3u64),
        }],
        slot_unit: U256::one(),
    };
    let mut payer = Payer::new(
        payer_config(),
        SecretKey::from_bytes(PAYER_KEY).expect("valid key"),
        Timestamp(0),
        [0; 32],
    );
    for (peer, price) in [(payee.address(), 30u64), (Address::repeat_byte(8), 4)] {
        let input =
            PayerInput::ChunkReceived { peer, resource_id: resource_id("seed"), price: U256::from(price) };
        payer.handle(Timestamp(0), input).expect("within the deposit");
    }
    vec![
        payer.state().encode(),
        c.encode(),
        Transaction::Reserve(reserve).encode(),
        Transaction::Pay(ServicePayment::countersign(c, U256::zero(), &payee, 1)).encode(),
        Transaction::Release(release).encode(),
        Transaction::Report(report).encode(),
        record.encode(),
    ]
}
