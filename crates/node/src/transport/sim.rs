//! [`SimHost`]: runs a [`Service`] as a [`netsim::Node`], so whole networks of nodes run
//! in one process on virtual time, reproducibly from one seed.
//!
//! The host gives the service the same contract as the libp2p transport: gossip is
//! flooded to every other node, deduplicated by origin and sequence number, delivered
//! once, and forwarded only after the service accepts it; requests time out after
//! [`SimHost::REQUEST_TIMEOUT_MS`] when the simulator drops them; oversized frames and
//! rejected gossip score the sender down, and a banned peer's frames are dropped.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use netsim::{Dest, Node, NodeId, NodeInput, Outgoing, WireSize};
use primitives::Timestamp;

use super::{
    GossipId, InboundId, Limits, NetIn, NetOut, PeerId, RequestFailure, RequestId, Scores, Service, Topic,
};

/// A frame between simulated nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SimMsg {
    /// A gossip message, flooded.
    Gossip {
        /// The node that published it.
        origin: NodeId,
        /// The origin's sequence number (deduplication).
        seq: u64,
        /// Its topic.
        topic: Topic,
        /// Its payload.
        data: Vec<u8>,
    },
    /// A request.
    Request {
        /// The sender's request id.
        id: u64,
        /// Its payload.
        data: Vec<u8>,
    },
    /// A response.
    Response {
        /// The request id it answers.
        id: u64,
        /// Its payload.
        data: Vec<u8>,
    },
}

impl WireSize for SimMsg {
    fn wire_size(&self) -> usize {
        // A small fixed header plus the payload, like a framed TCP stream.
        16 + match self {
            SimMsg::Gossip { data, .. } | SimMsg::Request { data, .. } | SimMsg::Response { data, .. } => {
                data.len()
            }
        }
    }
}

/// The name a simulated node has as a peer.
pub fn sim_peer(id: NodeId) -> PeerId {
    PeerId(format!("sim-{id}"))
}

fn parse_peer(peer: &PeerId) -> Option<NodeId> {
    peer.0.strip_prefix("sim-")?.parse().ok()
}

/// A [`Service`] hosted in the simulator. See the module docs.
#[derive(Debug)]
pub struct SimHost<S> {
    me: NodeId,
    nodes: usize,
    limits: Limits,
    service: S,
    out: VecDeque<Outgoing<SimMsg>>,
    seq: u64,
    seen: BTreeSet<(NodeId, u64)>,
    next_gossip: u64,
    pending_gossip: BTreeMap<GossipId, (NodeId, SimMsg)>,
    next_inbound: u64,
    inbound: BTreeMap<InboundId, (NodeId, u64)>,
    outbound: BTreeMap<u64, Timestamp>,
    scores: Scores,
    now: Timestamp,
}

impl<S: Service> SimHost<S> {
    /// How long a request waits for its response.
    pub const REQUEST_TIMEOUT_MS: u64 = 2_000;

    /// Hosts `service` as node `me` of `nodes`.
    pub fn new(me: NodeId, nodes: usize, limits: Limits, service: S) -> Self {
        Self {
            me,
            nodes,
            limits,
            service,
            out: VecDeque::new(),
            seq: 0,
            seen: BTreeSet::new(),
            next_gossip: 0,
            pending_gossip: BTreeMap::new(),
            next_inbound: 0,
            inbound: BTreeMap::new(),
            outbound: BTreeMap::new(),
            scores: Scores::default(),
            now: Timestamp::ZERO,
        }
    }

    /// The hosted service.
    pub fn service(&self) -> &S {
        &self.service
    }

    /// The hosted service, mutably (tests inject commands through it).
    pub fn service_mut(&mut self) -> &mut S {
        &mut self.service
    }

    /// Peer scores as this host keeps them.
    pub fn scores(&self) -> &Scores {
        &self.scores
    }

    fn feed(&mut self, input: NetIn) {
        self.service.handle(self.now, input);
        self.drain();
    }

    fn penalize(&mut self, from: NodeId, points: u32) {
        if self.scores.penalize(&self.limits, &sim_peer(from), points) {
            self.feed(NetIn::Disconnected(sim_peer(from)));
        }
    }

    fn others(&self, except: &[NodeId]) -> Dest {
        Dest::Many((0..self.nodes).filter(|n| *n != self.me && !except.contains(n)).collect())
    }

