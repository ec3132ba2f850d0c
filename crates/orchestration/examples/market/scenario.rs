//! The market scenario on `netsim`: one broadcaster, N orchestrators with varied prices,
//! latencies, processing times and capacities, a fraction failing mid-stream (crash,
//! stall or tampered output), real pm-tickets payments and verification through
//! `transcode-verify`'s verdict code (transcoding) or re-execution (compute).
//!
//! Shared by the `market` example and `tests/market.rs`.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use netsim::{Dest, LinkConfig, Node, NodeInput, Outgoing, Sim, SimConfig};
use orchestration::job::{Capability, Hardware, JobKind, VerificationPolicy};
use orchestration::negotiation::*;
use orchestration::selection::{ScoreRule, SelectionConfig, u256_to_f64};
use pm_tickets::{RecipientConfig, RecipientKeys};
use primitives::{Address, H256, Machine, SecretKey, Timestamp, U256, keccak256};
use transcode_verify::{
    Fps, Frame, Plane, Profile, RenditionClaim, RenditionFacts, SegmentExpectation, TranscodeClaim, Verifier,
    VerifierConfig, rendition_hash,
};

/// The job kind of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// H.264-style transcoding into `P144p30fps16x9` (synthetic frames).
    Transcode,
    /// A keccak chain of `COMPUTE_ITERATIONS` steps, spot-checked by re-execution.
    Compute,
}

/// Which selection rule the broadcaster uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SelectorKind {
    /// The multiplicative score (the machine's own).
    Multiplicative,
    /// Livepeer's additive stake/price mix (stake weight 0.3), for comparison.
    Additive,
}

/// Which orchestrators fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailPick {
    /// A uniformly random subset (the default).
    Random,
    /// The cheapest ones (a stress test: the selector walks straight into them, and the
    /// silent failures among them are hidden until the next probe).
    Cheapest,
}

/// Scenario parameters.
#[derive(Clone, Debug)]
pub struct Params {
    /// Which orchestrators fail.
    pub fail_pick: FailPick,
    /// Orchestrators.
    pub orchestrators: usize,
    /// Segments.
    pub segments: u64,
    /// Fraction failing mid-stream.
    pub fail_rate: f64,
    /// Seed of everything.
    pub seed: u64,
    /// Job kind.
    pub kind: Kind,
    /// Full verification of 1 in this many results (cheap checks on all).
    pub verify_rate: u32,
    /// Selection rule.
    pub selector: SelectorKind,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            fail_pick: FailPick::Random,
            orchestrators: 20,
            segments: 1_000,
            fail_rate: 0.3,
            seed: 1,
            kind: Kind::Transcode,
            verify_rate: 1,
            selector: SelectorKind::Multiplicative,
        }
    }
}

/// The figures of a run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    /// Segments submitted.
    pub segments: u64,
    /// Segments delivered and accepted.
    pub delivered: u64,
    /// Most attempts any delivered segment took.
    pub max_attempts: u32,
    /// Segments paid more than once.
    pub paid_twice: u64,
    /// Payments for work that was not the accepted delivery (failed, timed out, tampered).
    pub paid_for_failed: u64,
    /// Total cost / cost of the cheapest orchestrators able to keep up.
    pub cost_ratio: f64,
    /// Segments sent to an orchestrator after it was suspended.
    pub failed_still_used: u64,
    /// Tampered results accepted.
    pub tampered_accepted: u64,
    /// Segments that failed every attempt.
    pub lost: u64,
    /// Orchestrators suspended.
    pub suspended: u64,
    /// Failures actually hit (a failing orchestrator was in use when it failed).
    pub failures_hit: u64,
    /// Winning tickets (all orchestrators).
    pub winning_tickets: u64,
    /// Tickets sent.
    pub tickets: u64,
    /// Segments per orchestrator (index = peer).
    pub per_orchestrator: Vec<u64>,
}

impl Report {
    /// The last line of the example: exactly the keys.
    pub fn json(&self) -> String {
        format!(
            "{{\"segments\": {}, \"delivered\": {}, \"max_attempts\": {}, \"paid_twice\": {}, \"paid_for_failed\": {}, \"cost_ratio\": {:.4}, \"failed_still_used\": {}, \"tampered_accepted\": {}}}",
            self.segments,
            self.delivered,
            self.max_attempts,
            self.paid_twice,
            self.paid_for_failed,
            self.cost_ratio,
            self.failed_still_used,
            self.tampered_accepted
        )
    }
}

