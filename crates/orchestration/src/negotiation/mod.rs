//! Off-chain negotiation between a broadcaster and orchestrators (Livepeer Streamflow,
//! "off-chain negotiation"; DESIGN.md sections 2 and 4.6).
//!
//! # Flow
//!
//! 1. The broadcaster's host feeds [`BroadcasterInput::Discover`] with registry peers and
//!    their stake; the machine sends each a [`JobRequest`] and collects
//!    [`OrchestratorInfo`] (price, ticket params, capabilities, a session token with an
//!    expiry) and each one's response time, until `discovery_timeout_ms`.
//! 2. The orchestrator checks the job kind, its capacity, the broadcaster's maximum price
//!    and the sender's funds (its max float covers `min_float`, no unlock in progress)
//!    before it quotes ticket params ([`ProtocolError`] otherwise).
//! 3. Per segment, the broadcaster selects ([`crate::selection`], sticky while the
//!    orchestrator keeps up) and sends a [`SegmentRequest`] with the agreed price and
//!    token; the orchestrator re-checks token, format, price, funds and its credit before
//!    it asks its host for the work ([`OrchestratorOutput::Work`]), then answers with a
//!    [`SegmentResult`] carrying fresh ticket params.
//! 4. The broadcaster asks its host to verify the result
//!    ([`BroadcasterOutput::Verify`]: cheap checks always, the full check on a secret
//!    1-in-`verify_rate` sample); on a pass it pays with pm-tickets
//!    ([`Payment`], whose params and funds the sender re-checks on every batch); on a
//!    failure, a timeout or a refusal it suspends the orchestrator for the stream and
//!    sends the segment elsewhere, at most `max_attempts` times in all.
//! 5. A suspension re-probes every orchestrator not suspended; retries wait for the
//!    answers (at most `discovery_timeout_ms`) and those that stay silent are not used
//!    until they answer, so a retry goes to one that just proved alive.
//!
//! # Payment in arrears **[beyond]**
//!
//! go-livepeer pays with the segment, so a broadcaster pays for segments that fail. Here
//! tickets follow an accepted result; the orchestrator extends `credit_limit` of unpaid
//! work per session and refuses segments beyond it (`PaymentRequired`), so its exposure
//! is bounded by one or two segments' price while the broadcaster never pays for failed,
//! timed-out or rejected work.
//!
//! # Encoding
//!
//! [`Message::encode`] / [`Message::decode`]: a version byte then SCALE, at most
//! [`MAX_MESSAGE_BYTES`], with the field limits of [`Message::validate`]; ticket batches
//! travel as pm-tickets frames decoded with their own limits.

mod broadcaster;
mod error;
mod message;
mod orchestrator;

pub use broadcaster::{
    Broadcaster, BroadcasterConfig, BroadcasterEvent, BroadcasterInput, BroadcasterOutput, SuspendReason,
    VerifyRequest,
};
pub use error::{Error, ProtocolError};
pub use message::{
    AuthToken, JobRequest, MAX_CAPABILITIES, MAX_MESSAGE_BYTES, MAX_NAME_BYTES, MAX_PAYLOAD_BYTES,
    MAX_REASON_BYTES, MAX_RENDITIONS, MESSAGE_VERSION, Message, OrchestratorInfo, Payment, PriceInfo,
    Refusal, SegmentRequest, SegmentResult,
};
pub use orchestrator::{
    Orchestrator, OrchestratorConfig, OrchestratorEvent, OrchestratorInput, OrchestratorOutput, WorkRequest,
};

/// The host's id for a peer (an index into its peer table, a connection id). The
/// machines never interpret it.
pub type PeerId = u64;
