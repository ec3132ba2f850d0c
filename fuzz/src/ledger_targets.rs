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

/// An account key with its BLS public key and proof of possession.
type ExecKey = (SecretKey, [u8; 48], [u8; 96]);

/// Keys of the execution harness's accounts (1..=4) and their BLS keys and PoPs,
/// computed once.
fn exec_keys() -> &'static [ExecKey] {
    static KEYS: std::sync::OnceLock<Vec<ExecKey>> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        (1..=4u8)
            .map(|n| {
                let bls = bls_gossip::bls::SecretKey::key_gen(&[n; 32]).expect("BLS key");
                (
                    SecretKey::from_bytes([n; 32]).expect("valid key"),
                    bls.public_key().to_bytes(),
                    bls.prove_possession().to_bytes(),
                )
            })
            .collect()
    })
}

fn exec_config() -> ledger::LedgerConfig {
    let mut c = ledger::LedgerConfig::theta("privatenet");
    c.min_fee = U256::from(10u64);
    c.min_validator_stake = U256::from(100u64);
    c.min_guardian_stake = U256::from(10u64);
    c.return_locking_period = 2;
    c.max_validators = 2;
    c.pool.min_fee = U256::from(10u64);
    c.pool.min_duration = 2;
    c.pool.freeze_period = 1;
    c
}

/// Σ balances + stakes + reserves of the committed state, per coin.
fn holdings(l: &ledger::Ledger<mpt_refcount::MemoryStore>) -> Coins {
    let mut total = Coins::zero();
    let trie = mpt_refcount::Trie::from_root(l.root());
    for (k, v) in trie.entries(l.store()).expect("state readable") {
        if k.starts_with(ledger::state::ACCOUNT_PREFIX) {
            total = total.checked_add(&ledger::Account::decode(&k, &v).expect("account").coins).expect("sum");
        } else if k.starts_with(ledger::state::VALIDATOR_PREFIX)
            || k.starts_with(ledger::state::GUARDIAN_PREFIX)
        {
            total.theta_wei += ledger::StakeHolder::decode(&k, &v).expect("holder").locked().expect("sum");
        } else if k.starts_with(ledger::state::RESERVE_PREFIX) {
            total.tfuel_wei += micropool::ReservedFund::decode(&v).expect("reserve").locked();
        }
    }
    total
}

/// Block execution driven by untrusted bytes: each 8-byte chunk
/// `[kind, a, b, amount_hi, amount_lo, seq_offset, fee, purpose]` becomes one
/// transaction signed by its signers (Send, DepositStake/V2, WithdrawStake, ReserveFund,
/// ServicePayment, ReleaseFund, or an empty block), executed as its own block. After
/// every block: a refused block changed nothing, supply is conserved, the sets build.
pub fn execution(data: &[u8]) {
    execute_chunks(data);
}