/// Real-time length of a segment (and of its content), ms.
pub const SEGMENT_MS: u64 = 1_000;
/// The transcoding profile (smallest of the ladder, to keep the run cheap).
pub const PROFILE: Profile = Profile::P144P30;
/// Frames per segment at the profile's 30 fps.
pub const FRAMES: usize = 30;
/// Work units of a compute segment: keccak iterations.
pub const COMPUTE_ITERATIONS: u64 = 1_000;
/// Job id.
const JOB: u64 = 1;
/// First block and blocks per 12 s.
const BLOCK0: u64 = 1_000;
const BLOCK_MS: u64 = 12_000;
/// Blocks a quote's params live (the recipient default is 5: one minute here).
const PARAMS_BLOCKS: u64 = 5;

fn units(kind: Kind) -> u64 {
    match kind {
        Kind::Transcode => u64::from(PROFILE.width) * u64::from(PROFILE.height) * FRAMES as u64,
        Kind::Compute => COMPUTE_ITERATIONS,
    }
}

fn job_kind(kind: Kind) -> JobKind {
    match kind {
        Kind::Transcode => JobKind::Transcode { profile: PROFILE.name.into(), hardware: Hardware::Gpu },
        Kind::Compute => JobKind::Compute { workload: "keccak-chain/v1".into() },
    }
}

/// Base price per unit: wei per pixel (transcode) or per iteration (compute), so one
/// segment costs about 2 gwei at the lowest price either way.
fn base_price(kind: Kind) -> u64 {
    match kind {
        Kind::Transcode => 2_000,
        Kind::Compute => 2_000_000,
    }
}

fn block_at(now: Timestamp) -> u64 {
    BLOCK0 + now.as_millis() / BLOCK_MS
}

/// A tiny deterministic PRNG (splitmix64) for the scenario's draws.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

// ---------------------------------------------------------------------------------------
// Synthetic media: a moving textured source, its "renditions" as raw planes behind a header.

/// Source frames of segment `seq` (at the profile's size, so the reference is the source).
pub fn source_frames(seq: u64, content: u64) -> Vec<Frame> {
    let (w, h) = (PROFILE.width as usize, PROFILE.height as usize);
    (0..FRAMES)
        .map(|t| {
            let tt = seq as usize * FRAMES + t;
            let mut f = Frame::solid(w, h, (t as i64) * 33_333, [0, 128, 128]);
            for y in 0..h {
                for x in 0..w {
                    let v = (x * 3 + y * 2 + tt * 5 + content as usize) % 200 + 28;
                    f.y.data[y * w + x] = v as u8;
                }
            }
            // A bright square moving 4 px per frame.
            let (sx, sy) = ((tt * 4) % (w - 24), (tt * 2) % (h - 24));
            for y in sy..sy + 24 {
                for x in sx..sx + 24 {
                    f.y.data[y * w + x] = 235;
                }
            }
            for (i, v) in f.u.data.iter_mut().enumerate() {
                *v = (100 + (i + tt) % 56) as u8;
            }
            for (i, v) in f.v.data.iter_mut().enumerate() {
                *v = (110 + (i * 3 + tt) % 40) as u8;
            }
            f
        })
        .collect()
}

const MAGIC: &[u8; 4] = b"MSR1";

/// Raw planes behind a header: magic, width, height, frames, fps num/den, duration µs.
pub fn encode_rendition(frames: &[Frame], fps: Fps, duration_us: u64) -> Vec<u8> {
    let (w, h) = frames.first().map_or((0, 0), |f| (f.width(), f.height()));
    let mut out = MAGIC.to_vec();
    for v in [w as u32, h as u32, frames.len() as u32, fps.num, fps.den] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&duration_us.to_le_bytes());
    for f in frames {
        out.extend_from_slice(&f.y.data);
        out.extend_from_slice(&f.u.data);
        out.extend_from_slice(&f.v.data);
    }
    out
}

