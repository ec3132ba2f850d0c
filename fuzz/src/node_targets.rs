//! Harness for what a node takes from peers: gossip on every topic (transactions in the
//! Theta / Ethereum envelope, consensus messages, guardian aggregates, block
//! announcements) into a running `NodeService`, and the block payload decoder.

use std::cell::RefCell;

use meshcast_node::localnet::Localnet;
use meshcast_node::service::{NodeConfig, NodeService, Peers, decode_payload, encode_payload};
use meshcast_node::storage::MemoryStorage;
use meshcast_node::transport::sim::sim_peer;
use meshcast_node::transport::{GossipId, NetIn, NetOut, Service, Topic};
use meshcast_node::tx::NodeTx;
use primitives::{Timestamp, U256};

const TOPICS: [Topic; 4] = [Topic::Transactions, Topic::Consensus, Topic::Blocks, Topic::Guardians];

fn localnet() -> Localnet {
    Localnet::new(4, 1, 2, 9).expect("localnet")
}

thread_local! {
    static NODE: RefCell<(NodeService<MemoryStorage>, u64)> = RefCell::new({
        let net = localnet();
        let peers = Peers {
            validators: (0..4).map(sim_peer).collect(),
            guardians: vec![sim_peer(4)],
        };
        let svc = NodeService::new(
            NodeConfig::new(Localnet::ledger_config()),
            &net.genesis,
            &net.validators[0],
            peers,
            MemoryStorage::new(),
            Timestamp::ZERO,
        )
        .expect("node");
        (svc, 0)
    });
}

/// The first byte picks the topic, the rest is the message, forwarded by validator 1:
/// the node must answer it with exactly one verdict (accept, reject or ignore) and never
/// panic. The bytes are also decoded as a block payload and as a transaction body (a
/// payload that decodes re-encodes to itself).
pub fn gossip(data: &[u8]) {
    if let Some(txs) = decode_payload(data, 64) {
        assert_eq!(encode_payload(&txs), data, "payload decoding must be canonical");
    }
    let _ = NodeTx::decode(data, meshcast_node::service::MAX_TX_BYTES);
    let Some((&t, body)) = data.split_first() else { return };
    NODE.with(|n| {
        let (svc, next) = &mut *n.borrow_mut();
        *next += 1;
        let id = GossipId(*next);
        let topic = TOPICS[usize::from(t) % TOPICS.len()];
        svc.handle(
            Timestamp::from_millis(*next),
            NetIn::Gossip { from: sim_peer(1), topic, data: body.to_vec(), id },
        );
        let mut answers = 0;
        while let Some(out) = svc.poll_net() {
            match out {
                NetOut::Verdict { id: v, .. } | NetOut::Ignore { id: v } if v == id => answers += 1,
                _ => {}
            }
        }
        assert_eq!(answers, 1, "one verdict per gossip message");
    });
}

/// Seeds: a signed transfer on the transaction topic, the same as a one-transaction
/// payload, and an Ethereum envelope with garbage inside.
pub fn seeds() -> Vec<Vec<u8>> {
    let net = localnet();
    let tx = net.transfer(0, 1, net.address(1), U256::from(5u64));
    let mut on_topic = vec![0u8];
    on_topic.extend_from_slice(&tx);
    vec![on_topic, encode_payload(&[tx]), vec![1, 0xee, 0x02, 0xc0]]
}