/// [`execution`], returning how many transactions were accepted (for the smoke test to
/// check that the seeds reach the rules past the signature checks).
pub fn execute_chunks(data: &[u8]) -> usize {
    let mut accepted = 0;
    use ledger::{Genesis, GenesisAccount, Ledger, PruningPolicy, ReleaseFundTx, ReserveFundTx};
    let keys = exec_keys();
    let hex = |b: &[u8]| primitives::codec::to_hex(b);
    let genesis = Genesis {
        chain_id: "privatenet".into(),
        accounts: keys
            .iter()
            .map(|(k, _, _)| GenesisAccount {
                address: hex(k.address().as_bytes()),
                theta: "100000".into(),
                tfuel: "100000".into(),
                sequence: 0,
            })
            .collect(),
        validators: vec![],
        guardians: vec![],
    };
    let mut l = Ledger::from_genesis(
        mpt_refcount::MemoryStore::new(),
        exec_config(),
        &genesis,
        PruningPolicy { keep_last: 2 },
    )
    .expect("genesis");
    for chunk in data.chunks_exact(8).take(32) {
        let [kind, a, b, hi, lo, seq_off, fee, purpose] = <[u8; 8]>::try_from(chunk).expect("8 bytes");
        let (ka, kb) = (&keys[usize::from(a % 4)], &keys[usize::from(b % 4)]);
        let amount = U256::from(u64::from(hi) << 8 | u64::from(lo));
        let seq_of = |k: &SecretKey| {
            l.account(&k.address())
                .expect("account")
                .sequence
                .wrapping_add(1)
                .wrapping_add(u64::from(seq_off % 4 == 3))
        };
        let fee = Coins::new(U256::zero(), U256::from(u64::from(fee)));
        let purpose = purpose % 3;
        let mut tx = match kind % 8 {
            0 => Transaction::Send(SendTx {
                fee,
                inputs: vec![TxInput::new(ka.0.address(), Coins::new(amount, fee.tfuel_wei), seq_of(&ka.0))],
                outputs: vec![TxOutput::new(kb.0.address(), Coins::new(amount, U256::zero()))],
            }),
            1 => {
                let mut t = DepositStakeV2Tx {
                    fee,
                    source: TxInput::new(ka.0.address(), Coins::new(amount, U256::zero()), seq_of(&ka.0)),
                    holder: TxOutput::new(kb.0.address(), Coins::zero()),
                    purpose,
                    bls_pubkey: Some(kb.1),
                    bls_pop: Some(if seq_off % 5 == 4 { ka.2 } else { kb.2 }),
                    holder_sig: None,
                };
                t.sign_holder(&kb.0).expect("holder signs");
                Transaction::DepositStakeV2(t)
            }
            2 | 3 => {
                let t = StakeTx {
                    fee,
                    source: TxInput::new(
                        ka.0.address(),
                        Coins::new(if kind % 8 == 2 { amount } else { U256::zero() }, U256::zero()),
                        seq_of(&ka.0),
                    ),
                    holder: TxOutput::new(kb.0.address(), Coins::zero()),
                    purpose,
                };
                if kind % 8 == 2 { Transaction::DepositStake(t) } else { Transaction::WithdrawStake(t) }
            }
            4 => Transaction::ReserveFund(ReserveFundTx {
                fee,
                source: TxInput::new(ka.0.address(), Coins::new(U256::zero(), amount), seq_of(&ka.0)),
                collateral: Coins::new(U256::zero(), amount * 2),
                resource_ids: vec!["r".into()],
                duration: u64::from(seq_off % 8),
            }),
            5 => Transaction::ServicePayment(ServicePaymentTx {
                fee,
                source: TxInput::new(ka.0.address(), Coins::new(U256::zero(), amount), 0),
                target: TxInput::new(kb.0.address(), Coins::zero(), seq_of(&kb.0)),
                payment_sequence: u64::from(hi),
                reserve_sequence: u64::from(seq_off % 8),
                resource_id: "r".into(),
            }),
            6 => Transaction::ReleaseFund(ReleaseFundTx {
                fee,
                source: TxInput::new(ka.0.address(), Coins::zero(), seq_of(&ka.0)),
                reserve_sequence: u64::from(seq_off % 8),
            }),
            _ => {
                let h = l.height() + 1;
                l.execute_block(h, &[]).expect("an empty block executes");
                continue;
            }
        };
        let signers: Vec<&dyn primitives::Signer> = vec![&ka.0, &kb.0];
        let _ = tx.sign_with_keys("privatenet", &signers);
        let root = l.root();
        let before = l.supply().expect("supply");
        let h = l.height() + 1;
        if l.execute_block(h, &[tx]).is_err() {
            assert_eq!(l.root(), root, "a refused block changes nothing");
            assert_eq!(l.supply().expect("supply"), before);
        } else {
            accepted += 1;
        }
        assert_eq!(Some(holdings(&l)), l.supply().expect("supply").expected_total(), "supply conserved");
        let _ = l.validator_set();
        let _ = l.guardian_set();
    }
    accepted
}