/// Parses a rendition: its facts and frames, or `None` when malformed.
pub fn decode_rendition(bytes: &[u8]) -> Option<(RenditionFacts, Vec<Frame>)> {
    let rd = |i: usize| bytes.get(4 + 4 * i..8 + 4 * i).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    if bytes.get(..4)? != MAGIC {
        return None;
    }
    let (w, h, n, num, den) = (rd(0)? as usize, rd(1)? as usize, rd(2)? as usize, rd(3)?, rd(4)?);
    let d = bytes.get(24..32)?;
    let duration_us = u64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]]);
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let per = w.checked_mul(h)?.checked_add(2 * cw * ch)?;
    if w == 0 || h == 0 || n > 240 || bytes.len() != 32 + per.checked_mul(n)? {
        return None;
    }
    let mut frames = Vec::with_capacity(n);
    let mut at = 32;
    for t in 0..n {
        let mut take = |len: usize| {
            let s = bytes[at..at + len].to_vec();
            at += len;
            s
        };
        let y = Plane::new(w, h, take(w * h)).ok()?;
        let u = Plane::new(cw, ch, take(cw * ch)).ok()?;
        let v = Plane::new(cw, ch, take(cw * ch)).ok()?;
        frames.push(Frame::new(t as i64 * 33_333, y, u, v).ok()?);
    }
    let facts = RenditionFacts {
        width: w as u32,
        height: h as u32,
        frames: n as u64,
        duration_us,
        fps: Fps::new(num, den).ok(),
        hash: rendition_hash(bytes),
    };
    Some((facts, frames))
}

/// A keccak chain of `n` steps over `input` (the compute workload).
pub fn keccak_chain(input: &[u8], n: u64) -> Vec<u8> {
    let mut h = keccak256(input);
    for _ in 0..n {
        h = keccak256(h.as_bytes());
    }
    h.as_bytes().to_vec()
}

fn payload_of(seq: u64, content: u64) -> Vec<u8> {
    let mut p = seq.to_be_bytes().to_vec();
    p.extend_from_slice(&content.to_be_bytes());
    p
}

fn parse_payload(p: &[u8]) -> Option<(u64, u64)> {
    let a: [u8; 8] = p.get(..8)?.try_into().ok()?;
    let b: [u8; 8] = p.get(8..16)?.try_into().ok()?;
    Some((u64::from_be_bytes(a), u64::from_be_bytes(b)))
}

// ---------------------------------------------------------------------------------------
// Nodes.

/// How an orchestrator fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Never.
    None,
    /// The node crashes at this time (netsim crash: silent from then on).
    Crash(u64),
    /// The process hangs from this time on: it still receives (connections stay open)
    /// but answers nothing, work or discovery; only timeouts reveal it.
    Stall(u64),
    /// From this time on its outputs are tampered (black frames / wrong resolution /
    /// wrong compute result).
    Tamper(u64),
}

/// One orchestrator's draw.
#[derive(Clone, Debug)]
pub struct OrchSpec {
    /// Price per unit, wei.
    pub price: u64,
    /// One-way link latency, ms.
    pub latency_ms: u64,
    /// Processing time per segment, ms.
    pub proc_ms: u64,
    /// Session capacity (0: full).
    pub capacity: u32,
    /// Bonded stake.
    pub stake: U256,
    /// Failure behaviour.
    pub failure: Failure,
}

impl OrchSpec {
    /// Whether it can keep up with real time (round trip plus processing within a segment).
    pub fn keeps_up(&self) -> bool {
        2 * self.latency_ms + self.proc_ms < SEGMENT_MS
    }
}

/// The broadcaster's node.
pub struct BNode {
    m: Broadcaster,
    p: Params,
    peers: Vec<(PeerId, U256)>,
    verifier: Verifier,
    next_seq: u64,
    block: u64,
    out: VecDeque<Outgoing<Vec<u8>>>,
    /// Every event, with its time.
    pub events: Vec<(Timestamp, BroadcasterEvent)>,
    /// Input errors (hostile or late messages), counted.
    pub errors: u64,
}

impl BNode {
    fn drain(&mut self, now: Timestamp) {
        while let Some(out) = self.m.poll_output() {
            match out {
                BroadcasterOutput::Send { to, msg } => {
                    self.out.push_back(Outgoing { to: Dest::To(to as usize), msg: msg.encode() });
                }
                BroadcasterOutput::Verify(v) => {
                    let passed = verify(&self.verifier, self.p.kind, &v);
                    if self.m.handle(now, BroadcasterInput::Verdict { id: v.id, passed }).is_err() {
                        self.errors += 1;
                    }
                }
                BroadcasterOutput::Event(e) => self.events.push((now, e)),
            }
        }
    }

