//! The negotiation messages between a broadcaster and an orchestrator, after go-livepeer's
//! `net/lp_rpc.proto` (`OrchestratorInfo`, `TicketParams`, `PriceInfo`, `AuthToken`), and
//! their bounded codec: one version byte then SCALE ([`Message::encode`],
//! [`Message::decode`]), at most [`MAX_MESSAGE_BYTES`], with the semantic limits of
//! [`Message::validate`] checked on every decode.

use parity_scale_codec::{Decode, Encode};
use pm_tickets::{Price, TicketParams};
use primitives::codec::{decode_frame, encode_frame};
use primitives::{Address, H256, U256};
use transcode_verify::{ClaimPrice, TranscodeClaim};

use super::error::{Error, ProtocolError};
use crate::job::{Capability, JobKind};

/// Version byte of message frames.
pub const MESSAGE_VERSION: u8 = 1;
/// Largest encoded message accepted: a segment payload or result of at most
/// [`MAX_PAYLOAD_BYTES`] plus headroom for the fixed fields.
pub const MAX_MESSAGE_BYTES: usize = MAX_PAYLOAD_BYTES + 64 * 1024;
/// Largest segment payload or result output.
pub const MAX_PAYLOAD_BYTES: usize = 4 * 1024 * 1024;
/// Most capabilities one `OrchestratorInfo` may list.
pub const MAX_CAPABILITIES: usize = 64;
/// Longest profile or workload name.
pub const MAX_NAME_BYTES: usize = 128;
/// Longest error text carried in a refusal.
pub const MAX_REASON_BYTES: usize = 512;
/// Most renditions a transcode claim may carry.
pub const MAX_RENDITIONS: usize = 16;

/// A price as go-livepeer's `PriceInfo` states it: `price_per_unit` wei for every
/// `units` units of work (pixels for transcoding).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Encode, Decode)]
pub struct PriceInfo {
    /// Wei per `units` units.
    pub price_per_unit: U256,
    /// Units the price is for; never zero.
    pub units: U256,
}

impl PriceInfo {
    /// `price_per_unit` wei per `units` units; `units` must be non-zero.
    pub fn new(price_per_unit: U256, units: U256) -> Result<Self, Error> {
        if units.is_zero() {
            return Err(Error::InvalidMessage { reason: "price for zero units" });
        }
        Ok(PriceInfo { price_per_unit, units })
    }

    /// `wei` per one unit.
    pub fn per_unit(wei: U256) -> Self {
        PriceInfo { price_per_unit: wei, units: U256::one() }
    }

    /// The cost of `units` units, rounded up (the orchestrator is never underpaid), or
    /// `None` on overflow or a zero `units` field.
    pub fn cost(&self, units: u64) -> Option<U256> {
        if self.units.is_zero() {
            return None;
        }
        let total = self.price_per_unit.checked_mul(U256::from(units))?;
        let (q, r) = total.div_mod(self.units);
        if r.is_zero() { Some(q) } else { q.checked_add(U256::one()) }
    }

    /// Whether this price is at most `max` (exact, by cross-multiplying in 512 bits).
    pub fn at_most(&self, max: &PriceInfo) -> bool {
        self.price_per_unit.full_mul(max.units) <= max.price_per_unit.full_mul(self.units)
    }

    /// The price per unit as a float, for scoring only (never for payment).
    pub fn as_f64(&self) -> f64 {
        crate::selection::u256_to_f64(self.price_per_unit)
            / crate::selection::u256_to_f64(self.units).max(1.0)
    }

    /// As the pm-tickets price the recipient quotes at.
    pub fn to_ticket_price(&self) -> Result<Price, Error> {
        Ok(Price::new(self.price_per_unit, self.units)?)
    }

    /// As the price a transcode claim states.
    pub fn to_claim_price(&self) -> ClaimPrice {
        ClaimPrice { price_per_unit: self.price_per_unit, pixels_per_unit: self.units }
    }
}

