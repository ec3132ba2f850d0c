//! [`P2pTransport`]: the real network, on libp2p.
//!
//! TCP with noise (authenticated encryption; the peer id is the noise static key's
//! identity) and yamux (stream multiplexing). Gossipsub carries the four [`Topic`]s, in
//! strict signed mode with **application validation**: a message is forwarded only after
//! the service's [`NetOut::Verdict`] accepts it, and a rejected one is dropped and costs
//! its forwarder [`Limits::invalid_gossip_penalty`]. Request-response carries direct
//! messages and sync requests as length-prefixed frames (`u32` big-endian length, then
//! the bytes) whose length is checked against [`Limits`] before a byte of the body is
//! read; an oversized or broken frame costs its sender [`Limits::oversize_penalty`].
//! A banned peer is disconnected, blacklisted in gossipsub, and disconnected again at
//! once whenever it reconnects.
//!
//! libp2p is the p2p stack every large Rust chain uses (Substrate, Lighthouse, Forest);
//! DESIGN.md §4.10 names it. The swarm runs on its own tokio task; [`P2pTransport`] is
//! a handle that sends commands to it and receives [`NetIn`] events from it.

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::time::{Duration, Instant};

use futures::{AsyncReadExt, AsyncWriteExt, StreamExt};
use libp2p::gossipsub::{
    self, IdentTopic, MessageAcceptance, MessageAuthenticity, MessageId, ValidationMode,
};
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport, ResponseChannel};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{Multiaddr, StreamProtocol, Swarm, identity, noise, tcp, yamux};
use primitives::Timestamp;
use tokio::sync::mpsc;

use super::{
    GossipId, InboundId, Limits, NetIn, NetOut, PeerId, RequestFailure, RequestId, Scores, Service, Topic,
};

/// Why the transport could not start or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum P2pError {
    /// A listen address could not be bound.
    #[error("cannot listen on {addr}: {reason}")]
    Listen {
        /// The address.
        addr: Multiaddr,
        /// Why.
        reason: String,
    },
    /// The libp2p stack could not be built (bad configuration).
    #[error("libp2p setup: {0}")]
    Setup(String),
    /// The swarm task is gone (the transport was shut down or panicked).
    #[error("the network task has stopped")]
    Stopped,
}

/// Configuration of a [`P2pTransport`].
#[derive(Clone, Debug)]
pub struct P2pConfig {
    /// The chain id: topic names and the request protocol name include it, so nodes of
    /// different chains never exchange a message.
    pub chain_id: String,
    /// Addresses to listen on (`/ip4/127.0.0.1/tcp/0` picks a free port).
    pub listen: Vec<Multiaddr>,
    /// Peers to dial at start and redial while they are not connected.
    pub peers: Vec<Multiaddr>,
    /// Size limits and scoring.
    pub limits: Limits,
    /// How long a request waits for its response.
    pub request_timeout: Duration,
    /// Gossipsub heartbeat (mesh maintenance) interval.
    pub heartbeat: Duration,
}

impl P2pConfig {
    /// A configuration listening on a free loopback port, dialing nobody.
    pub fn loopback(chain_id: &str) -> Self {
        Self {
            chain_id: chain_id.to_owned(),
            listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap_or_else(|_| Multiaddr::empty())],
            peers: Vec::new(),
            limits: Limits::default(),
            request_timeout: Duration::from_secs(5),
            heartbeat: Duration::from_millis(300),
        }
    }
}

/// Request-response frames: `u32` BE length ‖ bytes, bounded on read.
#[derive(Clone, Copy, Debug)]
struct FrameCodec {
    max_request: usize,
    max_response: usize,
}

async fn read_frame<T: futures::AsyncRead + Unpin + Send>(io: &mut T, limit: usize) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes over the limit {limit}"),
        ));
    }
    let mut buf = vec![0u8; len];
    io.read_exact(&mut buf).await?;
    Ok(buf)
}

