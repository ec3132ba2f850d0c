//! How nodes talk: a small message model, the [`Service`] a node's logic implements, and
//! two transports that carry it.
//!
//! The node's logic is sans-I/O like the protocol crates (DESIGN.md §2): a [`Service`]
//! takes [`NetIn`] events with the current time and emits [`NetOut`] commands. That one
//! logic runs unchanged over
//!
//! * [`sim::SimHost`]: an adapter that makes a service a [`netsim::Node`], for
//!   deterministic in-memory tests (virtual time, loss, partitions, crashes), and
//! * [`p2p::P2pTransport`]: a real network on libp2p (TCP, noise, yamux; gossipsub for
//!   transactions, consensus, blocks and guardian aggregates; request-response for direct
//!   messages and block, certificate and state sync), driven by [`p2p::run`].
//!
//! # Hostile peers
//!
//! Every payload is bounded ([`Limits`]) before the service sees it. Gossip is
//! validated by the service before it is forwarded: a [`NetIn::Gossip`] must be
//! answered with a [`NetOut::Verdict`], and only accepted messages propagate, so an
//! honest node never relays (and is never blamed for) an invalid one. A service reports
//! misbehaviour with [`NetOut::Penalize`]; a peer whose score falls below
//! [`Limits::ban_score`] is disconnected and refused from then on.

pub mod p2p;
pub mod sim;

use std::fmt;

use primitives::Timestamp;

/// A peer's identity as a transport names it (a libp2p peer id in base58, or `sim-N`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PeerId(pub String);

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A gossip topic. Each maps to one gossipsub topic per chain id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Topic {
    /// Signed transactions (Theta wire bytes).
    Transactions,
    /// Consensus messages among validators (proposals, votes).
    Consensus,
    /// Settled block announcements with their certificates.
    Blocks,
    /// Guardian checkpoint aggregates.
    Guardians,
}

impl Topic {
    /// Every topic.
    pub const ALL: [Topic; 4] = [Topic::Transactions, Topic::Consensus, Topic::Blocks, Topic::Guardians];

    /// The topic's name on a chain: `meshcast/<chain>/<topic>`.
    pub fn name(self, chain_id: &str) -> String {
        let t = match self {
            Topic::Transactions => "tx",
            Topic::Consensus => "consensus",
            Topic::Blocks => "blocks",
            Topic::Guardians => "guardians",
        };
        format!("meshcast/{chain_id}/{t}")
    }
}

/// Identifies a received gossip message until the service gives its [`NetOut::Verdict`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GossipId(pub u64);

/// Identifies a request the service sent, to match its response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u64);

/// Identifies a request a peer sent, to answer it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InboundId(pub u64);

/// Why a request got no response.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestFailure {
    /// The peer did not answer in time.
    #[error("timed out")]
    Timeout,
    /// The peer is not connected (or was disconnected).
    #[error("peer unreachable")]
    Unreachable,
    /// The peer answered with something over the size limit or undecodable.
    #[error("bad response: {0}")]
    BadResponse(String),
    /// The peer declined to answer.
    #[error("refused")]
    Refused,
}

/// What the network delivers to a service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetIn {
    /// The service starts (first input after boot).
    Start,
    /// The timer the service asked for through [`Service::poll_timeout`] fired.
    Timeout,
    /// A gossip message; answer with [`NetOut::Verdict`].
    Gossip {
        /// The peer that forwarded it.
        from: PeerId,
        /// Its topic.
        topic: Topic,
        /// Its payload (at most [`Limits::max_gossip_bytes`]).
        data: Vec<u8>,
        /// The id to give the verdict for.
        id: GossipId,
    },
    /// A direct request from a peer; answer with [`NetOut::Respond`] (a direct message
    /// that needs no answer can be answered with an empty response).
    Request {
        /// The requesting peer.
        from: PeerId,
        /// Its payload (at most [`Limits::max_request_bytes`]).
        data: Vec<u8>,
        /// The id to respond to.
        id: InboundId,
    },
    /// The response to a request this service sent.
    Response {
        /// The request's id.
        id: RequestId,
        /// The answer, or why there is none.
        result: Result<Vec<u8>, RequestFailure>,
    },
    /// A peer connected.
    Connected(PeerId),
    /// A peer disconnected.
    Disconnected(PeerId),
}