/// Seeds for [`execution`]: a send, a guardian and a validator registration, a
/// withdrawal, a reserve with a payment and a release, an empty block.
pub fn execution_seeds() -> Vec<Vec<u8>> {
    vec![
        vec![0, 0, 1, 0, 50, 0, 20, 0],
        vec![1, 0, 1, 0, 200, 0, 10, 1, 1, 1, 2, 1, 0, 0, 10, 0, 3, 0, 1, 0, 0, 0, 10, 1],
        // Reserve 256 for 2 blocks, settle 256, an empty block, release.
        vec![
            4, 2, 0, 1, 0, 2, 10, 0, 5, 2, 3, 1, 0, 1, 10, 0, 7, 0, 0, 0, 0, 0, 0, 0, 6, 2, 0, 0, 0, 1, 10, 0,
        ],
        vec![7, 7, 7, 7, 7, 7, 7, 7],
    ]
}

/// The ledger whose finalized state the snapshot harness imports: five funded accounts.
fn snapshot_source() -> &'static (ledger::Ledger<mpt_refcount::MemoryStore>, Vec<Vec<u8>>) {
    use ledger::{Genesis, GenesisAccount, Ledger, PruningPolicy};
    static SOURCE: std::sync::OnceLock<(Ledger<mpt_refcount::MemoryStore>, Vec<Vec<u8>>)> =
        std::sync::OnceLock::new();
    SOURCE.get_or_init(|| {
        let genesis = Genesis {
            chain_id: "privatenet".into(),
            accounts: (1u8..=5)
                .map(|i| GenesisAccount {
                    address: primitives::codec::to_hex(Address::repeat_byte(i).as_bytes()),
                    theta: format!("{}", u64::from(i) * 1_000),
                    tfuel: "7".into(),
                    sequence: 0,
                })
                .collect(),
            validators: vec![],
            guardians: vec![],
        };
        let l = Ledger::from_genesis(
            mpt_refcount::MemoryStore::new(),
            exec_config(),
            &genesis,
            PruningPolicy { keep_last: 2 },
        )
        .expect("genesis");
        let records = ledger::snapshot::export(&l, 0, 2, 4096)
            .expect("export")
            .collect::<Result<Vec<_>, _>>()
            .expect("records");
        (l, records)
    })
}

/// A ledger snapshot stream from untrusted bytes: the ledger header decoder (canonical
/// round trip), then the bytes split into records by 2-byte big-endian lengths and fed to
/// an import of the harness ledger's checkpoint; a stream that imports must give exactly
/// that ledger's root.
pub fn ledger_snapshot(data: &[u8]) {
    let _ = ledger_snapshot_imports(data);
}

/// [`ledger_snapshot`], returning whether the stream imported (for the smoke test).
pub fn ledger_snapshot_imports(data: &[u8]) -> bool {
    use ledger::snapshot::{SnapshotHeader, SnapshotImport, TrustedCheckpoint};
    if let Ok(h) = SnapshotHeader::decode(data) {
        assert_eq!(h.encode(), data, "snapshot header decoding must be canonical");
    }
    let (source, _) = snapshot_source();
    let trusted = TrustedCheckpoint { chain_id: "privatenet".into(), height: 0, root: source.root() };
    let mut import = SnapshotImport::new(trusted, mpt_refcount::SnapshotLimits::default());
    let mut rest = data;
    while let [hi, lo, tail @ ..] = rest {
        let n = usize::from(u16::from_be_bytes([*hi, *lo])).min(tail.len());
        let (record, next) = tail.split_at(n);
        let _ = import.push(record);
        rest = next;
    }
    let mut store = mpt_refcount::MemoryStore::new();
    match import.write(&mut store) {
        Ok(root) => {
            assert_eq!(root, source.root(), "an imported snapshot has the trusted root");
            true
        }
        Err(_) => {
            assert!(store.nodes().is_empty(), "a refused snapshot writes nothing");
            false
        }
    }
}

/// Seeds: the harness ledger's whole snapshot, framed; and its header alone.
pub fn ledger_snapshot_seeds() -> Vec<Vec<u8>> {
    let (_, records) = snapshot_source();
    let mut framed = Vec::new();
    for r in records {
        framed.extend_from_slice(&u16::try_from(r.len()).expect("small records").to_be_bytes());
        framed.extend_from_slice(r);
    }
    let header = records.first().cloned().unwrap_or_default();
    vec![framed, header]
}