/// A session token (go-livepeer `AuthToken`): issued with an `OrchestratorInfo`, sent
/// back with every segment, refused after `expires_at_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Encode, Decode)]
pub struct AuthToken {
    /// Unguessable token bytes.
    pub token: H256,
    /// The orchestrator's session id.
    pub session_id: u64,
    /// Expiry, in the orchestrator's host milliseconds.
    pub expires_at_ms: u64,
}

/// Broadcaster → orchestrator: "I have a job of this kind, at most this price".
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct JobRequest {
    /// The broadcaster's job (stream) id.
    pub job: u64,
    /// What is to be done.
    pub kind: JobKind,
    /// The most the broadcaster pays.
    pub max_price: PriceInfo,
    /// The paying address (the ticket sender).
    pub sender: Address,
}

/// Orchestrator → broadcaster: its offer (go-livepeer `OrchestratorInfo`).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct OrchestratorInfo {
    /// The job this answers.
    pub job: u64,
    /// The orchestrator's address (ticket recipient, claim signer).
    pub orchestrator: Address,
    /// Its price for the job's kind.
    pub price: PriceInfo,
    /// Ticket params to pay with.
    pub ticket_params: TicketParams,
    /// Everything it sells.
    pub capabilities: Vec<Capability>,
    /// The session token.
    pub token: AuthToken,
    /// Session slots still free after this one.
    pub free_capacity: u32,
}

/// Broadcaster → orchestrator: one unit of the job (a video segment, a compute task).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct SegmentRequest {
    /// The job.
    pub job: u64,
    /// The session token from the orchestrator's info.
    pub token: AuthToken,
    /// Sequence number within the job.
    pub seq: u64,
    /// The segment's format: must be the session's job kind.
    pub kind: JobKind,
    /// The price the broadcaster agreed to (the orchestrator refuses if it changed).
    pub price: PriceInfo,
    /// Units of work (output pixels, compute units).
    pub units: u64,
    /// The input bytes.
    pub payload: Vec<u8>,
}

/// Orchestrator → broadcaster: the work done, with fresh ticket params.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct SegmentResult {
    /// The job.
    pub job: u64,
    /// The segment.
    pub seq: u64,
    /// Units of work done.
    pub units: u64,
    /// The output bytes.
    pub output: Vec<u8>,
    /// For transcoding: the orchestrator's signed claim over the renditions.
    pub claim: Option<TranscodeClaim>,
    /// Params for the next payment (refreshed with each response).
    pub ticket_params: TicketParams,
}

/// Broadcaster → orchestrator: tickets paying for a delivered, accepted segment.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Payment {
    /// The job.
    pub job: u64,
    /// The segment paid for.
    pub seq: u64,
    /// A pm-tickets `TicketBatch` frame ([`pm_tickets::TicketBatch::encode`]), decoded by
    /// the orchestrator with its own limits.
    pub batch: Vec<u8>,
}

/// Orchestrator → broadcaster: a refused request or segment.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Refusal {
    /// The job.
    pub job: u64,
    /// The segment refused; `None` for the job request.
    pub seq: Option<u64>,
    /// Why.
    pub error: ProtocolError,
}

/// Every message of the protocol.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Message {
    /// Job request (broadcaster → orchestrator).
    JobRequest(JobRequest),
    /// Offer (orchestrator → broadcaster).
    Info(Box<OrchestratorInfo>),
    /// Segment with its agreed price (broadcaster → orchestrator).
    Segment(Box<SegmentRequest>),
    /// Result (orchestrator → broadcaster).
    Result(Box<SegmentResult>),
    /// Tickets for an accepted segment (broadcaster → orchestrator).
    Payment(Payment),
    /// Refusal (orchestrator → broadcaster).
    Refused(Refusal),
    /// The broadcaster closes its session (frees the slot).
    EndSession {
        /// The job.
        job: u64,
        /// The session's token.
        token: AuthToken,
    },
}

impl Message {
    /// The versioned SCALE frame.
    pub fn encode(&self) -> Vec<u8> {
        encode_frame(MESSAGE_VERSION, self)
    }

