//! The tracker's side of the protocol: turns viewer messages into [`Tracker`] calls and
//! replies. A host (a server, or a simulator node) feeds it each message with the
//! sender's id and transport address, sends back the reply, and calls
//! [`TrackerService::expire`] when [`TrackerService::next_expiry`] comes.

use std::net::IpAddr;

use primitives::Timestamp;

use crate::Error;
use crate::protocol::{MAX_CANDIDATES, Message, WireCandidate, join_location};
use crate::tracker::{Candidate, PeerId, PeerInfo, Query, Tracker};

/// Wraps a [`Tracker`] with the message handling of the mesh protocol.
#[derive(Debug)]
pub struct TrackerService {
    tracker: Tracker,
    join_k: usize,
    scratch: Vec<Candidate>,
}

impl TrackerService {
    /// A service over `tracker`; a join is answered with `join_k` candidates.
    pub fn new(tracker: Tracker, join_k: usize) -> Self {
        TrackerService { tracker, join_k: join_k.clamp(1, MAX_CANDIDATES), scratch: Vec::new() }
    }

    /// The tracker.
    pub fn tracker(&self) -> &Tracker {
        &self.tracker
    }

    /// The tracker, mutably.
    pub fn tracker_mut(&mut self) -> &mut Tracker {
        &mut self.tracker
    }

    /// Handles one message from viewer `from` at transport address `ip`; returns the
    /// reply to send back, if any. Reports about unknown peers are ignored (the peer may
    /// have left since).
    pub fn handle(
        &mut self,
        now: Timestamp,
        from: PeerId,
        ip: IpAddr,
        msg: Message,
    ) -> Result<Option<Message>, Error> {
        msg.validate()?;
        match msg {
            Message::Join { stream, lat_e6, lon_e6, asn, upload_kbps } => {
                let location = join_location(lat_e6, lon_e6)?;
                self.tracker.join(now, PeerInfo { id: from, stream, location, ip, asn, upload_kbps })?;
                self.candidates(now, from, self.join_k).map(Some)
            }
            Message::Heartbeat { reports } => match self.tracker.heartbeat(now, from) {
                Ok(()) => {
                    for r in reports {
                        // The served peer may have left meanwhile: not an error.
                        let _ = self.tracker.report(r.peer, r.outcome);
                    }
                    Ok(None)
                }
                Err(Error::UnknownPeer(_)) => Ok(Some(Message::Expired)),
                Err(e) => Err(e),
            },
            Message::GetPeers { k } => {
                if !self.tracker.is_live(now, from) {
                    return Ok(Some(Message::Expired));
                }
                self.candidates(now, from, usize::from(k)).map(Some)
            }
            Message::Leave => {
                let _ = self.tracker.leave(from);
                Ok(None)
            }
            other => Err(Error::UnexpectedMessage { kind: other.kind(), from: format!("{from:?}") }),
        }
    }

    /// Reclaims expired peers; returns how many.
    pub fn expire(&mut self, now: Timestamp) -> Result<usize, Error> {
        let mut gone = Vec::new();
        self.tracker.expire_into(now, &mut gone)
    }

    /// When to call [`TrackerService::expire`] next.
    pub fn next_expiry(&self) -> Option<Timestamp> {
        self.tracker.next_expiry()
    }

    fn candidates(&mut self, now: Timestamp, from: PeerId, k: usize) -> Result<Message, Error> {
        let view = self.tracker.get(from).ok_or(Error::UnknownPeer(from))?;
        let query = Query {
            stream: view.info.stream,
            location: view.info.location,
            asn: Some(view.info.asn),
            k: k.min(self.tracker.config().max_k),
            exclude: Some(from),
        };
        self.tracker.query_into(now, &query, &mut self.scratch)?;
        Ok(Message::Peers { candidates: self.scratch.iter().map(WireCandidate::from_candidate).collect() })
    }
}
