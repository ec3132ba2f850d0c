//! The node service on a simulated network: blocks settle and checkpoints finalize,
//! every node agrees on state roots and balances, malformed gossip is rejected without
//! effect, and a seed reproduces a run exactly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::disallowed_methods)]

use meshcast_node::service::decode_persisted;
use meshcast_node::simnet::{Simnet, SimnetConfig};
use meshcast_node::storage::{MemoryStorage, RedbStorage, Storage};
use meshcast_node::transport::Topic;
use meshcast_node::transport::sim::SimMsg;
use netsim::{Node, NodeInput};
use primitives::{Address, TOKEN, U256};

fn small(seed: u64) -> SimnetConfig {
    SimnetConfig {
        validators: 4,
        guardians: 4,
        accounts: 12,
        checkpoint_interval: 5,
        seed,
        rate: 20,
        ..SimnetConfig::default()
    }
}

fn memory_net(cfg: SimnetConfig) -> Simnet<MemoryStorage> {
    Simnet::new(cfg, |_| Ok(MemoryStorage::new())).unwrap()
}

fn all_finalized<S: Storage>(net: &Simnet<S>, height: u64) -> bool {
    (0..net.len()).all(|i| net.node(i).ledger().last_finalized().unwrap_or(0) >= height)
}

#[test]
fn memory_network_settles_finalizes_and_agrees() {
    let mut net = memory_net(small(3));
    net.run_for(3_000).unwrap();
    // A transfer to a fresh address: its balance is exactly the amount everywhere.
    let fresh = Address::repeat_byte(0xfe);
    let amount = TOKEN * U256::from(7u64);
    // Account 0's next sequence is whatever the workload left: the mempool takes only
    // that one.
    let hash = (1..64u64)
        .find_map(|s| {
            let b = net.localnet().transfer(0, s, fresh, amount);
            net.sim_mut().node_mut(1).service_mut().submit_tx(b).ok()
        })
        .expect("a sequence the mempool takes");
    let done = net
        .idle_until(20_000, |n| {
            all_finalized(n, 10) && (0..n.len()).all(|i| n.node(i).stats().tx_heights.contains_key(&hash))
        })
        .unwrap();
    assert!(done, "every node finalizes a checkpoint and executes the transfer");
    let r = net.report();
    assert!(r.blocks_settled >= 10, "{r:?}");
    assert!(r.blocks_finalized >= 5, "{r:?}");
    assert!(r.payments_settled > 0, "{r:?}");
    assert!(r.state_roots_agree && r.balances_agree, "{r:?}");
    assert!(r.micropayment_settled, "{r:?}");
    assert_eq!(r.faults, 0);
    let f = net.node(0).ledger().last_finalized().unwrap();
    let root = net.node(0).stats().roots[&f];
    for i in 0..net.len() {
        let node = net.node(i);
        assert_eq!(node.stats().roots.get(&f), Some(&root), "node {i} at the finalized height");
        assert_eq!(node.ledger().account(&fresh).unwrap().coins.tfuel_wei, amount, "node {i}");
        // Blocks and certificates are stored; the consensus state was persisted.
        node.with_storage(|s| {
            let b = s.block(f).unwrap().expect("finalized block stored");
            assert_eq!(b.state_root, root);
            assert!(b.certificate.is_some());
            // Crash safety: every vote followed a persist of the state that produced it.
            if node.validator_index().is_some() {
                let raw = s.consensus().unwrap().expect("a validator persisted its state");
                let state = decode_persisted(&raw, 4, 1 << 20).unwrap();
                assert_eq!(state.last_voted_epoch, node.machine().last_voted_epoch(), "node {i}");
            }
        });
    }
}

#[test]
fn malformed_gossip_is_rejected_without_effect() {
    let mut net = memory_net(SimnetConfig { rate: 0, ..small(5) });
    net.idle_for(1_500).unwrap();
    let before_root = net.node(0).ledger().root();
    let before_height = net.node(0).height();
    let rejected = net.node(0).stats().gossip_rejected;
    let now = net.sim().now();
    for (topic, data) in [
        (Topic::Consensus, vec![0xc3, 0x80, 0x01, 0x02]),
        (Topic::Transactions, vec![0x02, 0xff, 0x00]),
        (Topic::Guardians, vec![0xde, 0xad]),
    ] {
        let msg = SimMsg::Gossip { origin: 2, seq: 1_000_000 + data.len() as u64, topic, data };
        net.sim_mut().node_mut(0).handle(now, NodeInput::Message { from: 2, msg });
    }
    let host = net.sim().node(0);
    assert_eq!(host.service().stats().gossip_rejected, rejected + 3);
    assert_eq!(host.service().ledger().root(), before_root);
    assert_eq!(host.service().height(), before_height);
    assert_eq!(host.service().mempool_len(), 0);
    assert!(host.scores().score(&Default::default(), &meshcast_node::transport::sim::sim_peer(2)) < 100);
    // The network carries on.
    net.idle_for(2_000).unwrap();
    assert!(net.node(0).height() > before_height);
    assert!(net.state_roots_agree());
}

