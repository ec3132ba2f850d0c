//! The messages exchanged by viewers, the tracker and the CDN, and their wire codec.
//!
//! Frames are SCALE behind a version byte (DESIGN.md section 3), decoded with an explicit
//! size limit; a decoded message is also checked against the protocol's value limits
//! ([`Message::decode`]). Peer input is hostile: every failure is a typed [`Error`].

use std::net::{IpAddr, Ipv6Addr};

use parity_scale_codec::{Decode, Encode};
use primitives::codec::{decode_frame, encode_frame};

use crate::Error;
use crate::geo::GeoPoint;
use crate::tracker::{Asn, Candidate, Outcome, PeerId, StreamId};

/// Version byte of every frame.
pub const WIRE_VERSION: u8 = 1;
/// Largest frame [`Message::decode`] accepts, in bytes.
pub const MAX_FRAME: usize = 16 * 1024;
/// Most candidates one tracker reply may carry.
pub const MAX_CANDIDATES: usize = 256;
/// Most transfer reports one heartbeat may carry.
pub const MAX_REPORTS: usize = 512;

/// Who a message goes to or comes from, from a viewer's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Endpoint {
    /// The tracker.
    Tracker,
    /// The CDN edge serving the stream.
    Cdn,
    /// Another viewer.
    Peer(PeerId),
}

/// A viewer's report on one transfer from a peer, carried by heartbeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Report {
    /// The peer that served (or failed to serve).
    pub peer: PeerId,
    /// How it went.
    pub outcome: Outcome,
}

/// One candidate on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub struct WireCandidate {
    /// The peer.
    pub id: PeerId,
    /// Its address (IPv4 as IPv4-mapped IPv6).
    pub ip: [u8; 16],
    /// Its ISP.
    pub asn: Asn,
    /// Declared upload capacity, kbit/s.
    pub upload_kbps: u32,
    /// Great-circle distance to the viewer, km (rounded).
    pub distance_km: u32,
}

impl WireCandidate {
    /// The wire form of a tracker [`Candidate`].
    pub fn from_candidate(c: &Candidate) -> Self {
        WireCandidate {
            id: c.id,
            ip: ip_to_bytes(c.ip),
            asn: c.asn,
            upload_kbps: c.upload_kbps,
            distance_km: c.distance_km.round().clamp(0.0, u32::MAX as f32) as u32,
        }
    }

    /// The candidate's address.
    pub fn ip_addr(&self) -> IpAddr {
        let v6 = Ipv6Addr::from(self.ip);
        v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)
    }
}

/// An IP address as 16 bytes (IPv4 becomes IPv4-mapped IPv6).
pub fn ip_to_bytes(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// Every message of the mesh protocol.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Message {
    /// Viewer → tracker: register for a stream (the tracker takes the address from the
    /// transport). Answered with [`Message::Peers`].
    Join {
        /// The stream watched.
        stream: StreamId,
        /// Latitude in micro-degrees.
        lat_e6: i32,
        /// Longitude in micro-degrees.
        lon_e6: i32,
        /// The viewer's ISP.
        asn: Asn,
        /// Upload capacity offered, kbit/s.
        upload_kbps: u32,
    },
    /// Viewer → tracker: still here; with reports on transfers since the last heartbeat.
    Heartbeat {
        /// Transfer reports (at most [`MAX_REPORTS`]).
        reports: Vec<Report>,
    },
    /// Viewer → tracker: send me up to `k` fresh candidates.
    GetPeers {
        /// How many.
        k: u16,
    },
    /// Viewer → tracker: I am leaving.
    Leave,
    /// Tracker → viewer: ranked candidates, best first.
    Peers {
        /// At most [`MAX_CANDIDATES`].
        candidates: Vec<WireCandidate>,
    },
    /// Tracker → viewer: your registration expired; join again.
    Expired,
    /// Viewer → viewer: handshake, with the newest segment held.
    Hello {
        /// Newest segment the sender holds.
        newest: Option<u64>,
    },
    /// Viewer → viewer: handshake answer.
    HelloAck {
        /// Whether the sender took the requester as a neighbour.
        accepted: bool,
        /// Newest segment the sender holds.
        newest: Option<u64>,
    },
    /// Viewer → viewer: availability and round-trip test.
    Ping {
        /// Echoed in the pong.
        nonce: u64,
    },
    /// Viewer → viewer: answer to a ping.
    Pong {
        /// The ping's nonce.
        nonce: u64,
        /// Newest segment the sender holds.
        newest: Option<u64>,
    },
    /// Viewer → neighbours: I now hold this segment.
    Have {
        /// The segment number.
        segment: u64,
    },
    /// Viewer → viewer or CDN: send me this segment.
    Request {
        /// The segment number.
        segment: u64,
    },
    /// Viewer or CDN → viewer: a segment. `bytes` is the payload length; the payload
    /// itself travels with the frame in the host's transport.
    Data {
        /// The segment number.
        segment: u64,
        /// Payload length in bytes.
        bytes: u32,
    },
    /// Viewer → viewer: cannot serve this segment now (upload saturated or not held).
    Busy {
        /// The segment number.
        segment: u64,
    },
    /// Viewer → viewer: I drop you as a neighbour.
    Bye,
}

