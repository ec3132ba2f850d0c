//! The whitepaper's micropayment-pool walkthrough (Figures 7 and 8): one viewer pays
//! three caching peers from one pool, then double-spends with a colluding fourth peer
//! and loses its collateral.
//!
//! The pool records live in an Ethereum Merkle Patricia trie (`mpt-refcount`): each
//! time a peer joins, the state is committed, the peer checks a Merkle proof of the
//! reserve against the state root, and roots older than the last two are pruned by
//! reference counting.
//!
//! Run: `cargo run -p meshcast-examples --example micropool_walkthrough`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::disallowed_methods, missing_docs)]

use std::collections::BTreeMap;

use micropool::*;
use primitives::{Address, H256, Machine, SecretKey, Timestamp, U256};

const CHAIN: u64 = 1;

struct World {
    store: MemoryStore,
    /// The state trie over the pool records, its node store and retention policy.
    trie: mpt_refcount::Trie,
    nodes: mpt_refcount::MemoryStore,
    retention: mpt_refcount::Retention,
    cfg: PoolConfig,
    height: u64,
    names: BTreeMap<Address, &'static str>,
    alice: Address,
    burned: U256,
}

impl World {
    /// Commits the pool records to the state trie and returns the new root with a
    /// Merkle proof of Alice's reserve `seq`.
    fn proof(&mut self, seq: u64) -> (H256, Vec<Vec<u8>>) {
        for r in self.store.reserves.values() {
            self.trie.insert(&self.nodes, r.key().as_bytes(), &r.encode()).unwrap();
        }
        let changes = self.trie.commit();
        let root = changes.root();
        let pruned = self.retention.commit(&mut self.nodes, &changes).unwrap();
        let deleted: usize = pruned.iter().map(|(_, s)| s.deleted).sum();
        println!(
            "  state root {root:?}: {} trie nodes stored, {} pruned from {} old root(s)",
            self.nodes.len(),
            deleted,
            pruned.len()
        );
        let key = reserve_key(&self.alice, seq);
        (root, self.trie.prove(&self.nodes, key.as_bytes()).unwrap())
    }

    fn submit(&mut self, tx: Transaction) -> Result<Receipt, Error> {
        let r = execute(&mut self.store, &self.cfg, self.height, &tx);
        if let Ok(r) = &r {
            self.burned += r.burned + r.fee;
        }
        r
    }

    fn balances(&self, title: &str) {
        println!("  balances after {title} (height {}):", self.height);
        for name in ["Alice", "Bob", "Carol", "David", "Eve"] {
            let addr = self.names.iter().find(|(_, n)| **n == name).map(|(a, _)| *a).unwrap();
            println!("    {name:<6} {:>5}", self.store.balance(&addr).to_string());
        }
        let locked = self.store.reserves.values().fold(U256::zero(), |a, r| a + r.locked());
        println!(
            "    locked {:>5}   burned or fees {:>5}   total {:>5}",
            locked.to_string(),
            self.burned.to_string(),
            (self.store.total_supply() + self.burned).to_string()
        );
    }
}

fn key(b: u8) -> SecretKey {
    SecretKey::from_bytes([b; 32]).unwrap()
}

fn peer(k: &SecretKey) -> Payee<MptStateProof, SecretKey> {
    let cfg = PayeeConfig {
        chain_id: CHAIN,
        block_time_ms: 1000,
        credit_limit: U256::from(25u64),
        min_remaining: U256::from(10u64),
        settle_threshold: U256::from(20u64),
        settle_margin_blocks: 10,
        fee: U256::zero(),
        resubmit_after_ms: 5_000,
        max_submissions: 3,
    };
    Payee::new(cfg, PayeeContext { verifier: MptStateProof, signer: k.clone() }, Timestamp(0), [0; 32])
}

fn reserve(w: &mut World, alice: &SecretKey, seq: u64) {
    let tx = ReserveFund {
        source: alice.address(),
        reserve_seq: seq,
        resource_ids: vec![resource_id("stream/42")],
        deposit: U256::from(100u64),
        collateral: U256::from(101u64),
        duration: 300,
        fee: U256::zero(),
        signature: placeholder_signature(),
    }
    .signed(alice, CHAIN);
    w.submit(Transaction::Reserve(tx)).unwrap();
    println!("Alice reserves pool {seq}: deposit 100, collateral 101, 300 blocks, resource stream/42");
}