    fn next_segment_at(&self) -> Option<Timestamp> {
        (self.next_seq < self.p.segments).then(|| Timestamp::from_millis(2_000 + self.next_seq * SEGMENT_MS))
    }
}

/// The host's verification: transcode-verify's cheap checks on every result and, when
/// `full`, its perceptual checks against the reference (the whole verdict code path);
/// for compute, the output's shape always and re-execution when `full`.
pub fn verify(verifier: &Verifier, kind: Kind, v: &VerifyRequest) -> bool {
    let Some((seq, content)) = parse_payload(&v.payload) else { return false };
    if seq != v.seq {
        return false;
    }
    match kind {
        Kind::Compute => {
            if v.result.output.len() != 32 || v.result.claim.is_some() {
                return false;
            }
            !v.full || v.result.output == keccak_chain(&v.payload, COMPUTE_ITERATIONS)
        }
        Kind::Transcode => {
            let Some(claim) = &v.result.claim else { return false };
            let expect = SegmentExpectation {
                profiles: vec![PROFILE],
                source_width: PROFILE.width,
                source_height: PROFILE.height,
                source_duration_us: SEGMENT_MS * 1_000,
                source_hash: rendition_hash(&v.payload),
                orchestrator: v.orchestrator,
                price: v.price.to_claim_price(),
            };
            let Some((facts, frames)) = decode_rendition(&v.result.output) else { return false };
            let cheap = verifier.cheap(&expect, claim, std::slice::from_ref(&facts));
            let mut reports = Vec::new();
            if v.full && cheap.is_empty() {
                let reference = source_frames(seq, content);
                match verifier.perceptual(claim, 0, &reference, None, &frames) {
                    Ok(r) => reports.push((0, r)),
                    Err(_) => return false,
                }
            }
            !verifier.verdict(claim, cheap, v.full, reports).is_fault()
        }
    }
}

impl Node for BNode {
    type Msg = Vec<u8>;

    fn handle(&mut self, now: Timestamp, input: NodeInput<Vec<u8>>) {
        let b = block_at(now);
        if b != self.block {
            self.block = b;
            if self.m.handle(now, BroadcasterInput::Chain { block: b }).is_err() {
                self.errors += 1;
            }
        }
        let r = match input {
            NodeInput::Start => {
                let funds = BroadcasterInput::Funds {
                    deposit: U256::exp10(20),
                    reserve: U256::zero(),
                    withdraw_round: 0,
                };
                let _ = self.m.handle(now, funds);
                self.m.handle(now, BroadcasterInput::Discover(self.peers.clone()))
            }
            NodeInput::Message { from, msg } => match Message::decode(&msg) {
                Ok(m) => {
                    self.m.handle(now, BroadcasterInput::Received { from: from as PeerId, msg: Box::new(m) })
                }
                Err(e) => Err(e),
            },
            NodeInput::Timeout => {
                let mut r = Ok(());
                if self.m.poll_timeout().is_some_and(|t| t <= now) {
                    r = self.m.handle(now, BroadcasterInput::Timeout);
                }
                while self.next_segment_at().is_some_and(|t| t <= now) {
                    let seq = self.next_seq;
                    self.next_seq += 1;
                    let content = seq.wrapping_mul(0x9e37_79b9) ^ self.p.seed;
                    let seg = BroadcasterInput::Segment {
                        seq,
                        units: units(self.p.kind),
                        payload: payload_of(seq, content),
                    };
                    if self.m.handle(now, seg).is_err() {
                        self.errors += 1;
                    }
                    // The registry is re-read every 30 segments (go-livepeer refreshes its pool).
                    if seq % 30 == 29 {
                        let _ = self.m.handle(now, BroadcasterInput::Discover(self.peers.clone()));
                    }
                }
                r
            }
        };
        if r.is_err() {
            self.errors += 1;
        }
        self.drain(now);
    }

