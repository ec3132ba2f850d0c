//! Per-node and network-wide traffic statistics.

use core::ops::AddAssign;

/// Traffic counters of one node (or, summed, of the network).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeStats {
    /// Messages that left this node (one per destination, duplicates not counted).
    pub msgs_sent: u64,
    /// Bytes that left this node.
    pub bytes_sent: u64,
    /// Messages delivered to this node.
    pub msgs_received: u64,
    /// Bytes delivered to this node.
    pub bytes_received: u64,
    /// Messages from this node lost on a link.
    pub dropped_loss: u64,
    /// Messages from this node dropped by a partition.
    pub dropped_partition: u64,
    /// Messages to this node dropped because it was crashed at delivery time.
    pub dropped_crashed: u64,
    /// Extra copies of this node's messages created by link duplication.
    pub duplicated: u64,
    /// Timeouts delivered to this node.
    pub timeouts: u64,
}

impl NodeStats {
    /// Messages from this node that never arrived (loss and partitions).
    pub fn dropped(&self) -> u64 {
        self.dropped_loss + self.dropped_partition
    }
}

impl AddAssign<&NodeStats> for NodeStats {
    fn add_assign(&mut self, o: &NodeStats) {
        self.msgs_sent += o.msgs_sent;
        self.bytes_sent += o.bytes_sent;
        self.msgs_received += o.msgs_received;
        self.bytes_received += o.bytes_received;
        self.dropped_loss += o.dropped_loss;
        self.dropped_partition += o.dropped_partition;
        self.dropped_crashed += o.dropped_crashed;
        self.duplicated += o.duplicated;
        self.timeouts += o.timeouts;
    }
}

/// Network-wide totals: the sum of every node's [`NodeStats`] plus the event count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Summed node counters.
    pub nodes: NodeStats,
    /// Events processed so far (deliveries, timeouts, starts, schedule changes).
    pub events: u64,
}
