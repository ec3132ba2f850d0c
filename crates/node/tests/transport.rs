//! The transports' contract, through a toy service: gossip reaches every node once and
//! is forwarded only when accepted; a peer that keeps sending invalid or oversized data
//! is banned and disconnected; requests get responses or a typed failure. Run over
//! `netsim` (deterministic) and over real loopback sockets with libp2p.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::disallowed_methods)]

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use meshcast_node::transport::p2p::{P2pConfig, P2pTransport};
use meshcast_node::transport::sim::{SimHost, sim_peer};
use meshcast_node::transport::{Limits, NetIn, NetOut, PeerId, RequestId, Service, Topic};
use netsim::{Sim, SimConfig};
use primitives::Timestamp;

/// Accepts gossip that starts with `ok`, rejects the rest; answers a request with its
/// bytes reversed; records everything.
#[derive(Default)]
struct Toy {
    /// Commands to issue at given times (sorted).
    script: VecDeque<(Timestamp, NetOut)>,
    out: VecDeque<NetOut>,
    gossip: Vec<(PeerId, Topic, Vec<u8>)>,
    rejected: usize,
    ignored: usize,
    responses: Vec<(RequestId, Result<Vec<u8>, String>)>,
    connected: Vec<PeerId>,
    disconnected: Vec<PeerId>,
}

impl Service for Toy {
    fn handle(&mut self, now: Timestamp, input: NetIn) {
        match input {
            NetIn::Gossip { id, data, .. } if data.starts_with(b"ig") => {
                self.ignored += 1;
                self.out.push_back(NetOut::Ignore { id });
            }
            NetIn::Gossip { from, topic, data, id } => {
                let accept = data.starts_with(b"ok");
                if accept {
                    self.gossip.push((from, topic, data));
                } else {
                    self.rejected += 1;
                }
                self.out.push_back(NetOut::Verdict { id, accept });
            }
            NetIn::Request { data, id, .. } => {
                let mut r = data;
                r.reverse();
                self.out.push_back(NetOut::Respond { id, data: r });
            }
            NetIn::Response { id, result } => self.responses.push((id, result.map_err(|e| e.to_string()))),
            NetIn::Connected(p) => self.connected.push(p),
            NetIn::Disconnected(p) => self.disconnected.push(p),
            NetIn::Start | NetIn::Timeout => {}
        }
        while self.script.front().is_some_and(|(t, _)| *t <= now) {
            let (_, cmd) = self.script.pop_front().unwrap();
            self.out.push_back(cmd);
        }
    }
    fn poll_net(&mut self) -> Option<NetOut> {
        self.out.pop_front()
    }
    fn poll_timeout(&self) -> Option<Timestamp> {
        self.script.front().map(|(t, _)| *t)
    }
}

fn toy(script: Vec<(u64, NetOut)>) -> Toy {
    Toy {
        script: script.into_iter().map(|(t, c)| (Timestamp::from_millis(t), c)).collect(),
        ..Toy::default()
    }
}

#[test]
fn sim_gossip_reaches_all_once_and_invalid_gossip_gets_its_sender_banned() {
    let n = 6;
    let mut sim = Sim::new(SimConfig::with_seed(3));
    for i in 0..n {
        let script = match i {
            0 => vec![(100, NetOut::Publish { topic: Topic::Blocks, data: b"ok-1".to_vec() })],
            // Node 5 floods invalid gossip: each receiver rejects it (never forwards it)
            // and scores 5 down; four rejections (25 points each) reach the ban score.
            5 => (0..5u8)
                .map(|k| {
                    (
                        200 + u64::from(k) * 50,
                        NetOut::Publish { topic: Topic::Transactions, data: vec![b'x', k] },
                    )
                })
                .collect(),
            _ => vec![],
        };
        sim.add_node(SimHost::new(i, n, Limits::default(), toy(script)));
    }
    sim.run_until(Timestamp::from_secs(5)).unwrap();
    for i in 1..n - 1 {
        let svc = sim.node(i).service();
        assert_eq!(svc.gossip.len(), 1, "node {i} got {:?}", svc.gossip);
        assert_eq!(svc.gossip[0].2, b"ok-1".to_vec());
        assert_eq!(svc.gossip[0].1, Topic::Blocks);
        assert_eq!(svc.rejected, 4, "node {i} saw each invalid message once, then banned its sender");
        assert!(sim.node(i).scores().is_banned(&sim_peer(5)));
        assert!(svc.disconnected.contains(&sim_peer(5)));
        assert!(!sim.node(i).scores().is_banned(&sim_peer(0)), "honest nodes are never blamed");
        assert_eq!(svc.connected.len(), n - 1);
    }
}