    /// Decodes a frame from untrusted bytes: at most [`MAX_MESSAGE_BYTES`], the right
    /// version, nothing trailing, then [`Message::validate`].
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        let msg: Message = decode_frame(bytes, MESSAGE_VERSION, MAX_MESSAGE_BYTES)?;
        msg.validate()?;
        Ok(msg)
    }

    /// The semantic limits: names at most [`MAX_NAME_BYTES`], prices for non-zero units,
    /// at most [`MAX_CAPABILITIES`] capabilities, payloads at most [`MAX_PAYLOAD_BYTES`],
    /// reasons at most [`MAX_REASON_BYTES`], at most [`MAX_RENDITIONS`] claimed
    /// renditions, valid verification policies.
    pub fn validate(&self) -> Result<(), Error> {
        let name_ok = |k: &JobKind| k.name().len() <= MAX_NAME_BYTES;
        let price_ok = |p: &PriceInfo| !p.units.is_zero();
        let bad = |reason| Err(Error::InvalidMessage { reason });
        match self {
            Message::JobRequest(r) => {
                if !name_ok(&r.kind) {
                    return bad("job kind name too long");
                }
                if !price_ok(&r.max_price) {
                    return bad("price for zero units");
                }
            }
            Message::Info(i) => {
                if !price_ok(&i.price) {
                    return bad("price for zero units");
                }
                if i.capabilities.len() > MAX_CAPABILITIES {
                    return bad("too many capabilities");
                }
                if i.capabilities.iter().any(|c| !name_ok(&c.kind) || !c.verification.is_valid()) {
                    return bad("bad capability");
                }
            }
            Message::Segment(s) => {
                if !name_ok(&s.kind) {
                    return bad("job kind name too long");
                }
                if !price_ok(&s.price) {
                    return bad("price for zero units");
                }
                if s.payload.len() > MAX_PAYLOAD_BYTES {
                    return bad("payload too large");
                }
            }
            Message::Result(r) => {
                if r.output.len() > MAX_PAYLOAD_BYTES {
                    return bad("output too large");
                }
                if let Some(c) = &r.claim {
                    if c.renditions.len() > MAX_RENDITIONS {
                        return bad("too many renditions");
                    }
                    if c.renditions.iter().any(|x| x.profile.len() > MAX_NAME_BYTES) {
                        return bad("profile name too long");
                    }
                }
            }
            Message::Payment(p) => {
                if p.batch.len() > pm_tickets::codec::MAX_BATCH_BYTES {
                    return bad("ticket batch too large");
                }
            }
            Message::Refused(r) => {
                let text = match &r.error {
                    ProtocolError::SegmentFormatMismatch { expected, found } => expected.len() + found.len(),
                    ProtocolError::Unsupported { kind } => kind.len(),
                    ProtocolError::PaymentRefused { reason } | ProtocolError::WorkFailed { reason } => {
                        reason.len()
                    }
                    _ => 0,
                };
                if text > MAX_REASON_BYTES {
                    return bad("reason too long");
                }
            }
            Message::EndSession { .. } => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pm_tickets::TicketExpirationParams;

    fn params() -> TicketParams {
        TicketParams {
            recipient: Address::repeat_byte(2),
            face_value: U256::from(1_000u64),
            win_prob: U256::MAX / 10,
            recipient_rand_hash: H256::repeat_byte(3),
            seed: H256::repeat_byte(4),
            expiration_block: 15,
            price: Price { num: U256::one(), den: U256::one() },
            expiration_params: TicketExpirationParams {
                creation_round: 1,
                creation_round_block_hash: H256::repeat_byte(5),
            },
        }
    }

    #[test]
    fn every_message_round_trips() {
        let token = AuthToken { token: H256::repeat_byte(9), session_id: 4, expires_at_ms: 60_000 };
        let kind = JobKind::Compute { workload: "w".into() };
        let msgs = vec![
            Message::JobRequest(JobRequest {
                job: 1,
                kind: kind.clone(),
                max_price: PriceInfo::per_unit(U256::from(3u8)),
                sender: Address::repeat_byte(1),
            }),
            Message::Info(Box::new(OrchestratorInfo {
                job: 1,
                orchestrator: Address::repeat_byte(2),
                price: PriceInfo::per_unit(U256::from(2u8)),
                ticket_params: params(),
                capabilities: vec![],
                token,
                free_capacity: 3,
            })),
            Message::Segment(Box::new(SegmentRequest {
                job: 1,
                token,
                seq: 7,
                kind,
                price: PriceInfo::per_unit(U256::from(2u8)),
                units: 10,
                payload: vec![1, 2, 3],
            })),
            Message::Result(Box::new(SegmentResult {
                job: 1,
                seq: 7,
                units: 10,
                output: vec![4],
                claim: None,
                ticket_params: params(),
            })),
            Message::Payment(Payment { job: 1, seq: 7, batch: vec![1] }),
            Message::Refused(Refusal {
                job: 1,
                seq: Some(7),
                error: ProtocolError::CapacityFull { sessions: 2, capacity: 2 },
            }),
            Message::EndSession { job: 1, token },
        ];
        for m in msgs {
            assert_eq!(Message::decode(&m.encode()), Ok(m));
        }
    }

    #[test]
    fn decoder_enforces_limits() {
        let m = Message::Payment(Payment { job: 1, seq: 1, batch: vec![0; 10] });
        let mut bytes = m.encode();
        assert!(matches!(Message::decode(&bytes[..bytes.len() - 1]), Err(Error::Decode(_))));
        bytes.push(0);
        assert!(matches!(Message::decode(&bytes), Err(Error::Decode(_))));
        let mut v = m.encode();
        v[0] = MESSAGE_VERSION + 1;
        assert!(matches!(Message::decode(&v), Err(Error::Decode(_))));
        assert!(matches!(
            Message::decode(&vec![MESSAGE_VERSION; MAX_MESSAGE_BYTES + 1]),
            Err(Error::Decode(_))
        ));
        assert!(Message::decode(&[]).is_err());
        let zero_units = Message::JobRequest(JobRequest {
            job: 1,
            kind: JobKind::Compute { workload: "w".into() },
            max_price: PriceInfo { price_per_unit: U256::one(), units: U256::zero() },
            sender: Address::zero(),
        });
        assert_eq!(
            Message::decode(&zero_units.encode()),
            Err(Error::InvalidMessage { reason: "price for zero units" })
        );
        let long = Message::JobRequest(JobRequest {
            job: 1,
            kind: JobKind::Compute { workload: "x".repeat(MAX_NAME_BYTES + 1) },
            max_price: PriceInfo::per_unit(U256::one()),
            sender: Address::zero(),
        });
        assert!(matches!(Message::decode(&long.encode()), Err(Error::InvalidMessage { .. })));
        // A length prefix claiming more bytes than the frame holds fails, it does not allocate.
        let mut huge = vec![MESSAGE_VERSION, 4]; // Payment
        huge.extend_from_slice(&1u64.to_le_bytes());
        huge.extend_from_slice(&1u64.to_le_bytes());
        huge.extend_from_slice(&[0xfe, 0xff, 0xff, 0xff]); // compact length 2^30 - 1
        assert!(matches!(Message::decode(&huge), Err(Error::Decode(_))));
    }

    #[test]
    fn prices_round_up_and_compare_exactly() {
        let p = PriceInfo::new(U256::from(10u8), U256::from(3u8)).unwrap();
        assert_eq!(p.cost(3), Some(U256::from(10u8)));
        assert_eq!(p.cost(4), Some(U256::from(14u8))); // 13.33 rounded up
        assert_eq!(PriceInfo::per_unit(U256::MAX).cost(2), None);
        assert!(PriceInfo::new(U256::one(), U256::zero()).is_err());
        let a = PriceInfo::new(U256::from(2u8), U256::from(3u8)).unwrap();
        let b = PriceInfo::new(U256::from(4u8), U256::from(6u8)).unwrap();
        assert!(a.at_most(&b) && b.at_most(&a));
        assert!(!PriceInfo::per_unit(U256::from(2u8)).at_most(&a));
        assert!(PriceInfo::per_unit(U256::MAX).at_most(&PriceInfo::per_unit(U256::MAX)));
    }
}