fn handshake(
    w: &mut World,
    p: &mut Payee<MptStateProof, SecretKey>,
    alice: &SecretKey,
    seq: u64,
    now: Timestamp,
) {
    let (state_root, proof) = w.proof(seq);
    p.handle(
        now,
        PayeeInput::Handshake {
            source: alice.address(),
            reserve_seq: seq,
            state_root,
            height: w.height,
            proof,
        },
    )
    .unwrap();
    while let Some(o) = p.poll_output() {
        if let PayeeOutput::Event(PayeeEvent::PoolVerified { remaining, end_height, .. }) = o {
            println!(
                "  peer checks the Merkle proof of pool {seq}: {remaining} left, ends at height {end_height}"
            );
        }
    }
}

fn settle_all(w: &mut World, p: &mut Payee<MptStateProof, SecretKey>, name: &str) -> bool {
    let mut submitted = false;
    while let Some(o) = p.poll_output() {
        if let PayeeOutput::Submit(tx) = o {
            submitted = true;
            let amount = tx.cheque.cheque.amount;
            match w.submit(Transaction::Pay(tx)) {
                Ok(r) => println!(
                    "  {name} settles its newest cheque ({amount} cumulative): paid {}, shortfall {}{}",
                    r.paid,
                    r.shortfall,
                    if r.overspend_proven {
                        format!(", OVERSPEND: collateral {} slashed", r.slashed)
                    } else {
                        String::new()
                    }
                ),
                Err(e) => println!("  {name}'s settlement is rejected: {e}"),
            }
        }
    }
    submitted
}