#[test]
fn sim_ignored_gossip_is_neither_relayed_nor_blamed() {
    // Node 3 publishes messages every receiver ignores (as a halted node does): nobody
    // scores it down, however many, and nothing is relayed.
    let n = 4;
    let mut sim = Sim::new(SimConfig::with_seed(5));
    for i in 0..n {
        let script = if i == 3 {
            (0..10u8)
                .map(|k| {
                    (
                        100 + u64::from(k) * 20,
                        NetOut::Publish { topic: Topic::Consensus, data: vec![b'i', b'g', k] },
                    )
                })
                .collect()
        } else {
            vec![]
        };
        sim.add_node(SimHost::new(i, n, Limits::default(), toy(script)));
    }
    sim.run_until(Timestamp::from_secs(3)).unwrap();
    for i in 0..n - 1 {
        let svc = sim.node(i).service();
        assert_eq!(svc.ignored, 10, "node {i}: each message once (direct), none relayed to it again");
        assert_eq!(svc.rejected, 0);
        assert!(!sim.node(i).scores().is_banned(&sim_peer(3)));
        assert!(svc.disconnected.is_empty());
    }
}

#[test]
fn sim_requests_are_answered_or_fail_typed() {
    let n = 3;
    let mut sim = Sim::new(SimConfig::with_seed(9));
    let script = vec![
        (10, NetOut::Request { to: sim_peer(1), id: RequestId(1), data: b"abc".to_vec() }),
        (20, NetOut::Request { to: sim_peer(7), id: RequestId(2), data: b"nobody".to_vec() }),
        (30, NetOut::Request { to: sim_peer(2), id: RequestId(3), data: b"down".to_vec() }),
    ];
    sim.add_node(SimHost::new(0, n, Limits::default(), toy(script)));
    sim.add_node(SimHost::new(1, n, Limits::default(), toy(vec![])));
    sim.add_node(SimHost::new(2, n, Limits::default(), toy(vec![])));
    sim.schedule_crash(2, Timestamp::from_millis(5));
    sim.run_until(Timestamp::from_secs(10)).unwrap();
    let mut got = sim.node(0).service().responses.clone();
    got.sort_by_key(|(id, _)| *id);
    assert_eq!(got[0], (RequestId(1), Ok(b"cba".to_vec())));
    assert_eq!(got[1], (RequestId(2), Err("peer unreachable".into())));
    assert_eq!(got[2], (RequestId(3), Err("timed out".into())));
    assert_eq!(got.len(), 3);
}

#[test]
fn sim_oversized_requests_cost_the_sender_and_get_it_banned() {
    let small = Limits { max_request_bytes: 8, ..Limits::default() };
    let big = vec![0u8; 9];
    let script = (0..3)
        .map(|k| (10 + k * 10, NetOut::Request { to: sim_peer(1), id: RequestId(k), data: big.clone() }))
        .collect();
    let mut sim = Sim::new(SimConfig::with_seed(1));
    sim.add_node(SimHost::new(0, 2, Limits::default(), toy(script)));
    sim.add_node(SimHost::new(1, 2, small, toy(vec![])));
    sim.run_until(Timestamp::from_secs(10)).unwrap();
    assert!(sim.node(1).scores().is_banned(&sim_peer(0)), "two oversized frames of 50 points ban");
    let responses = &sim.node(0).service().responses;
    assert_eq!(responses.len(), 3);
    assert!(responses.iter().all(|(_, r)| r == &Err("timed out".to_string())), "{responses:?}");
}

