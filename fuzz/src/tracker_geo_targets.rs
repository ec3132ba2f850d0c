//! Harnesses for the decoders and message handlers in `tracker-geo`.

use std::net::{IpAddr, Ipv4Addr};

use primitives::Timestamp;
use tracker_geo::protocol::{Report, WireCandidate};
use tracker_geo::{
    Asn, Client, ClientConfig, Endpoint, GeoPoint, Input, Message, Outcome, PeerId, StreamId, Tracker,
    TrackerConfig, TrackerService, Viewer,
};

/// A wire frame from an untrusted sender: decoding never panics, and an accepted frame
/// re-encodes to the same bytes.
pub fn message(data: &[u8]) {
    if let Ok(msg) = Message::decode(data) {
        assert_eq!(msg.encode_frame(), data, "frames are canonical");
        assert!(msg.wire_size() >= data.len());
    }
}

/// Splits `data` into length-prefixed chunks: `[sender, len, frame...]`.
fn frames(data: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    let mut rest = data;
    std::iter::from_fn(move || {
        let (&who, r) = rest.split_first()?;
        let (&len, r) = r.split_first()?;
        let n = usize::from(len).min(r.len());
        let (frame, r) = r.split_at(n);
        rest = r;
        Some((who, frame))
    })
}

/// A sequence of frames from untrusted viewers hitting the tracker service: never
/// panics, and the tracker's bookkeeping stays consistent.
pub fn tracker_service(data: &[u8]) {
    let tracker =
        Tracker::new(TrackerConfig { ttl_ms: 500, ..TrackerConfig::default() }).expect("valid config");
    let mut service = TrackerService::new(tracker, 8);
    let mut now = Timestamp(0);
    for (who, frame) in frames(data) {
        now = now + u64::from(who % 64);
        let Ok(msg) = Message::decode(frame) else { continue };
        let from = PeerId(u64::from(who % 16));
        let _ = service.handle(now, from, IpAddr::V4(Ipv4Addr::LOCALHOST), msg);
        if who % 7 == 0 {
            service.expire(now).expect("time moves forward");
        }
        let t = service.tracker();
        if let Some(next) = t.next_expiry() {
            assert!(!t.is_empty() && next > Timestamp(0));
        }
    }
}

/// A sequence of frames from untrusted peers, the tracker and the CDN hitting a player
/// client: never panics, and every output is a valid message.
pub fn client(data: &[u8]) {
    let viewer = Viewer {
        id: PeerId(1000),
        location: GeoPoint::new(10.0, 20.0).expect("valid"),
        asn: Asn(1),
        upload_kbps: 3000,
    };
    let cfg = ClientConfig { stream_start: Timestamp(0), ..ClientConfig::default() };
    let Ok(mut c) = Client::new(cfg, viewer, Timestamp(10_000), [7; 32]) else { return };
    let mut now = Timestamp(10_000);
    for (who, frame) in frames(data) {
        now = now + u64::from(who) * 10;
        let from = match who % 4 {
            0 => Endpoint::Tracker,
            1 => Endpoint::Cdn,
            _ => Endpoint::Peer(PeerId(u64::from(who / 4))),
        };
        let input = match Message::decode(frame) {
            Ok(msg) => Input::Message { from, msg },
            Err(_) => Input::Timeout,
        };
        let accepted = c.handle(now, input).is_ok();
        while let Some(out) = c.poll_output() {
            if let tracker_geo::Output::Send { msg, .. } = out {
                msg.validate().expect("the client only sends valid messages");
            }
        }
        // After an accepted input every due timer has been served.
        if accepted {
            assert!(c.poll_timeout().is_none_or(|t| t > now), "overdue timer after an accepted input");
        }
    }
}

/// Seeds: valid frames to mutate from, and short framed sequences.
pub fn seeds() -> Vec<Vec<u8>> {
    let msgs = [
        Message::Join {
            stream: StreamId(0),
            lat_e6: 10_000_000,
            lon_e6: 20_000_000,
            asn: Asn(1),
            upload_kbps: 2000,
        },
        Message::Heartbeat {
            reports: vec![Report { peer: PeerId(3), outcome: Outcome::Success { throughput_kbps: 5000 } }],
        },
        Message::GetPeers { k: 8 },
        Message::Peers {
            candidates: vec![WireCandidate {
                id: PeerId(2),
                ip: [0; 16],
                asn: Asn(1),
                upload_kbps: 1,
                distance_km: 5,
            }],
        },
        Message::Hello { newest: Some(12) },
        Message::Have { segment: 12 },
        Message::Request { segment: 12 },
        Message::Data { segment: 12, bytes: 125_000 },
        Message::Busy { segment: 12 },
        Message::Bye,
    ];
    let mut seeds: Vec<Vec<u8>> = msgs.iter().map(Message::encode_frame).collect();
    let mut framed = Vec::new();
    for (i, m) in msgs.iter().enumerate() {
        let f = m.encode_frame();
        framed.push(i as u8);
        framed.push(f.len() as u8);
        framed.extend_from_slice(&f);
    }
    seeds.push(framed);
    seeds
}
