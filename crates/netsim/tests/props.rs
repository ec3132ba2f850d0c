//! Property tests: message accounting is conserved, and runs are functions of the seed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use netsim::{Dest, Latency, LinkConfig, Node, NodeInput, Outgoing, Sim, SimConfig};
use primitives::Timestamp;
use proptest::prelude::*;

/// Every node sends `count` numbered messages to everyone, one per `interval` ms.
struct Chatty {
    left: u32,
    interval: u64,
    next: Option<Timestamp>,
    got: u64,
    out: Option<Outgoing<Vec<u8>>>,
}

impl Node for Chatty {
    type Msg = Vec<u8>;
    fn handle(&mut self, now: Timestamp, input: NodeInput<Vec<u8>>) {
        match input {
            NodeInput::Start => self.next = (self.left > 0).then_some(now),
            NodeInput::Timeout => {
                self.left -= 1;
                self.out = Some(Outgoing { to: Dest::All, msg: vec![0; self.left as usize % 7 + 1] });
                self.next = (self.left > 0).then(|| now + self.interval);
            }
            NodeInput::Message { .. } => self.got += 1,
        }
    }
    fn poll_send(&mut self) -> Option<Outgoing<Vec<u8>>> {
        self.out.take()
    }
    fn poll_timeout(&self) -> Option<Timestamp> {
        self.next
    }
}

fn link() -> impl Strategy<Value = LinkConfig> {
    (0u64..100, 0u64..20, 0.0f64..0.5, 0.0f64..0.3, 0.0f64..0.3).prop_map(
        |(lat, jitter, loss, dup, reorder)| LinkConfig {
            latency: Latency::Uniform { min_ms: lat, max_ms: lat * 2 },
            jitter_ms: jitter,
            loss,
            duplicate: dup,
            reorder,
            reorder_delay_ms: 40,
        },
    )
}

fn run(seed: u64, link: LinkConfig, n: usize, crash: bool) -> Sim<Chatty> {
    let mut sim = Sim::new(SimConfig { seed, default_link: link, max_steps: 1_000_000 });
    for _ in 0..n {
        sim.add_node(Chatty { left: 10, interval: 5, next: None, got: 0, out: None });
    }
    sim.schedule_partition(Timestamp(10), Timestamp(30), vec![(0..n / 2).collect()]);
    if crash {
        sim.schedule_crash(n - 1, Timestamp(20));
    }
    sim.run_until(Timestamp::from_secs(10)).unwrap();
    sim
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Every message sent is received, lost, cut by a partition or dropped at a crashed
    /// node, and duplication adds exactly one extra copy.
    #[test]
    fn message_accounting_is_conserved(seed in any::<u64>(), link in link(), n in 2usize..8, crash in any::<bool>()) {
        let sim = run(seed, link, n, crash);
        let t = sim.totals().nodes;
        prop_assert_eq!(
            t.msgs_received + t.dropped_crashed,
            t.msgs_sent - t.dropped_loss - t.dropped_partition + t.duplicated
        );
        let received: u64 = sim.nodes().iter().map(|c| c.got).sum();
        prop_assert_eq!(received, t.msgs_received);
    }

    /// A run is a function of its seed.
    #[test]
    fn runs_are_reproducible(seed in any::<u64>(), link in link()) {
        let a = run(seed, link.clone(), 5, true);
        let b = run(seed, link, 5, true);
        prop_assert_eq!(a.trace_hash(), b.trace_hash());
        prop_assert_eq!(a.totals(), b.totals());
    }
}