    fn poll_send(&mut self) -> Option<Outgoing<Vec<u8>>> {
        self.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<Timestamp> {
        [self.m.poll_timeout(), self.next_segment_at()].into_iter().flatten().min()
    }
}

/// An orchestrator's node.
pub struct ONode {
    m: Orchestrator,
    key: SecretKey,
    spec: OrchSpec,
    kind: Kind,
    broadcaster: Address,
    block: u64,
    work: BTreeMap<(Timestamp, u64), WorkRequest>,
    out: VecDeque<Outgoing<Vec<u8>>>,
    /// Segments it returned tampered.
    pub tampered: BTreeSet<u64>,
    /// Winning tickets.
    pub won: u64,
    /// Input errors.
    pub errors: u64,
    /// Hung (a `Stall` whose time has come).
    stalled: bool,
}

impl ONode {
    fn failed_at(&self) -> Option<(u64, Failure)> {
        match self.spec.failure {
            Failure::None => None,
            Failure::Crash(t) | Failure::Stall(t) | Failure::Tamper(t) => Some((t, self.spec.failure)),
        }
    }

    fn drain(&mut self, now: Timestamp) {
        while let Some(out) = self.m.poll_output() {
            match out {
                OrchestratorOutput::Send { to, msg } => {
                    self.out.push_back(Outgoing { to: Dest::To(to as usize), msg: msg.encode() })
                }
                OrchestratorOutput::Work(w) => {
                    let stalled = matches!(self.spec.failure, Failure::Stall(t) if now.as_millis() >= t);
                    if !stalled {
                        self.work.insert((now + self.spec.proc_ms, w.id), *w);
                    }
                }
                OrchestratorOutput::Redeem(t) => {
                    // A test chain: every redemption confirms for its face value.
                    let input = OrchestratorInput::Redeemed {
                        ticket_hash: t.ticket.hash(),
                        paid: t.ticket.face_value,
                    };
                    let _ = self.m.handle(now, input);
                }
                OrchestratorOutput::Event(OrchestratorEvent::Won { .. }) => self.won += 1,
                OrchestratorOutput::Event(_) => {}
            }
        }
    }

    fn do_work(&mut self, now: Timestamp, w: &WorkRequest) -> (Vec<u8>, Option<TranscodeClaim>) {
        let tamper = matches!(self.spec.failure, Failure::Tamper(t) if now.as_millis() >= t);
        if tamper {
            self.tampered.insert(w.seq);
        }
        let Some((seq, content)) = parse_payload(&w.payload) else { return (vec![], None) };
        match self.kind {
            Kind::Compute => {
                let mut out = keccak_chain(&w.payload, COMPUTE_ITERATIONS);
                if tamper {
                    // Skips the work: a plausible-looking but wrong result.
                    out = keccak256(&w.payload).as_bytes().to_vec();
                }
                (out, None)
            }
            Kind::Transcode => {
                let mut frames = source_frames(seq, content);
                // An honest encoder differs from the source a little (±1 dither).
                for (i, f) in frames.iter_mut().enumerate() {
                    for (j, v) in f.y.data.iter_mut().enumerate() {
                        if (i + j) % 7 == 0 {
                            *v = v.saturating_add(1);
                        }
                    }
                }
                if tamper {
                    // Blacks out the second half of the segment (ad insertion, dropped feed).
                    for f in frames.iter_mut().skip(FRAMES / 2) {
                        *f = Frame::solid(f.width(), f.height(), f.pts_us, [16, 128, 128]);
                    }
                }
                let bytes = encode_rendition(&frames, PROFILE.fps, SEGMENT_MS * 1_000);
                let (w_, h_) = (u64::from(PROFILE.width), u64::from(PROFILE.height));
                let claim = TranscodeClaim::signed(
                    [JOB as u8; 32],
                    seq,
                    rendition_hash(&w.payload),
                    w.price.to_claim_price(),
                    vec![RenditionClaim {
                        profile: PROFILE.name.into(),
                        width: PROFILE.width,
                        height: PROFILE.height,
                        frames: FRAMES as u64,
                        pixels: FRAMES as u64 * w_ * h_,
                        hash: rendition_hash(&bytes),
                    }],
                    &self.key,
                );
                (bytes, Some(claim))
            }
        }
    }
}

impl Node for ONode {
    type Msg = Vec<u8>;