fn main() {
    let (alice, bob, carol, david, eve) = (key(1), key(2), key(3), key(4), key(5));
    let mut w = World {
        store: MemoryStore::with_balances([(alice.address(), U256::from(1000u64))]),
        trie: mpt_refcount::Trie::new(),
        nodes: mpt_refcount::MemoryStore::default(),
        retention: mpt_refcount::Retention::new(2),
        alice: alice.address(),
        cfg: PoolConfig::default(),
        height: 10,
        names: [
            (alice.address(), "Alice"),
            (bob.address(), "Bob"),
            (carol.address(), "Carol"),
            (david.address(), "David"),
            (eve.address(), "Eve"),
        ]
        .into_iter()
        .collect(),
        burned: U256::zero(),
    };
    println!("== Part 1: one pool, three caching peers (whitepaper Figure 7) ==");
    reserve(&mut w, &alice, 1);
    w.balances("the reserve");

    let mut peers = [
        ("Bob", bob.clone(), peer(&bob)),
        ("Carol", carol.clone(), peer(&carol)),
        ("David", david.clone(), peer(&david)),
    ];
    for (name, _, p) in peers.iter_mut() {
        println!("{name} connects:");
        handshake(&mut w, p, &alice, 1, Timestamp(0));
    }
    let mut payer = Payer::new(
        PayerConfig {
            chain_id: CHAIN,
            reserve_seq: 1,
            deposit: U256::from(100u64),
            slot_unit: w.cfg.slot_unit(U256::from(100u64)),
            expires_at: Timestamp(300_000),
        },
        alice.clone(),
        Timestamp(0),
        [0; 32],
    );
    // Alice switches peers freely: chunk i comes from peer schedule[i].
    let schedule = [0, 0, 1, 2, 1, 0, 2, 2, 1, 0, 1, 2];
    for (i, &who) in schedule.iter().enumerate() {
        let now = Timestamp(1000 * (i as u64 + 1));
        w.height += 1;
        let (name, k, p) = &mut peers[who];
        let price = U256::from(3u64);
        p.handle(
            now,
            PayeeInput::ChunkRequest {
                source: alice.address(),
                reserve_seq: 1,
                resource_id: resource_id("stream/42"),
                price,
            },
        )
        .unwrap();
        match p.poll_output() {
            Some(PayeeOutput::Event(PayeeEvent::Serve { .. })) => {}
            other => panic!("{name} refused: {other:?}"),
        }
        payer
            .handle(
                now,
                PayerInput::ChunkReceived { peer: k.address(), resource_id: resource_id("stream/42"), price },
            )
            .unwrap();
        let Some(PayerOutput::Send { cheque, .. }) = payer.poll_output() else { panic!("no cheque") };
        println!(
            "chunk {i:>2} from {name:<5} -> cheque #{} to {name}: cumulative {} (Alice has signed {} of 100)",
            cheque.cheque.payment_seq,
            cheque.cheque.amount,
            payer.signed_total()
        );
        p.handle(now, PayeeInput::Cheque(cheque)).unwrap();
        while let Some(o) = p.poll_output() {
            if let PayeeOutput::Submit(tx) = o {
                let r = w.submit(Transaction::Pay(tx)).unwrap();
                println!("  {name} reached its settle threshold and settles: paid {}", r.paid);
            }
        }
    }
    println!("Near the end height each peer's timer fires and it settles its newest cheque:");
    w.height = 300;
    for (name, _, p) in peers.iter_mut() {
        if let Some(t) = p.poll_timeout() {
            p.handle(t, PayeeInput::Timeout).unwrap();
            settle_all(&mut w, p, name);
        }
    }
    w.balances("settlement");
    w.height = 315;
    let release = ReleaseFund {
        submitter: alice.address(),
        source: alice.address(),
        reserve_seq: 1,
        fee: U256::zero(),
        signature: placeholder_signature(),
    }
    .signed(&alice, CHAIN);
    let r = w.submit(Transaction::Release(release)).unwrap();
    println!("Alice releases pool 1 after end + freeze (height 315): {} returns to her", r.paid);
    w.balances("the release");

    println!();
    println!("== Part 2: a double spend with a colluding peer (whitepaper Figure 8, enforced) ==");
    w.height = 400;
    let coalition_before = w.store.balance(&alice.address()) + w.store.balance(&eve.address());
    reserve(&mut w, &alice, 2);
    let mut bob_peer = peer(&bob);
    println!("Bob connects:");
    handshake(&mut w, &mut bob_peer, &alice, 2, Timestamp(0));
    let eve_cheque = Cheque {
        source: alice.address(),
        reserve_seq: 2,
        target: eve.address(),
        resource_id: resource_id("stream/42"),
        amount: U256::from(100u64),
        payment_seq: 1,
    }
    .sign(&alice, CHAIN);
    println!("Alice signs Eve (her accomplice) a cheque for the whole deposit, 100, and Eve settles first:");
    let r = w
        .submit(Transaction::Pay(ServicePayment::countersign(eve_cheque, U256::zero(), &eve, CHAIN)))
        .unwrap();
    println!("  Eve paid {}", r.paid);
    println!("Bob, who checked the pool before Eve settled, keeps serving within his credit limit (25):");
    let mut owed = 0u64;
    for i in 0..10u64 {
        let now = Timestamp(1000 * (i + 1));
        w.height += 1;
        let price = U256::from(5u64);
        bob_peer
            .handle(
                now,
                PayeeInput::ChunkRequest {
                    source: alice.address(),
                    reserve_seq: 2,
                    resource_id: resource_id("stream/42"),
                    price,
                },
            )
            .unwrap();
        match bob_peer.poll_output() {
            Some(PayeeOutput::Event(PayeeEvent::Serve { .. })) => {}
            Some(PayeeOutput::Event(PayeeEvent::Refuse { reason, .. })) => {
                println!("  chunk {i}: Bob refuses: {reason}");
                break;
            }
            other => panic!("{other:?}"),
        }
        owed += 5;
        let c = Cheque {
            source: alice.address(),
            reserve_seq: 2,
            target: bob.address(),
            resource_id: resource_id("stream/42"),
            amount: U256::from(owed),
            payment_seq: i + 1,
        }
        .sign(&alice, CHAIN);
        println!(
            "  chunk {i}: Bob serves, Alice signs him cumulative {owed} (her signed total is now {})",
            100 + owed
        );
        bob_peer.handle(now, PayeeInput::Cheque(c)).unwrap();
        if settle_all(&mut w, &mut bob_peer, "Bob") {
            let (state_root, proof) = w.proof(2);
            let hs = PayeeInput::Handshake {
                source: alice.address(),
                reserve_seq: 2,
                state_root,
                height: w.height,
                proof,
            };
            bob_peer.handle(now, hs).unwrap();
            while bob_peer.poll_output().is_some() {}
            println!(
                "  Bob refreshes his view of pool 2: slashed = {}",
                w.store.reserve(&alice.address(), 2).is_some_and(|r| r.slashed)
            );
        }
    }
    w.balances("the double spend");
    w.height = 720;
    let release = ReleaseFund {
        submitter: alice.address(),
        source: alice.address(),
        reserve_seq: 2,
        fee: U256::zero(),
        signature: placeholder_signature(),
    }
    .signed(&alice, CHAIN);
    let r = w.submit(Transaction::Release(release)).unwrap();
    println!("Alice releases pool 2: {} returns to her; {} more slashed", r.paid, r.slashed);
    w.balances("the release");
    let coalition = w.store.balance(&alice.address()) + w.store.balance(&eve.address());
    println!(
        "Alice + Eve hold {coalition} after part 2, having started it with {coalition_before}; Bob served chunks worth {owed} unpaid."
    );
    let net = owed as i64 + coalition.low_u64() as i64 - coalition_before.low_u64() as i64;
    println!("Net return of the double spend: {net} (service gained minus tokens lost)");
    assert!(net < 0, "cheating must not pay");
}