impl Message {
    /// The versioned SCALE frame.
    pub fn encode_frame(&self) -> Vec<u8> {
        encode_frame(WIRE_VERSION, self)
    }

    /// Decodes and checks a frame from an untrusted sender: at most [`MAX_FRAME`] bytes,
    /// version [`WIRE_VERSION`], no trailing bytes, lists within their limits and
    /// coordinates within range.
    pub fn decode(bytes: &[u8]) -> Result<Message, Error> {
        let msg: Message = decode_frame(bytes, WIRE_VERSION, MAX_FRAME)?;
        msg.validate()?;
        Ok(msg)
    }

    /// Checks the protocol's value limits.
    pub fn validate(&self) -> Result<(), Error> {
        match self {
            Message::Join { lat_e6, lon_e6, .. } => {
                join_location(*lat_e6, *lon_e6)?;
            }
            Message::Heartbeat { reports } if reports.len() > MAX_REPORTS => {
                return Err(Error::OutOfRange { field: "reports", value: reports.len() as u64 });
            }
            Message::GetPeers { k } if *k == 0 || usize::from(*k) > MAX_CANDIDATES => {
                return Err(Error::OutOfRange { field: "k", value: u64::from(*k) });
            }
            Message::Peers { candidates } if candidates.len() > MAX_CANDIDATES => {
                return Err(Error::OutOfRange { field: "candidates", value: candidates.len() as u64 });
            }
            _ => {}
        }
        Ok(())
    }

    /// Bytes this message occupies on the wire (payload included for [`Message::Data`]).
    pub fn wire_size(&self) -> usize {
        let frame = 1 + self.encoded_size();
        match self {
            Message::Data { bytes, .. } => frame + *bytes as usize,
            _ => frame,
        }
    }

    /// The message kind, for errors and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Message::Join { .. } => "Join",
            Message::Heartbeat { .. } => "Heartbeat",
            Message::GetPeers { .. } => "GetPeers",
            Message::Leave => "Leave",
            Message::Peers { .. } => "Peers",
            Message::Expired => "Expired",
            Message::Hello { .. } => "Hello",
            Message::HelloAck { .. } => "HelloAck",
            Message::Ping { .. } => "Ping",
            Message::Pong { .. } => "Pong",
            Message::Have { .. } => "Have",
            Message::Request { .. } => "Request",
            Message::Data { .. } => "Data",
            Message::Busy { .. } => "Busy",
            Message::Bye => "Bye",
        }
    }
}

/// Encodes a location in micro-degrees, as carried by [`Message::Join`].
pub fn location_e6(p: &GeoPoint) -> (i32, i32) {
    ((p.lat() * 1e6).round() as i32, (p.lon() * 1e6).round() as i32)
}

/// Decodes and validates a [`Message::Join`] location.
pub fn join_location(lat_e6: i32, lon_e6: i32) -> Result<GeoPoint, Error> {
    GeoPoint::new(f64::from(lat_e6) / 1e6, f64::from(lon_e6) / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn round_trip_and_limits() {
        let msgs = vec![
            Message::Join {
                stream: StreamId(3),
                lat_e6: 48_856_600,
                lon_e6: 2_352_200,
                asn: Asn(3215),
                upload_kbps: 4000,
            },
            Message::Heartbeat {
                reports: vec![Report { peer: PeerId(7), outcome: Outcome::Success { throughput_kbps: 900 } }],
            },
            Message::Peers { candidates: vec![] },
            Message::Data { segment: 9, bytes: 125_000 },
            Message::Bye,
        ];
        for m in msgs {
            assert_eq!(Message::decode(&m.encode_frame()).unwrap(), m);
        }
        assert_eq!(Message::Data { segment: 1, bytes: 1000 }.wire_size(), 1 + 1 + 8 + 4 + 1000);
        let bad =
            Message::Join { stream: StreamId(1), lat_e6: 91_000_000, lon_e6: 0, asn: Asn(1), upload_kbps: 1 };
        assert!(matches!(Message::decode(&bad.encode_frame()), Err(Error::InvalidLocation { .. })));
        assert!(matches!(
            Message::decode(&Message::GetPeers { k: 0 }.encode_frame()),
            Err(Error::OutOfRange { .. })
        ));
        let mut long = Message::Bye.encode_frame();
        long.push(0);
        assert!(matches!(Message::decode(&long), Err(Error::Decode(_))));
        assert!(Message::decode(&[]).is_err());
    }

    #[test]
    fn ipv4_survives_the_wire() {
        let ip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));
        let c = Candidate { id: PeerId(1), ip, asn: Asn(1), upload_kbps: 1, distance_km: 12.4, score: 1.0 };
        let w = WireCandidate::from_candidate(&c);
        assert_eq!(w.ip_addr(), ip);
        assert_eq!(w.distance_km, 12);
    }
}