/// What a service asks the network to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetOut {
    /// Publish on a topic.
    Publish {
        /// The topic.
        topic: Topic,
        /// The payload.
        data: Vec<u8>,
    },
    /// Accept (forward) or reject (drop, and score the forwarder down) a received
    /// gossip message.
    Verdict {
        /// The message.
        id: GossipId,
        /// Whether it is valid.
        accept: bool,
    },
    /// Drop a received gossip message without forwarding it and without blaming its
    /// forwarder (gossipsub's `Ignore`): for messages the service cannot judge, e.g.
    /// while it is halted, so honest peers are never scored down for its own state.
    Ignore {
        /// The message.
        id: GossipId,
    },
    /// Send a request to a peer.
    Request {
        /// The peer.
        to: PeerId,
        /// The id its response will carry (chosen by the service, unique per service).
        id: RequestId,
        /// The payload.
        data: Vec<u8>,
    },
    /// Answer a peer's request.
    Respond {
        /// The request.
        id: InboundId,
        /// The payload.
        data: Vec<u8>,
    },
    /// Score a peer down for provable misbehaviour (an invalid signature, a malformed
    /// frame, a conflicting vote). Below the ban score it is disconnected and refused.
    Penalize {
        /// The peer.
        peer: PeerId,
        /// Points to subtract (see [`Limits::ban_score`]).
        points: u32,
        /// Why, for the logs.
        reason: String,
    },
}

/// The node logic a transport drives: the DESIGN.md §2 shape with network events as
/// input. `handle` never blocks; the host drains `poll_net` after every call and arms a
/// timer for `poll_timeout`.
pub trait Service {
    /// Feeds one event.
    fn handle(&mut self, now: Timestamp, input: NetIn);
    /// The next network command, if any.
    fn poll_net(&mut self) -> Option<NetOut>;
    /// When the service next wants [`NetIn::Timeout`].
    fn poll_timeout(&self) -> Option<Timestamp>;
}

/// Size limits and peer scoring, enforced by every transport before a service sees data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest gossip payload, in bytes. Larger ones are dropped and their forwarder
    /// scored down by [`Limits::oversize_penalty`].
    pub max_gossip_bytes: usize,
    /// Largest request payload.
    pub max_request_bytes: usize,
    /// Largest response payload.
    pub max_response_bytes: usize,
    /// Score every peer starts with.
    pub initial_score: i64,
    /// A peer whose score falls to or below this is disconnected and banned.
    pub ban_score: i64,
    /// Points an oversized or undecodable frame costs its sender.
    pub oversize_penalty: u32,
    /// Points a gossip message the service rejected costs its forwarder.
    pub invalid_gossip_penalty: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_gossip_bytes: 4 << 20,
            max_request_bytes: 1 << 20,
            max_response_bytes: 16 << 20,
            initial_score: 100,
            ban_score: 0,
            oversize_penalty: 50,
            invalid_gossip_penalty: 25,
        }
    }
}

/// A ledger of peer scores: what every transport uses to decide whom to disconnect.
#[derive(Clone, Debug, Default)]
pub struct Scores {
    scores: std::collections::BTreeMap<PeerId, i64>,
    banned: std::collections::BTreeSet<PeerId>,
}

impl Scores {
    /// Subtracts `points` from `peer`; returns `true` when this pushes it to the ban
    /// score (the caller disconnects it). A banned peer stays banned.
    pub fn penalize(&mut self, limits: &Limits, peer: &PeerId, points: u32) -> bool {
        if self.banned.contains(peer) {
            return false;
        }
        let s = self.scores.entry(peer.clone()).or_insert(limits.initial_score);
        *s = s.saturating_sub(i64::from(points));
        if *s <= limits.ban_score {
            self.banned.insert(peer.clone());
            return true;
        }
        false
    }

    /// Whether `peer` is banned.
    pub fn is_banned(&self, peer: &PeerId) -> bool {
        self.banned.contains(peer)
    }

    /// `peer`'s current score.
    pub fn score(&self, limits: &Limits, peer: &PeerId) -> i64 {
        self.scores.get(peer).copied().unwrap_or(limits.initial_score)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_ban_once_at_the_threshold() {
        let limits = Limits::default();
        let mut s = Scores::default();
        let p = PeerId("p".into());
        assert!(!s.penalize(&limits, &p, 60));
        assert_eq!(s.score(&limits, &p), 40);
        assert!(s.penalize(&limits, &p, 40), "reaching the ban score bans");
        assert!(s.is_banned(&p));
        assert!(!s.penalize(&limits, &p, 10), "a banned peer is reported once");
        assert!(!s.is_banned(&PeerId("q".into())));
    }

    #[test]
    fn topic_names_are_per_chain() {
        assert_eq!(Topic::Blocks.name("localnet"), "meshcast/localnet/blocks");
        assert_ne!(Topic::Transactions.name("a"), Topic::Transactions.name("b"));
    }
}