    fn handle(&mut self, now: Timestamp, input: NodeInput<Vec<u8>>) {
        if matches!(self.spec.failure, Failure::Stall(t) if now.as_millis() >= t) {
            self.stalled = true;
        }
        let b = block_at(now);
        if b != self.block {
            self.block = b;
            let chain =
                OrchestratorInput::Chain { block: b, round: 1, round_block_hash: H256::repeat_byte(1) };
            if self.m.handle(now, chain).is_err() {
                self.errors += 1;
            }
        }
        let r = match input {
            NodeInput::Start => {
                let _ = self.m.handle(now, OrchestratorInput::GasPrice(U256::from(1_000u64)));
                self.m.handle(
                    now,
                    OrchestratorInput::SenderFunds {
                        sender: self.broadcaster,
                        max_float: U256::exp10(20),
                        withdraw_round: 0,
                    },
                )
            }
            NodeInput::Message { from, msg } => match Message::decode(&msg) {
                Ok(m) => {
                    self.m.handle(now, OrchestratorInput::Received { from: from as PeerId, msg: Box::new(m) })
                }
                Err(e) => Err(e),
            },
            NodeInput::Timeout => {
                let due: Vec<(Timestamp, u64)> =
                    self.work.range(..=(now, u64::MAX)).map(|(k, _)| *k).collect();
                for k in due {
                    let Some(w) = self.work.remove(&k) else { continue };
                    let stalled = matches!(self.spec.failure, Failure::Stall(t) if now.as_millis() >= t);
                    if stalled {
                        continue;
                    }
                    let (output, claim) = self.do_work(now, &w);
                    if self.m.handle(now, OrchestratorInput::WorkDone { id: w.id, output, claim }).is_err() {
                        self.errors += 1;
                    }
                }
                if self.m.poll_timeout().is_some_and(|t| t <= now) {
                    self.m.handle(now, OrchestratorInput::Timeout)
                } else {
                    Ok(())
                }
            }
        };
        if r.is_err() {
            self.errors += 1;
        }
        self.drain(now);
    }