#[test]
fn same_seed_same_run() {
    let run = |seed| {
        let mut net = memory_net(SimnetConfig { guardians: 2, ..small(seed) });
        net.run_for(2_500).unwrap();
        let roots: Vec<_> = (0..net.len()).map(|i| net.node(i).stats().roots.clone()).collect();
        (net.report(), roots, net.sim().trace_hash())
    };
    let a = run(11);
    let b = run(11);
    assert_eq!(a, b);
    assert!(a.0.blocks_settled > 0 && a.0.payments_settled > 0, "{:?}", a.0);
}

#[test]
fn redb_network_settles_and_agrees() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SimnetConfig { guardians: 2, ..small(9) };
    let mut net = Simnet::new(cfg, |i| RedbStorage::open(dir.path().join(format!("n{i}.redb")))).unwrap();
    net.run_for(2_000).unwrap();
    net.idle_until(10_000, |n| all_finalized(n, 5)).unwrap();
    let r = net.report();
    assert!(r.blocks_finalized >= 5, "{r:?}");
    assert!(r.payments_settled > 0 && r.state_roots_agree && r.balances_agree && r.faults == 0, "{r:?}");
    let h = net.node(0).height();
    net.node(0).with_storage(|s| assert_eq!(s.block_range().unwrap().map(|r| r.1), Some(h)));
}

#[test]
fn a_validator_restarts_from_its_storage_and_catches_up() {
    let mut net = memory_net(SimnetConfig { guardians: 2, ..small(21) });
    net.run_for(2_000).unwrap();
    let crashed_at = net.node(1).height();
    assert!(crashed_at > 0);
    net.crash_and_restart(1, 1_000, |s| Ok(s.clone())).unwrap();
    assert!(!net.sim().is_up(1), "down from the moment its storage was copied");
    net.run_for(2_000).unwrap();
    let caught_up = net
        .idle_until(10_000, |n| {
            let h = n.node(0).height();
            n.node(1).height() + 2 >= h && n.node(1).height() > crashed_at + 5
        })
        .unwrap();
    let r = net.report();
    assert!(caught_up, "restarted node at {} of {}: {r:?}", net.node(1).height(), net.node(0).height());
    assert!(r.state_roots_agree && r.balances_agree && r.faults == 0, "{r:?}");
    assert!(net.node(1).stats().blocks_executed > 0);
    assert!(
        net.node(1).stats().settled_at.keys().next().is_some_and(|h| *h > crashed_at),
        "resumed above its tip"
    );
    for i in 0..net.len() {
        assert_eq!(net.node(i).stats().misbehaviour, 0, "no equivocation after the restart (node {i})");
    }
}

#[test]
fn a_failing_transaction_in_a_settled_block_is_skipped_everywhere() {
    let mut net = memory_net(SimnetConfig { guardians: 0, rate: 0, micropayment: false, ..small(13) });
    net.idle_for(500).unwrap();
    // Two transfers of 90 % of the balance each: both enter the mempool (the second's
    // balance is checked only in its block), the second fails there and is skipped.
    let big = TOKEN * U256::from(900_000u64);
    let to = net.localnet().address(1);
    let a = net.localnet().transfer(0, 1, to, big);
    let b = net.localnet().transfer(0, 2, to, big);
    let ha = net.sim_mut().node_mut(0).service_mut().submit_tx(a).unwrap();
    let hb = net.sim_mut().node_mut(0).service_mut().submit_tx(b).unwrap();
    let done = net
        .idle_until(5_000, |n| (0..n.len()).all(|i| n.node(i).stats().tx_heights.contains_key(&ha)))
        .unwrap();
    assert!(done);
    net.idle_for(1_000).unwrap();
    for i in 0..net.len() {
        let node = net.node(i);
        assert!(!node.stats().tx_heights.contains_key(&hb), "node {i} did not execute the overdraft");
        assert!(node.stats().txs_skipped >= 1, "node {i} skipped it");
        assert_eq!(node.ledger().account(&net.localnet().address(0)).unwrap().sequence, 1);
    }
    assert_eq!(net.node(0).mempool_len(), 0, "the failed transaction left the mempool");
    assert!(net.state_roots_agree() && net.balances_agree());
}

