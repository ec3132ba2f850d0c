//! Harness for the decoder of untrusted bytes in `orchestration`: negotiation messages,
//! decoded and then fed to both negotiation machines (neither may panic).

use orchestration::job::{Capability, JobKind, VerificationPolicy};
use orchestration::negotiation::{
    AuthToken, Broadcaster, BroadcasterConfig, BroadcasterInput, JobRequest, Message, Orchestrator,
    OrchestratorConfig, OrchestratorInput, Payment, PriceInfo, ProtocolError, Refusal, SegmentRequest,
};
use pm_tickets::{RecipientConfig, RecipientKeys};
use primitives::{H256, Machine, SecretKey, Timestamp, U256};

fn kind() -> JobKind {
    JobKind::Compute { workload: "w".into() }
}

/// A message from untrusted bytes: decoding is canonical (re-encoding gives the input),
/// and both machines take it without panicking.
pub fn message(data: &[u8]) {
    let Ok(msg) = Message::decode(data) else { return };
    assert_eq!(msg.encode(), data, "messages are canonical");
    let now = Timestamp::from_millis(1_000);
    let Ok(key) = SecretKey::from_bytes([1; 32]) else { return };
    let config = BroadcasterConfig::new(1, kind(), PriceInfo::per_unit(U256::from(10u8)));
    let mut b = Broadcaster::new(config, key.clone(), now, [0; 32]);
    let _ = b.handle(now, BroadcasterInput::Chain { block: 10 });
    let _ = b.handle(now, BroadcasterInput::Discover(vec![(1, U256::one())]));
    let _ = b.handle(now, BroadcasterInput::Received { from: 1, msg: Box::new(msg.clone()) });
    while b.poll_output().is_some() {}
    let _ = b.poll_timeout();
    let cap =
        Capability { kind: kind(), price_per_unit: U256::one(), verification: VerificationPolicy::Trusted };
    let oc = OrchestratorConfig::new(vec![cap], U256::from(1_000u64), RecipientConfig::default());
    let keys = RecipientKeys { address: key.address(), secret: [2; 32] };
    let mut o = Orchestrator::new(oc, keys, now, [0; 32]);
    let _ = o.handle(
        now,
        OrchestratorInput::Chain { block: 10, round: 1, round_block_hash: H256::repeat_byte(1) },
    );
    let _ = o.handle(now, OrchestratorInput::Received { from: 1, msg: Box::new(msg) });
    while o.poll_output().is_some() {}
    let _ = o.poll_timeout();
}

/// Seeds: one valid encoding of each message shape.
pub fn seeds() -> Vec<Vec<u8>> {
    let token = AuthToken { token: H256::repeat_byte(9), session_id: 1, expires_at_ms: 60_000 };
    let Ok(key) = SecretKey::from_bytes([1; 32]) else { return Vec::new() };
    [
        Message::JobRequest(JobRequest {
            job: 1,
            kind: kind(),
            max_price: PriceInfo::per_unit(U256::from(3u8)),
            sender: key.address(),
        }),
        Message::Segment(Box::new(SegmentRequest {
            job: 1,
            token,
            seq: 2,
            kind: kind(),
            price: PriceInfo::per_unit(U256::one()),
            units: 10,
            payload: vec![1, 2, 3],
        })),
        Message::Payment(Payment { job: 1, seq: 2, batch: vec![1, 0, 0] }),
        Message::Refused(Refusal {
            job: 1,
            seq: Some(2),
            error: ProtocolError::SegmentFormatMismatch { expected: "a".into(), found: "b".into() },
        }),
        Message::EndSession { job: 1, token },
    ]
    .iter()
    .map(Message::encode)
    .collect()
}