    fn poll_send(&mut self) -> Option<Outgoing<Vec<u8>>> {
        if matches!(self.spec.failure, Failure::Stall(_)) && self.stalled {
            self.out.clear();
            return None;
        }
        self.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<Timestamp> {
        let work = self.work.keys().next().map(|(t, _)| *t);
        [self.m.poll_timeout(), work].into_iter().flatten().min()
    }
}

/// The simulator's node: one broadcaster (id 0) and the orchestrators (ids 1..=N).
pub enum SimNode {
    /// The broadcaster.
    B(Box<BNode>),
    /// An orchestrator.
    O(Box<ONode>),
}

impl Node for SimNode {
    type Msg = Vec<u8>;
    fn handle(&mut self, now: Timestamp, input: NodeInput<Vec<u8>>) {
        match self {
            SimNode::B(b) => b.handle(now, input),
            SimNode::O(o) => o.handle(now, input),
        }
    }
    fn poll_send(&mut self) -> Option<Outgoing<Vec<u8>>> {
        match self {
            SimNode::B(b) => b.poll_send(),
            SimNode::O(o) => o.poll_send(),
        }
    }
    fn poll_timeout(&self) -> Option<Timestamp> {
        match self {
            SimNode::B(b) => b.poll_timeout(),
            SimNode::O(o) => o.poll_timeout(),
        }
    }
}

/// Draws the orchestrators: prices 1x..2x the base, one-way latency 5..250 ms,
/// processing 50..700 ms, capacity 0..4 (one in ten full), stake 1..1000 tokens with a
/// few whales. The failing fraction is a random subset ([`FailPick::Random`]) or the
/// cheapest ones ([`FailPick::Cheapest`]), with failure times spread over the middle 80 %
/// of the stream and kinds rotating crash → stall → tamper.
pub fn draw(p: &Params) -> Vec<OrchSpec> {
    let mut rng = Rng(p.seed ^ 0x6d61_726b_6574);
    let base = base_price(p.kind);
    let mut specs: Vec<OrchSpec> = (0..p.orchestrators)
        .map(|_| {
            let whale = rng.unit() < 0.15;
            let tokens = if whale { rng.range(10_000, 50_000) } else { rng.range(1, 1_000) };
            OrchSpec {
                price: base + base * rng.range(0, 100) / 100,
                latency_ms: rng.range(5, 250),
                proc_ms: rng.range(50, 700),
                capacity: if rng.unit() < 0.1 { 0 } else { rng.range(1, 4) as u32 },
                stake: U256::from(tokens) * U256::exp10(18),
                failure: Failure::None,
            }
        })
        .collect();
    let failing = ((p.orchestrators as f64) * p.fail_rate).round() as usize;
    let mut by_price: Vec<usize> = (0..specs.len()).collect();
    match p.fail_pick {
        FailPick::Cheapest => by_price.sort_by_key(|&i| (specs[i].price, i)),
        FailPick::Random => by_price.sort_by_key(|&i| rng.next() ^ i as u64),
    }
    let stream_ms = p.segments * SEGMENT_MS;
    for (k, &i) in by_price.iter().take(failing).enumerate() {
        let at = 2_000 + stream_ms / 10 + rng.range(0, (stream_ms * 8 / 10).max(1));
        specs[i].failure = match k % 3 {
            0 => Failure::Crash(at),
            1 => Failure::Stall(at),
            _ => Failure::Tamper(at),
        };
    }
    specs
}

/// Runs the scenario.
pub fn run(p: &Params) -> Result<Report, String> {
    let specs = draw(p);
    let bkey = SecretKey::from_bytes(seed32(p.seed, 0xb0)).map_err(|e| e.to_string())?;
    let mut sim: Sim<SimNode> =
        Sim::new(SimConfig { default_link: LinkConfig::constant(20), ..SimConfig::with_seed(p.seed) });
    let kind = job_kind(p.kind);
    let max_price = PriceInfo::per_unit(U256::from(base_price(p.kind) * 3));
    let mut config = BroadcasterConfig::new(JOB, kind.clone(), max_price);
    config.discovery_timeout_ms = 800;
    config.segment_timeout_ms = 1_500;
    config.verify_rate = p.verify_rate;
    let rule = match p.selector {
        SelectorKind::Multiplicative => ScoreRule::Multiplicative,
        // go-livepeer's default weights: stake 0.3, price 0.7.
        SelectorKind::Additive => ScoreRule::Additive { stake_weight: 0.3 },
    };
    config.selection = SelectionConfig { rule, realtime_ms: SEGMENT_MS, ..SelectionConfig::default() };
    // One segment at the lowest price costs about 2.2 gwei; tickets carry about that EV.
    let ev = U256::from(2_000_000_000u64);
    let peers: Vec<(PeerId, U256)> =
        specs.iter().enumerate().map(|(i, s)| ((i + 1) as PeerId, s.stake)).collect();
    let verifier =
        Verifier::new(VerifierConfig { rate: 1, ..VerifierConfig::default() }, seed32(p.seed, 0x5e));
    let b = BNode {
        m: Broadcaster::new(config, bkey.clone(), Timestamp::ZERO, seed32(p.seed, 0xbb)),
        p: p.clone(),
        peers,
        verifier,
        next_seq: 0,
        block: 0,
        out: VecDeque::new(),
        events: Vec::new(),
        errors: 0,
    };
    sim.add_node(SimNode::B(Box::new(b)));
    let seg_cost_max = U256::from(units(p.kind)) * U256::from(base_price(p.kind) * 3);
    for (i, s) in specs.iter().enumerate() {
        let key = SecretKey::from_bytes(seed32(p.seed, i as u8)).map_err(|e| e.to_string())?;
        let cap = Capability {
            kind: kind.clone(),
            price_per_unit: U256::from(s.price),
            verification: VerificationPolicy::Sampled { rate: p.verify_rate.max(1) },
        };
        let rc =
            RecipientConfig { ev, params_expiration_blocks: PARAMS_BLOCKS, ..RecipientConfig::default() };
        let mut oc = OrchestratorConfig::new(vec![cap], seg_cost_max * U256::from(3u8), rc);
        oc.capacity = s.capacity;
        let keys = RecipientKeys { address: key.address(), secret: seed32(p.seed, 0x80 ^ i as u8) };
        let o = ONode {
            m: Orchestrator::new(oc, keys, Timestamp::ZERO, seed32(p.seed, 0x40 ^ i as u8)),
            key,
            spec: s.clone(),
            kind: p.kind,
            broadcaster: bkey.address(),
            block: 0,
            work: BTreeMap::new(),
            out: VecDeque::new(),
            tampered: BTreeSet::new(),
            won: 0,
            errors: 0,
            stalled: false,
        };
        let id = sim.add_node(SimNode::O(Box::new(o)));
        sim.set_link(0, id, LinkConfig::constant(s.latency_ms));
        sim.set_link(id, 0, LinkConfig::constant(s.latency_ms));
        if let Failure::Crash(t) = s.failure {
            sim.schedule_crash(id, Timestamp::from_millis(t));
        }
    }
    let end = Timestamp::from_millis(2_000 + (p.segments + 30) * SEGMENT_MS);
    sim.run_until(end).map_err(|e| format!("{e} (seed {})", p.seed))?;
    Ok(report(p, &specs, &sim))
}

fn seed32(seed: u64, tag: u8) -> [u8; 32] {
    let mut s = [tag.max(1); 32];
    s[..8].copy_from_slice(&seed.to_be_bytes());
    s[8] = tag;
    s[31] = 1; // well below the curve order whatever the seed
    s[0] = (seed as u8) & 0x7f;
    s
}

fn report(p: &Params, specs: &[OrchSpec], sim: &Sim<SimNode>) -> Report {
    let SimNode::B(b) = sim.node(0) else { return Report::default() };
    if std::env::var_os("MARKET_TRACE").is_some() {
        let lost: Vec<Timestamp> = b
            .events
            .iter()
            .filter(|(_, e)| {
                matches!(e, BroadcasterEvent::SegmentFailed { .. } | BroadcasterEvent::Suspended { .. })
            })
            .map(|(t, _)| *t)
            .collect();
        for (t, e) in &b.events {
            if lost.iter().any(|l| l.as_millis().abs_diff(t.as_millis()) < 6_000) {
                eprintln!("{t:?} {e:?}");
            }
        }
        for (i, s) in specs.iter().enumerate() {
            eprintln!("peer {} {:?}", i + 1, s);
        }
    }
    let mut r =
        Report { segments: p.segments, per_orchestrator: vec![0; specs.len() + 1], ..Report::default() };
    let tampered: BTreeMap<u64, &BTreeSet<u64>> = (1..=specs.len())
        .filter_map(|i| match sim.node(i) {
            SimNode::O(o) => Some((i as u64, &o.tampered)),
            SimNode::B(_) => None,
        })
        .collect();
    let mut suspended: BTreeSet<u64> = BTreeSet::new();
    let mut accepted: BTreeMap<u64, u64> = BTreeMap::new();
    let mut paid: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    let mut cost = U256::zero();
    for (_, e) in &b.events {
        match e {
            BroadcasterEvent::Dispatched { peer, .. } if suspended.contains(peer) => r.failed_still_used += 1,
            BroadcasterEvent::Delivered { seq, peer, attempts, cost: c } => {
                r.delivered += 1;
                r.max_attempts = r.max_attempts.max(*attempts);
                accepted.insert(*seq, *peer);
                r.per_orchestrator[*peer as usize] += 1;
                cost = cost.saturating_add(*c);
                if tampered.get(peer).is_some_and(|t| t.contains(seq)) {
                    r.tampered_accepted += 1;
                }
            }
            BroadcasterEvent::Paid { seq, peer, tickets, .. } => {
                paid.entry(*seq).or_default().push(*peer);
                r.tickets += u64::from(*tickets);
            }
            BroadcasterEvent::Suspended { peer, .. } => {
                suspended.insert(*peer);
                r.suspended += 1;
                if specs[*peer as usize - 1].failure != Failure::None {
                    r.failures_hit += 1;
                }
            }
            BroadcasterEvent::SegmentFailed { .. } => r.lost += 1,
            _ => {}
        }
    }
    for (seq, peers) in &paid {
        if peers.len() > 1 {
            r.paid_twice += 1;
        }
        for peer in peers {
            let tampered_here = tampered.get(peer).is_some_and(|t| t.contains(seq));
            if accepted.get(seq) != Some(peer) || tampered_here {
                r.paid_for_failed += 1;
            }
        }
    }
    // The cheapest orchestrators able to keep up: never failing, with capacity, fast enough.
    let cheapest = specs
        .iter()
        .filter(|s| s.failure == Failure::None && s.capacity > 0 && s.keeps_up())
        .map(|s| s.price)
        .min()
        .unwrap_or(u64::MAX);
    let floor = U256::from(cheapest) * U256::from(units(p.kind)) * U256::from(r.delivered.max(1));
    r.cost_ratio = u256_to_f64(cost) / u256_to_f64(floor);
    r.winning_tickets = (1..=specs.len())
        .map(|i| match sim.node(i) {
            SimNode::O(o) => o.won,
            SimNode::B(_) => 0,
        })
        .sum();
    r
}