async fn write_frame<T: futures::AsyncWrite + Unpin + Send>(io: &mut T, data: Vec<u8>) -> io::Result<()> {
    let len = u32::try_from(data.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame too large"))?;
    io.write_all(&len.to_be_bytes()).await?;
    io.write_all(&data).await?;
    io.close().await
}

impl request_response::Codec for FrameCodec {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: futures::AsyncRead + Unpin + Send,
    {
        read_frame(io, self.max_request).await
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: futures::AsyncRead + Unpin + Send,
    {
        read_frame(io, self.max_response).await
    }

    async fn write_request<T>(&mut self, _: &StreamProtocol, io: &mut T, req: Vec<u8>) -> io::Result<()>
    where
        T: futures::AsyncWrite + Unpin + Send,
    {
        write_frame(io, req).await
    }

    async fn write_response<T>(&mut self, _: &StreamProtocol, io: &mut T, res: Vec<u8>) -> io::Result<()>
    where
        T: futures::AsyncWrite + Unpin + Send,
    {
        write_frame(io, res).await
    }
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    gossipsub: gossipsub::Behaviour,
    rr: request_response::Behaviour<FrameCodec>,
}

/// How many received gossip messages may wait for a verdict; older ones are ignored
/// (neither forwarded nor penalized) so a slow service cannot grow the table.
const MAX_PENDING_VERDICTS: usize = 16_384;
/// How many publishes wait for the mesh to form (gossipsub answers InsufficientPeers
/// until it has peers on the topic); they are retried on every heartbeat.
const MAX_QUEUED_PUBLISHES: usize = 4_096;
/// How long a queued publish is retried before it is dropped.
const PUBLISH_RETRY: Duration = Duration::from_secs(30);

/// A handle on the network task. Dropping it stops the task.
#[derive(Debug)]
pub struct P2pTransport {
    local: PeerId,
    listen: Vec<Multiaddr>,
    cmd: mpsc::UnboundedSender<NetOut>,
    events: mpsc::Receiver<NetIn>,
}

impl P2pTransport {
    /// Builds the swarm with a fresh ed25519 identity, binds the listen addresses, dials
    /// the peers and starts the network task on the current tokio runtime. Returns once
    /// every listen address is bound.
    pub async fn start(config: P2pConfig) -> Result<Self, P2pError> {
        Self::start_with(config, identity::Keypair::generate_ed25519()).await
    }

    /// [`P2pTransport::start`] with a given identity.
    pub async fn start_with(config: P2pConfig, keypair: identity::Keypair) -> Result<Self, P2pError> {
        let limits = config.limits;
        let gossip_config = gossipsub::ConfigBuilder::default()
            .max_transmit_size(limits.max_gossip_bytes)
            .validation_mode(ValidationMode::Strict)
            .validate_messages()
            .heartbeat_interval(config.heartbeat)
            .message_id_fn(|m: &gossipsub::Message| {
                let mut buf = Vec::with_capacity(m.topic.as_str().len() + m.data.len());
                buf.extend_from_slice(m.topic.as_str().as_bytes());
                buf.extend_from_slice(&m.data);
                MessageId::from(primitives::keccak256(&buf).as_bytes().to_vec())
            })
            .build()
            .map_err(|e| P2pError::Setup(e.to_string()))?;
        let protocol = StreamProtocol::try_from_owned(format!("/meshcast/{}/rr/1", config.chain_id))
            .map_err(|e| P2pError::Setup(e.to_string()))?;
        let codec =
            FrameCodec { max_request: limits.max_request_bytes, max_response: limits.max_response_bytes };
        let rr_config = request_response::Config::default().with_request_timeout(config.request_timeout);
        let mut swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
            .with_tokio()
            .with_tcp(tcp::Config::default().nodelay(true), noise::Config::new, yamux::Config::default)
            .map_err(|e| P2pError::Setup(e.to_string()))?
            .with_behaviour(|key| {
                let gossipsub =
                    gossipsub::Behaviour::new(MessageAuthenticity::Signed(key.clone()), gossip_config)?;
                let rr = request_response::Behaviour::with_codec(
                    codec,
                    [(protocol, ProtocolSupport::Full)],
                    rr_config,
                );
                Ok(Behaviour { gossipsub, rr })
            })
            .map_err(|e| P2pError::Setup(e.to_string()))?
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
            .build();
        let mut topics = BTreeMap::new();
        for t in Topic::ALL {
            let topic = IdentTopic::new(t.name(&config.chain_id));
            swarm.behaviour_mut().gossipsub.subscribe(&topic).map_err(|e| P2pError::Setup(e.to_string()))?;
            topics.insert(topic.hash(), t);
        }
        let mut ids = Vec::new();
        for addr in &config.listen {
            let id = swarm
                .listen_on(addr.clone())
                .map_err(|e| P2pError::Listen { addr: addr.clone(), reason: e.to_string() })?;
            ids.push(id);
        }
        // Wait until every listener reports its bound address.
        let mut listen = Vec::new();
        while listen.len() < ids.len() {
            match swarm.select_next_some().await {
                SwarmEvent::NewListenAddr { address, .. } => {
                    listen.push(address.with(libp2p::multiaddr::Protocol::P2p(*swarm.local_peer_id())));
                }
                SwarmEvent::ListenerError { error, .. } => {
                    return Err(P2pError::Listen { addr: Multiaddr::empty(), reason: error.to_string() });
                }
                SwarmEvent::ListenerClosed { reason: Err(error), .. } => {
                    return Err(P2pError::Listen { addr: Multiaddr::empty(), reason: error.to_string() });
                }
                _ => {}
            }
        }
        for peer in &config.peers {
            // A failed dial is retried by the redial timer.
            let _ = swarm.dial(peer.clone());
        }
        let local = PeerId(swarm.local_peer_id().to_base58());
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (ev_tx, ev_rx) = mpsc::channel(4_096);
        let task = Task {
            swarm,
            limits,
            topics,
            chain_id: config.chain_id,
            peers: config.peers,
            events: ev_tx,
            scores: Scores::default(),
            next_gossip: 0,
            pending_gossip: BTreeMap::new(),
            next_inbound: 0,
            inbound: BTreeMap::new(),
            outbound: BTreeMap::new(),
            publish_queue: VecDeque::new(),
        };
        tokio::spawn(task.run(cmd_rx));
        Ok(Self { local, listen, cmd: cmd_tx, events: ev_rx })
    }

    /// This node's peer id.
    pub fn local_peer(&self) -> &PeerId {
        &self.local
    }

    /// The bound listen addresses, with the `/p2p/<id>` suffix others can dial.
    pub fn listen_addrs(&self) -> Vec<Multiaddr> {
        self.listen.clone()
    }

    /// Hands a command to the network task.
    pub fn submit(&self, out: NetOut) -> Result<(), P2pError> {
        self.cmd.send(out).map_err(|_| P2pError::Stopped)
    }

    /// The next network event; `None` once the task has stopped.
    pub async fn next_event(&mut self) -> Option<NetIn> {
        self.events.recv().await
    }
}

struct Task {
    swarm: Swarm<Behaviour>,
    limits: Limits,
    topics: BTreeMap<gossipsub::TopicHash, Topic>,
    chain_id: String,
    peers: Vec<Multiaddr>,
    events: mpsc::Sender<NetIn>,
    scores: Scores,
    next_gossip: u64,
    pending_gossip: BTreeMap<u64, (MessageId, libp2p::PeerId)>,
    next_inbound: u64,
    inbound: BTreeMap<u64, ResponseChannel<Vec<u8>>>,
    outbound: BTreeMap<OutboundRequestId, RequestId>,
    publish_queue: VecDeque<(Instant, Topic, Vec<u8>)>,
}

fn peer_of(p: &libp2p::PeerId) -> PeerId {
    PeerId(p.to_base58())
}

impl Task {
    async fn run(mut self, mut cmds: mpsc::UnboundedReceiver<NetOut>) {
        let mut redial = tokio::time::interval(Duration::from_secs(2));
        let mut retry = tokio::time::interval(Duration::from_millis(200));
        loop {
            tokio::select! {
                cmd = cmds.recv() => match cmd {
                    Some(cmd) => self.command(cmd).await,
                    None => return, // the handle was dropped
                },
                ev = self.swarm.select_next_some() => {
                    if !self.event(ev).await {
                        return;
                    }
                }
                _ = redial.tick() => self.redial(),
                _ = retry.tick() => self.retry_publishes(),
            }
        }
    }

    fn redial(&mut self) {
        let connected = self.swarm.connected_peers().count();
        if connected >= self.peers.len() {
            return;
        }
        for addr in self.peers.clone() {
            let known = addr.iter().find_map(|p| match p {
                libp2p::multiaddr::Protocol::P2p(id) => Some(id),
                _ => None,
            });
            if known.is_some_and(|id| self.swarm.is_connected(&id) || self.scores.is_banned(&peer_of(&id))) {
                continue;
            }
            let _ = self.swarm.dial(addr);
        }
    }

    fn publish(&mut self, topic: Topic, data: Vec<u8>) -> bool {
        let t = IdentTopic::new(topic.name(&self.chain_id));
        match self.swarm.behaviour_mut().gossipsub.publish(t, data) {
            Ok(_) | Err(gossipsub::PublishError::Duplicate) => true,
            Err(gossipsub::PublishError::NoPeersSubscribedToTopic)
            | Err(gossipsub::PublishError::AllQueuesFull(_)) => false,
            Err(e) => {
                tracing::warn!(?topic, error = %e, "publish failed");
                true
            }
        }
    }

    fn retry_publishes(&mut self) {
        let now = Instant::now();
        for _ in 0..self.publish_queue.len() {
            let Some((since, topic, data)) = self.publish_queue.pop_front() else { break };
            if now.duration_since(since) > PUBLISH_RETRY {
                tracing::warn!(?topic, "publish dropped: no peers on the topic in time");
                continue;
            }
            if !self.publish(topic, data.clone()) {
                self.publish_queue.push_back((since, topic, data));
            }
        }
    }

    async fn emit(&mut self, ev: NetIn) -> bool {
        self.events.send(ev).await.is_ok()
    }

    async fn penalize(&mut self, peer: libp2p::PeerId, points: u32, reason: &str) {
        let p = peer_of(&peer);
        if self.scores.penalize(&self.limits, &p, points) {
            tracing::info!(peer = %p, reason, "peer banned");
            self.swarm.behaviour_mut().gossipsub.blacklist_peer(&peer);
            let _ = self.swarm.disconnect_peer_id(peer);
        }
    }

    async fn command(&mut self, cmd: NetOut) {
        match cmd {
            NetOut::Publish { topic, data } => {
                if !self.publish(topic, data.clone()) && self.publish_queue.len() < MAX_QUEUED_PUBLISHES {
                    self.publish_queue.push_back((Instant::now(), topic, data));
                }
            }
            NetOut::Verdict { id, accept } => {
                if let Some((msg_id, source)) = self.pending_gossip.remove(&id.0) {
                    let acceptance =
                        if accept { MessageAcceptance::Accept } else { MessageAcceptance::Reject };
                    self.swarm
                        .behaviour_mut()
                        .gossipsub
                        .report_message_validation_result(&msg_id, &source, acceptance);
                    if !accept {
                        self.penalize(source, self.limits.invalid_gossip_penalty, "invalid gossip").await;
                    }
                }
            }
            NetOut::Ignore { id } => {
                if let Some((msg_id, source)) = self.pending_gossip.remove(&id.0) {
                    self.swarm.behaviour_mut().gossipsub.report_message_validation_result(
                        &msg_id,
                        &source,
                        MessageAcceptance::Ignore,
                    );
                }
            }
            NetOut::Request { to, id, data } => {
                let target = to.0.parse::<libp2p::PeerId>().ok().filter(|p| self.swarm.is_connected(p));
                match target {
                    Some(p) if !self.scores.is_banned(&to) => {
                        let oid = self.swarm.behaviour_mut().rr.send_request(&p, data);
                        self.outbound.insert(oid, id);
                    }
                    _ => {
                        self.emit(NetIn::Response { id, result: Err(RequestFailure::Unreachable) }).await;
                    }
                }
            }
            NetOut::Respond { id, data } => {
                if let Some(ch) = self.inbound.remove(&id.0) {
                    // The requester may have gone; nothing to do then.
                    let _ = self.swarm.behaviour_mut().rr.send_response(ch, data);
                }
            }
            NetOut::Penalize { peer, points, reason } => {
                if let Ok(p) = peer.0.parse::<libp2p::PeerId>() {
                    self.penalize(p, points, &reason).await;
                }
            }
        }
    }

    /// Handles one swarm event; `false` when the service side is gone.
    async fn event(&mut self, ev: SwarmEvent<BehaviourEvent>) -> bool {
        match ev {
            SwarmEvent::ConnectionEstablished { peer_id, num_established, .. } => {
                if self.scores.is_banned(&peer_of(&peer_id)) {
                    let _ = self.swarm.disconnect_peer_id(peer_id);
                    return true;
                }
                if num_established.get() == 1 {
                    return self.emit(NetIn::Connected(peer_of(&peer_id))).await;
                }
            }
            SwarmEvent::ConnectionClosed { peer_id, num_established: 0, .. } => {
                return self.emit(NetIn::Disconnected(peer_of(&peer_id))).await;
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            })) => {
                let Some(topic) = self.topics.get(&message.topic).copied() else {
                    let gs = &mut self.swarm.behaviour_mut().gossipsub;
                    gs.report_message_validation_result(
                        &message_id,
                        &propagation_source,
                        MessageAcceptance::Reject,
                    );
                    return true;
                };
                if message.data.len() > self.limits.max_gossip_bytes {
                    let gs = &mut self.swarm.behaviour_mut().gossipsub;
                    gs.report_message_validation_result(
                        &message_id,
                        &propagation_source,
                        MessageAcceptance::Reject,
                    );
                    self.penalize(propagation_source, self.limits.oversize_penalty, "oversized gossip").await;
                    return true;
                }
                if self.pending_gossip.len() >= MAX_PENDING_VERDICTS
                    && let Some((_, (old_id, old_src))) = self.pending_gossip.pop_first()
                {
                    let gs = &mut self.swarm.behaviour_mut().gossipsub;
                    gs.report_message_validation_result(&old_id, &old_src, MessageAcceptance::Ignore);
                }
                let id = self.next_gossip;
                self.next_gossip += 1;
                self.pending_gossip.insert(id, (message_id, propagation_source));
                let from = peer_of(&propagation_source);
                return self.emit(NetIn::Gossip { from, topic, data: message.data, id: GossipId(id) }).await;
            }
            SwarmEvent::Behaviour(BehaviourEvent::Rr(ev)) => return self.rr_event(ev).await,
            _ => {}
        }
        true
    }

    async fn rr_event(&mut self, ev: request_response::Event<Vec<u8>, Vec<u8>>) -> bool {
        use request_response::{Event, InboundFailure, Message, OutboundFailure};
        match ev {
            Event::Message { peer, message: Message::Request { request, channel, .. }, .. } => {
                if self.scores.is_banned(&peer_of(&peer)) {
                    return true;
                }
                let id = self.next_inbound;
                self.next_inbound += 1;
                self.inbound.insert(id, channel);
                self.emit(NetIn::Request { from: peer_of(&peer), data: request, id: InboundId(id) }).await
            }
            Event::Message { message: Message::Response { request_id, response }, .. } => {
                match self.outbound.remove(&request_id) {
                    Some(id) => self.emit(NetIn::Response { id, result: Ok(response) }).await,
                    None => true,
                }
            }
            Event::OutboundFailure { peer, request_id, error, .. } => {
                let failure = match &error {
                    OutboundFailure::Timeout => RequestFailure::Timeout,
                    OutboundFailure::DialFailure | OutboundFailure::ConnectionClosed => {
                        RequestFailure::Unreachable
                    }
                    OutboundFailure::UnsupportedProtocols => RequestFailure::Refused,
                    OutboundFailure::Io(e) => {
                        self.penalize(peer, self.limits.oversize_penalty, "bad response frame").await;
                        RequestFailure::BadResponse(e.to_string())
                    }
                };
                match self.outbound.remove(&request_id) {
                    Some(id) => self.emit(NetIn::Response { id, result: Err(failure) }).await,
                    None => true,
                }
            }
            Event::InboundFailure { peer, error: InboundFailure::Io(e), .. } => {
                tracing::debug!(peer = %peer, error = %e, "bad inbound request frame");
                self.penalize(peer, self.limits.oversize_penalty, "bad request frame").await;
                true
            }
            _ => true,
        }
    }
}