/// A state proof from untrusted bytes: the codec (canonical round trip), then
/// verification against the snapshot harness ledger's root for two accounts and a
/// reserve; whatever verifies must be what the ledger holds.
pub fn state_proof(data: &[u8]) {
    use ledger::proof::{StateProof, verify_account, verify_reserve};
    let Ok(proof) = StateProof::decode(data) else { return };
    assert_eq!(proof.encode(), data, "state proof decoding must be canonical");
    let (source, _) = snapshot_source();
    for i in [1u8, 9] {
        let who = Address::repeat_byte(i);
        if let Ok(found) = verify_account(source.root(), &who, &proof) {
            let held = source.account(&who).expect("account");
            assert_eq!(found.unwrap_or_default(), held, "a verified account is the ledger's");
        }
    }
    if let Ok(found) = verify_reserve(source.root(), &Address::repeat_byte(1), 1, &proof) {
        assert!(found.is_none(), "the harness ledger has no reserve");
    }
}

/// Seeds: proofs of a funded and of an absent account in the harness ledger.
pub fn state_proof_seeds() -> Vec<Vec<u8>> {
    let (source, _) = snapshot_source();
    [1u8, 9]
        .iter()
        .map(|i| source.prove_account(0, &Address::repeat_byte(*i)).expect("proof").encode())
        .collect()
}

/// A ticket broker transaction (`ledger::tickets`) from untrusted bytes: canonical round
/// trip, then the signature check and the id.
pub fn ticket_transaction(data: &[u8]) {
    use ledger::tickets::{MAX_TICKET_TX_BYTES, TicketTx};
    if let Ok(tx) = TicketTx::decode(data, MAX_TICKET_TX_BYTES) {
        assert_eq!(tx.encode(), data, "ticket transaction decoding must be canonical");
        let _ = tx.verify("privatenet");
        assert_eq!(tx.id("privatenet"), primitives::keccak256(tx.sign_bytes("privatenet")));
    }
}

/// Seeds: one signed ticket transaction of every operation (the redemption carries a
/// signed winning ticket).
pub fn ticket_seeds() -> Vec<Vec<u8>> {
    use ledger::tickets::{TicketOp, TicketTx};
    let a = SecretKey::from_bytes([5u8; 32]).expect("valid key");
    let b = SecretKey::from_bytes([6u8; 32]).expect("valid key");
    let fee = Coins::new(U256::zero(), U256::from(300_000_000_000_000_000u64));
    let rand = primitives::H256::repeat_byte(3);
    let ticket = pm_tickets::Ticket {
        recipient: b.address(),
        sender: a.address(),
        face_value: U256::from(10u64).pow(U256::from(18u64)),
        win_prob: U256::MAX,
        sender_nonce: 1,
        recipient_rand_hash: pm_tickets::rand_hash(&rand),
        expiration_params: pm_tickets::TicketExpirationParams {
            creation_round: 4,
            creation_round_block_hash: primitives::H256::repeat_byte(8),
        },
    };
    let sig = ticket.sign(&a).expect("sender key");
    let redeem = TicketOp::Redeem(Box::new(pm_tickets::SignedTicket { ticket, sig, recipient_rand: rand }));
    let deposit = U256::from(5u64) * fee.tfuel_wei;
    let ops = [
        (&a, Coins::new(U256::zero(), deposit), TicketOp::Fund { deposit }),
        (&a, Coins::zero(), TicketOp::Unlock),
        (&a, Coins::zero(), TicketOp::CancelUnlock),
        (&a, Coins::zero(), TicketOp::Withdraw),
        (&b, Coins::zero(), redeem),
    ];
    ops.into_iter()
        .enumerate()
        .map(|(i, (key, coins, op))| {
            let mut tx = TicketTx { fee, input: TxInput::new(key.address(), coins, i as u64 + 1), op };
            tx.sign("privatenet", key).expect("own key");
            tx.encode()
        })
        .collect()
}
