//! Harness for the decoder in `ledger`: Theta-wire transactions from untrusted bytes.

use ledger::{
    BLS_POP_LEN, BLS_PUBKEY_LEN, Coins, DepositStakeV2Tx, STAKE_FOR_GUARDIAN, SendTx, ServicePaymentTx,
    SignerRole, StakeTx, Transaction, TxInput, TxOutput,
};
use primitives::{Address, SecretKey, U256};

/// Decoding limit used by the harness (peers would pass something of this order).
const LIMIT: usize = 64 * 1024;

/// A transaction from untrusted bytes: canonical round trip, then every signature
/// check, the id and the JSON rendering of the `theta_tx` tool.
pub fn transaction(data: &[u8]) {
    if let Ok(tx) = Transaction::decode(data, LIMIT) {
        assert_eq!(tx.encode(), data, "transaction decoding must be canonical");
        let _ = tx.verify("privatenet");
        let _ = tx.id("privatenet");
        let _ = tx.check_supported();
        if let Transaction::DepositStakeV2(t) = &tx {
            let _ = t.verify_holder();
        }
        let json = ledger::json::to_json(&tx, "privatenet");
        assert_eq!(ledger::json::from_json(&json).map(|t| t.tx_type()), Ok(tx.tx_type()));
    }
    let _ = ledger::json::decode_line(&String::from_utf8_lossy(data), "privatenet", LIMIT);
}

/// Seeds: a signed Send, ServicePayment, DepositStake and DepositStakeV2.
pub fn seeds() -> Vec<Vec<u8>> {
    let a = SecretKey::from_bytes([5u8; 32]).expect("valid key");
    let b = SecretKey::from_bytes([6u8; 32]).expect("valid key");
    let fee = Coins::new(U256::zero(), U256::from(300_000_000_000_000_000u64));
    let amount = Coins::new(U256::from(1_000u64), U256::from(7u64));
    let mut send = Transaction::Send(SendTx {
        fee,
        inputs: vec![TxInput::new(a.address(), amount, 1), TxInput::new(b.address(), amount, 2)],
        outputs: vec![TxOutput::new(Address::repeat_byte(9), amount)],
    });
    send.sign_all("privatenet", &a).expect("sign");
    send.sign_all("privatenet", &b).expect("sign");
    let mut payment = Transaction::ServicePayment(ServicePaymentTx {
        fee,
        source: TxInput::new(a.address(), amount, 3),
        target: TxInput::new(b.address(), Coins::zero(), 4),
        payment_sequence: 1,
        reserve_sequence: 1,
        resource_id: "seed".into(),
    });
    payment.sign("privatenet", SignerRole::Source, &a).expect("sign");
    payment.sign("privatenet", SignerRole::Target, &b).expect("sign");
    let mut stake = Transaction::DepositStake(StakeTx {
        fee,
        source: TxInput::new(a.address(), amount, 5),
        holder: TxOutput::new(b.address(), Coins::zero()),
        purpose: 0,
    });
    stake.sign_all("privatenet", &a).expect("sign");
    let mut v2 = DepositStakeV2Tx {
        fee,
        source: TxInput::new(a.address(), amount, 6),
        holder: TxOutput::new(b.address(), Coins::zero()),
        purpose: STAKE_FOR_GUARDIAN,
        bls_pubkey: Some([0xa1; BLS_PUBKEY_LEN]),
        bls_pop: Some([0xb2; BLS_POP_LEN]),
        holder_sig: None,
    };
    v2.sign_holder(&b).expect("sign");
    let mut v2 = Transaction::DepositStakeV2(v2);
    v2.sign_all("privatenet", &a).expect("sign");
    vec![send.encode(), payment.encode(), stake.encode(), v2.encode()]
}

/// A fixed ledger view for the slash-proof harness: four validators (BLS keys from seeds
/// 1..=4, stakes 100..=400) from height 0, the reserve 3 of the seed viewer, current
/// height 120.
struct SlashView {
    committee: ledger::Committee,
    reserve: micropool::ReservedFund,
}

impl ledger::SlashContext for SlashView {
    fn height(&self) -> u64 {
        120
    }
    fn committee_at(&self, _height: u64) -> Option<&ledger::Committee> {
        Some(&self.committee)
    }
    fn reserve(&self, source: &Address, reserve_seq: u64) -> Option<micropool::ReservedFund> {
        (*source == self.reserve.source && reserve_seq == self.reserve.reserve_seq)
            .then(|| self.reserve.clone())
    }
    fn evidence_used(&self, _key: &primitives::H256) -> bool {
        false
    }
}

fn slash_bls_key(i: u8) -> bls_gossip::bls::SecretKey {
    bls_gossip::bls::SecretKey::key_gen(&[i; 32]).expect("valid ikm")
}

fn slash_viewer() -> SecretKey {
    SecretKey::from_bytes([0x31; 32]).expect("valid key")
}