/// A closure run on the service between events, with the current time.
pub type Injected<S> = Box<dyn FnOnce(&mut S, Timestamp) + Send>;

/// Runs `service` on `transport` until the transport stops: feeds every network event
/// and every timer the service asks for, with the wall clock as [`Timestamp`] (monotonic:
/// milliseconds since `epoch`, so time never moves backwards), and submits every command.
/// `inject` receives closures that run on the service between events (how RPC handlers
/// and operators reach it); `None` from it is ignored.
pub async fn run<S: Service>(
    service: &mut S,
    transport: &mut P2pTransport,
    epoch: Instant,
    inject: &mut mpsc::Receiver<Injected<S>>,
) {
    let now = || Timestamp::from_millis(u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX));
    service.handle(now(), NetIn::Start);
    let mut inject_open = true;
    loop {
        while let Some(cmd) = service.poll_net() {
            if transport.submit(cmd).is_err() {
                return;
            }
        }
        let deadline = service.poll_timeout().map(|t| epoch + Duration::from_millis(t.as_millis()));
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d.into()).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            ev = transport.next_event() => match ev {
                Some(ev) => service.handle(now(), ev),
                None => return,
            },
            f = inject.recv(), if inject_open => match f {
                Some(f) => f(service, now()),
                None => inject_open = false,
            },
            _ = sleep => service.handle(now(), NetIn::Timeout),
        }
    }
}