/// An EIP-155 transfer as a wallet signs it (`RLP([nonce, gasPrice, gas, to, value, data,
/// chainId, 0, 0])` hashed and signed, `v = 2·chainId + 35 + y`); the test's own minimal
/// signer, checked by the ledger's decoder (itself checked against eth-account vectors).
fn eip155_transfer(
    key: &primitives::SecretKey,
    chain: u64,
    nonce: u64,
    gas_price: U256,
    to: Address,
    value: U256,
) -> Vec<u8> {
    use primitives::rlp::RlpStream;
    let fields = |s: &mut RlpStream| {
        s.append(&nonce);
        s.append(&gas_price);
        s.append(&21_000u64);
        s.append(&to.as_bytes());
        s.append(&value);
        s.append_empty_data();
    };
    let mut unsigned = RlpStream::new_list(9);
    fields(&mut unsigned);
    unsigned.append(&chain);
    unsigned.append(&0u8);
    unsigned.append(&0u8);
    let sig = key.sign_prehash(&primitives::keccak256(unsigned.out())).to_bytes();
    let mut signed = RlpStream::new_list(9);
    fields(&mut signed);
    signed.append(&(chain * 2 + 35 + u64::from(sig[64] - 27)));
    signed.append(&U256::from_big_endian(&sig[..32]));
    signed.append(&U256::from_big_endian(&sig[32..64]));
    signed.out().to_vec()
}

#[test]
fn an_ethereum_wallets_transfer_settles_on_every_node() {
    use meshcast_node::tx::NodeTx;
    let mut net = memory_net(SimnetConfig { guardians: 0, rate: 0, micropayment: false, ..small(21) });
    net.idle_for(500).unwrap();
    let chain = net.node(0).ledger().config().eth_chain_id;
    let key = net.localnet().accounts[0].clone();
    let fresh = Address::repeat_byte(0x5e);
    let value = TOKEN * U256::from(7u64);
    // 21,000 gas at 1.5·10^13 wei covers the ledger's 0.3 TFUEL transfer fee.
    let price = U256::from(15_000_000_000_000u64);
    let raw = eip155_transfer(&key, chain, 0, price, fresh, value);
    let h = net.sim_mut().node_mut(0).service_mut().submit_tx(NodeTx::eth_body(&raw)).unwrap();
    assert_eq!(h, primitives::keccak256(&raw), "the hash a wallet computes");
    // Replayed, or for another chain: refused at admission.
    assert!(net.sim_mut().node_mut(1).service_mut().submit_tx(NodeTx::eth_body(&raw)).is_ok_and(|x| x == h));
    let other = eip155_transfer(&key, chain + 1, 0, price, fresh, value);
    assert!(net.sim_mut().node_mut(0).service_mut().submit_tx(NodeTx::eth_body(&other)).is_err());
    let cheap = eip155_transfer(&key, chain, 0, U256::from(1u64), fresh, value);
    assert!(net.sim_mut().node_mut(0).service_mut().submit_tx(NodeTx::eth_body(&cheap)).is_err());
    let done = net
        .idle_until(5_000, |n| (0..n.len()).all(|i| n.node(i).stats().tx_heights.contains_key(&h)))
        .unwrap();
    assert!(done, "executed everywhere");
    for i in 0..net.len() {
        let node = net.node(i);
        assert_eq!(node.ledger().account(&fresh).unwrap().coins.tfuel_wei, value, "node {i}");
        assert_eq!(node.ledger().account(&key.address()).unwrap().sequence, 1, "nonce 0 is sequence 1");
    }
    // The same bytes again are a replay the ledger refuses (the nonce is used).
    assert!(net.sim_mut().node_mut(0).service_mut().submit_tx(NodeTx::eth_body(&raw)).is_err());
    assert!(net.state_roots_agree() && net.balances_agree());
}

#[test]
fn dev_accounts_are_the_wallet_known_keys_and_are_funded() {
    use meshcast_node::localnet::{DEV_ACCOUNTS, dev_key};
    // keccak256("meshcast-dev-0") is the key eth-account signed the ledger's Ethereum
    // fixtures with (crates/ledger/tests/fixtures/gen_eth_vectors.py).
    let expected: Address = "0x888dc41e01c3d9a2df805bce9cd5d8352e4dae81".parse().unwrap();
    assert_eq!(dev_key(0).unwrap().address(), expected);
    let net = memory_net(SimnetConfig { guardians: 0, rate: 0, micropayment: false, ..small(3) });
    assert_eq!(net.localnet().dev.len(), DEV_ACCOUNTS);
    for k in &net.localnet().dev {
        let a = net.node(0).ledger().account(&k.address()).unwrap();
        assert!(!a.coins.tfuel_wei.is_zero() && !a.coins.theta_wei.is_zero());
    }
}