    fn drain(&mut self) {
        while let Some(cmd) = self.service.poll_net() {
            match cmd {
                NetOut::Publish { topic, data } => {
                    let seq = self.seq;
                    self.seq += 1;
                    self.seen.insert((self.me, seq));
                    let msg = SimMsg::Gossip { origin: self.me, seq, topic, data };
                    self.out.push_back(Outgoing { to: self.others(&[]), msg });
                }
                NetOut::Verdict { id, accept } => {
                    if let Some((from, msg)) = self.pending_gossip.remove(&id) {
                        if accept {
                            let origin = match &msg {
                                SimMsg::Gossip { origin, .. } => *origin,
                                _ => from,
                            };
                            let to = self.others(&[from, origin]);
                            self.out.push_back(Outgoing { to, msg });
                        } else {
                            self.penalize(from, self.limits.invalid_gossip_penalty);
                        }
                    }
                }
                NetOut::Ignore { id } => {
                    self.pending_gossip.remove(&id);
                }
                NetOut::Request { to, id, data } => match parse_peer(&to) {
                    Some(n) if n < self.nodes && n != self.me && !self.scores.is_banned(&to) => {
                        self.outbound.insert(id.0, self.now.saturating_add_millis(Self::REQUEST_TIMEOUT_MS));
                        self.out
                            .push_back(Outgoing { to: Dest::To(n), msg: SimMsg::Request { id: id.0, data } });
                    }
                    _ => {
                        self.service.handle(
                            self.now,
                            NetIn::Response { id, result: Err(RequestFailure::Unreachable) },
                        );
                    }
                },
                NetOut::Respond { id, data } => {
                    if let Some((to, rid)) = self.inbound.remove(&id) {
                        self.out.push_back(Outgoing {
                            to: Dest::To(to),
                            msg: SimMsg::Response { id: rid, data },
                        });
                    }
                }
                NetOut::Penalize { peer, points, reason: _ } => {
                    if let Some(n) = parse_peer(&peer) {
                        self.penalize(n, points);
                    }
                }
            }
        }
    }

    fn receive(&mut self, from: NodeId, msg: SimMsg) {
        if self.scores.is_banned(&sim_peer(from)) {
            return;
        }
        match msg {
            SimMsg::Gossip { origin, seq, topic, ref data } => {
                if data.len() > self.limits.max_gossip_bytes {
                    self.penalize(from, self.limits.oversize_penalty);
                    return;
                }
                if !self.seen.insert((origin, seq)) {
                    return;
                }
                let id = GossipId(self.next_gossip);
                self.next_gossip += 1;
                let data = data.clone();
                self.pending_gossip.insert(id, (from, msg));
                self.feed(NetIn::Gossip { from: sim_peer(from), topic, data, id });
            }
            SimMsg::Request { id, data } => {
                if data.len() > self.limits.max_request_bytes {
                    self.penalize(from, self.limits.oversize_penalty);
                    return;
                }
                let inbound = InboundId(self.next_inbound);
                self.next_inbound += 1;
                self.inbound.insert(inbound, (from, id));
                self.feed(NetIn::Request { from: sim_peer(from), data, id: inbound });
            }
            SimMsg::Response { id, data } => {
                if self.outbound.remove(&id).is_none() {
                    // Unsolicited or late (already timed out): not the service's business.
                    return;
                }
                if data.len() > self.limits.max_response_bytes {
                    self.penalize(from, self.limits.oversize_penalty);
                    let err = RequestFailure::BadResponse("oversized".into());
                    self.feed(NetIn::Response { id: RequestId(id), result: Err(err) });
                    return;
                }
                self.feed(NetIn::Response { id: RequestId(id), result: Ok(data) });
            }
        }
    }
}

impl<S: Service> Node for SimHost<S> {
    type Msg = SimMsg;

    fn handle(&mut self, now: Timestamp, input: NodeInput<SimMsg>) {
        self.now = now;
        match input {
            NodeInput::Start => {
                self.feed(NetIn::Start);
                let me = self.me;
                for n in (0..self.nodes).filter(|n| *n != me) {
                    self.feed(NetIn::Connected(sim_peer(n)));
                }
            }
            NodeInput::Message { from, msg } => self.receive(from, msg),
            NodeInput::Timeout => {
                let expired: Vec<u64> =
                    self.outbound.iter().filter(|(_, d)| **d <= now).map(|(id, _)| *id).collect();
                for id in expired {
                    self.outbound.remove(&id);
                    self.feed(NetIn::Response { id: RequestId(id), result: Err(RequestFailure::Timeout) });
                }
                if self.service.poll_timeout().is_some_and(|t| t <= now) {
                    self.feed(NetIn::Timeout);
                }
            }
        }
    }

    fn poll_send(&mut self) -> Option<Outgoing<SimMsg>> {
        self.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<Timestamp> {
        let req = self.outbound.values().min().copied();
        match (self.service.poll_timeout(), req) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}
