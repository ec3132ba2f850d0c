//! Prometheus metrics in the text exposition format, served at `/metrics` on the RPC
//! server. Built on `prometheus-client` (the Prometheus project's own Rust client).

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// The label of the per-method RPC counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabel {
    /// The JSON-RPC method (unknown methods are counted as `unknown`).
    pub method: String,
}

/// Every metric the node exports. Cheap to update from any thread.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Height of the latest settled block.
    pub settled_height: Gauge<u64, AtomicU64>,
    /// Height of the latest finalized checkpoint.
    pub finalized_height: Gauge<u64, AtomicU64>,
    /// Transactions executed in settled blocks.
    pub txs_executed: Counter,
    /// Transactions waiting in the mempool.
    pub mempool_size: Gauge<u64, AtomicU64>,
    /// Connected peers.
    pub peers: Gauge<u64, AtomicU64>,
    /// The consensus epoch.
    pub epoch: Gauge<u64, AtomicU64>,
    /// RPC requests by method.
    pub rpc_requests: Family<MethodLabel, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh set of metrics, registered under the `meshcast` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("meshcast");
        let m = Self {
            settled_height: Gauge::default(),
            finalized_height: Gauge::default(),
            txs_executed: Counter::default(),
            mempool_size: Gauge::default(),
            peers: Gauge::default(),
            epoch: Gauge::default(),
            rpc_requests: Family::default(),
            registry: Registry::default(),
        };
        registry.register("settled_height", "Height of the latest settled block", m.settled_height.clone());
        registry.register(
            "finalized_height",
            "Height of the latest finalized checkpoint",
            m.finalized_height.clone(),
        );
        registry.register(
            "transactions_executed",
            "Transactions executed in settled blocks",
            m.txs_executed.clone(),
        );
        registry.register("mempool_size", "Transactions waiting in the mempool", m.mempool_size.clone());
        registry.register("peers", "Connected peers", m.peers.clone());
        registry.register("consensus_epoch", "The consensus epoch", m.epoch.clone());
        registry.register("rpc_requests", "JSON-RPC requests by method", m.rpc_requests.clone());
        Self { registry, ..m }
    }

    /// Counts one RPC request for `method`.
    pub fn count_rpc(&self, method: &str) {
        self.rpc_requests.get_or_create(&MethodLabel { method: method.to_owned() }).inc();
    }

    /// The metrics in the Prometheus text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_format_has_every_metric() {
        let m = Metrics::new();
        m.settled_height.set(12);
        m.finalized_height.set(10);
        m.txs_executed.inc_by(3);
        m.count_rpc("eth_chainId");
        m.count_rpc("eth_chainId");
        let text = m.encode();
        assert!(text.contains("meshcast_settled_height 12"), "{text}");
        assert!(text.contains("meshcast_finalized_height 10"));
        assert!(text.contains("meshcast_transactions_executed_total 3"));
        assert!(text.contains("meshcast_rpc_requests_total{method=\"eth_chainId\"} 2"));
        for name in ["mempool_size", "peers", "consensus_epoch"] {
            assert!(text.contains(&format!("meshcast_{name}")), "{name}");
        }
        assert!(text.ends_with("# EOF\n"));
    }
}