async fn started(limits: Limits, peers: Vec<libp2p::Multiaddr>) -> P2pTransport {
    let mut c = P2pConfig::loopback("test-chain");
    c.limits = limits;
    c.peers = peers;
    c.heartbeat = Duration::from_millis(100);
    P2pTransport::start(c).await.unwrap()
}

/// Pulls events from `t` until `pred` holds on one of them, answering gossip with the
/// toy's verdict rule, for at most `secs`.
async fn until(t: &mut P2pTransport, secs: u64, mut pred: impl FnMut(&NetIn) -> bool) -> NetIn {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ev =
            tokio::time::timeout(left, t.next_event()).await.expect("timed out waiting").expect("stopped");
        if let NetIn::Gossip { id, data, .. } = &ev {
            t.submit(NetOut::Verdict { id: *id, accept: data.starts_with(b"ok") }).unwrap();
        }
        if let NetIn::Request { id, data, .. } = &ev {
            let mut r = data.clone();
            r.reverse();
            t.submit(NetOut::Respond { id: *id, data: r }).unwrap();
        }
        if pred(&ev) {
            return ev;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libp2p_gossip_requests_and_bans_over_loopback() {
    let mut a = started(Limits::default(), vec![]).await;
    let a_addr = a.listen_addrs()[0].clone();
    let small = Limits { max_request_bytes: 16, ..Limits::default() };
    let mut b = started(small, vec![a_addr.clone()]).await;
    let c = started(Limits::default(), vec![a_addr]).await;
    let (pa, pb) = (a.local_peer().clone(), b.local_peer().clone());
    until(&mut a, 20, |e| matches!(e, NetIn::Connected(p) if *p == pb)).await;
    until(&mut b, 20, |e| matches!(e, NetIn::Connected(p) if *p == pa)).await;

    // Gossip from c reaches b through a once a accepts it (the mesh forms within a few
    // heartbeats; publishes queue until then).
    c.submit(NetOut::Publish { topic: Topic::Blocks, data: b"ok-block".to_vec() }).unwrap();
    let pump_a = tokio::spawn(async move {
        until(&mut a, 30, |e| matches!(e, NetIn::Gossip { data, .. } if data == b"ok-block")).await;
        a
    });
    let got = until(&mut b, 30, |e| matches!(e, NetIn::Gossip { .. })).await;
    match got {
        NetIn::Gossip { topic, data, .. } => {
            assert_eq!(topic, Topic::Blocks);
            assert_eq!(data, b"ok-block".to_vec());
        }
        other => panic!("{other:?}"),
    }
    let mut a = pump_a.await.unwrap();

    // A request and its response.
    a.submit(NetOut::Request { to: pb.clone(), id: RequestId(7), data: b"hello".to_vec() }).unwrap();
    let pump_b = tokio::spawn(async move {
        let _ = tokio::time::timeout(Duration::from_secs(15), until(&mut b, 15, |_| false)).await;
    });
    let resp = until(&mut a, 15, |e| matches!(e, NetIn::Response { .. })).await;
    assert_eq!(resp, NetIn::Response { id: RequestId(7), result: Ok(b"olleh".to_vec()) });

    // Oversized requests to b (limit 16 bytes) cost a 50 points each: the second one
    // bans a, and b disconnects it.
    for k in 0..2 {
        a.submit(NetOut::Request { to: pb.clone(), id: RequestId(100 + k), data: vec![1u8; 64] }).unwrap();
        until(&mut a, 15, |e| matches!(e, NetIn::Response { id, .. } if *id == RequestId(100 + k))).await;
    }
    until(&mut a, 15, |e| matches!(e, NetIn::Disconnected(p) if *p == pb)).await;
    pump_b.abort();
}