fn slash_view() -> &'static SlashView {
    static VIEW: std::sync::OnceLock<SlashView> = std::sync::OnceLock::new();
    VIEW.get_or_init(|| {
        let members =
            (1..=4u8).map(|i| (slash_bls_key(i).public_key(), U256::from(100u64 * u64::from(i)))).collect();
        let set = mlbft_core::ValidatorSet::<bls_gossip::Bls>::new(members).expect("valid set");
        let committee =
            ledger::Committee { set, addresses: (0..4).map(|i| Address::repeat_byte(0xb0 + i)).collect() };
        let reserve = micropool::ReservedFund {
            source: slash_viewer().address(),
            reserve_seq: 3,
            resource_ids: vec![micropool::resource_id("stream")],
            deposit: U256::from(100u64),
            collateral: U256::from(201u64),
            used: U256::zero(),
            end_height: 900,
            slashed: false,
            reporter: Address::zero(),
            transfers: vec![],
            slot_unit: U256::one(),
        };
        SlashView { committee, reserve }
    })
}

/// A Slash transaction's `slash_proof` from untrusted bytes: canonical round trip, then
/// verification against a fixed ledger view; an order always splits its amount exactly
/// into the reporter's part and the burned part, and names the offender the evidence
/// proves.
pub fn slash_proof(data: &[u8]) {
    let _ = slash_proof_order(data);
}

/// The body of [`slash_proof`], returning the order when the proof decodes and verifies
/// against the harness's ledger view (so the smoke test can check that its seeds reach
/// the verification path).
pub fn slash_proof_order(data: &[u8]) -> Option<ledger::SlashOrder> {
    let evidence = ledger::SlashEvidence::decode(data, 64 * 1024).ok()?;
    assert_eq!(evidence.encode(), data, "slash proof decoding must be canonical");
    let cfg = ledger::SlashConfig::default();
    let reporter = Address::repeat_byte(0xee);
    let order = evidence.verify(reporter, &cfg, slash_view()).ok()?;
    {
        let reward = order.beneficiary.map_or(U256::zero(), |(_, v)| v);
        assert_eq!(reward.checked_add(order.burned), Some(order.amount));
        if let ledger::Offence::Overspend { promised, deposit, .. } = order.offence {
            assert!(promised > deposit);
            assert!(order.reserve.as_ref().is_some_and(|r| r.slashed));
        }
        let tx = ledger::SlashTx {
            proposer: TxInput::new(reporter, Coins::zero(), 1),
            slashed_address: order.offender,
            reserve_sequence: match order.offence {
                ledger::Offence::Overspend { reserve_seq, .. } => reserve_seq,
                _ => 0,
            },
            slash_proof: data.to_vec(),
        };
        assert_eq!(ledger::verify_slash_tx(&tx, 64 * 1024, &cfg, slash_view()).as_ref(), Ok(&order));
    }
    Some(order)
}

/// Seeds for [`slash_proof`]: a valid double vote, a valid double proposal, a valid
/// overspend and an overspend within the deposit.
pub fn slash_proof_seeds() -> Vec<Vec<u8>> {
    use mlbft_core::{BlockRef, Evidence, SignedStatement, StatementKind};
    let statement = |kind, signer: u32, height, epoch, hash: u8| {
        let block = BlockRef { height, epoch, hash: primitives::H256::repeat_byte(hash) };
        let msg = match kind {
            StatementKind::Proposal => mlbft_core::proposal_message(&block),
            StatementKind::Vote => mlbft_core::vote_message(&block),
        };
        SignedStatement { kind, signer, block, signature: slash_bls_key(signer as u8 + 1).sign(&msg) }
    };
    let vote = Evidence::new(
        statement(StatementKind::Vote, 2, 100, 7, 0xaa),
        statement(StatementKind::Vote, 2, 100, 7, 0xbb),
    )
    .expect("evidence");
    let proposal = Evidence::new(
        statement(StatementKind::Proposal, 0, 50, 3, 1),
        statement(StatementKind::Proposal, 0, 51, 3, 2),
    )
    .expect("evidence");
    let cheque = |target: u8, amount: u64| {
        micropool::Cheque {
            source: slash_viewer().address(),
            reserve_seq: 3,
            target: Address::repeat_byte(target),
            resource_id: micropool::resource_id("stream"),
            amount: U256::from(amount),
            payment_seq: 1,
        }
        .sign(&slash_viewer(), 1)
    };
    vec![
        ledger::SlashEvidence::DoubleSign(Box::new(vote)).encode(),
        ledger::SlashEvidence::DoubleSign(Box::new(proposal)).encode(),
        ledger::SlashEvidence::Overspend(vec![cheque(0xd1, 60), cheque(0xd2, 50)]).encode(),
        ledger::SlashEvidence::Overspend(vec![cheque(0xd1, 60)]).encode(),
    ]
}
