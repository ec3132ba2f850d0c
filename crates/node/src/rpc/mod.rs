//! The node's HTTP server: JSON-RPC 2.0 at `POST /` and Prometheus metrics at
//! `GET /metrics`, on axum (tokio's HTTP framework, on hyper).
//!
//! [`jsonrpc`] holds the envelopes and error codes; method sets implement
//! [`jsonrpc::Handler`]. Request bodies over [`MAX_BODY_BYTES`] are refused with HTTP 413
//! before they are read in full; every call is counted in [`crate::metrics::Metrics`].

pub mod jsonrpc;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::metrics::Metrics;
use jsonrpc::Handler;

/// Largest request body accepted: 2 MiB (a batch of large transactions).
pub const MAX_BODY_BYTES: usize = 2 << 20;

/// Counts calls per method before handing them on.
struct Counted<H> {
    inner: H,
    metrics: Arc<Metrics>,
}

impl<H: Handler> Handler for Counted<H> {
    fn call(&self, method: &str, params: &serde_json::Value) -> Result<serde_json::Value, jsonrpc::RpcError> {
        let result = self.inner.call(method, params);
        let label = match &result {
            Err(e) if e.code == -32601 => "unknown",
            _ => method,
        };
        self.metrics.count_rpc(label);
        result
    }
}

struct AppState<H> {
    handler: Counted<H>,
    metrics: Arc<Metrics>,
}

async fn rpc<H: Handler + Send + Sync + 'static>(
    State(state): State<Arc<AppState<H>>>,
    body: Bytes,
) -> Response {
    // Handlers may block briefly on the node's state; keep them off the reactor.
    let st = state.clone();
    let out = tokio::task::spawn_blocking(move || jsonrpc::dispatch(&st.handler, &body)).await;
    match out {
        Ok(Some(bytes)) => ([(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Ok(None) => StatusCode::NO_CONTENT.into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn metrics_text<H: Send + Sync + 'static>(State(state): State<Arc<AppState<H>>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
        state.metrics.encode(),
    )
        .into_response()
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    /// The bound address (the port is real when 0 was asked for).
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Binds `addr` and serves `handler` and `metrics` until the server is dropped.
    pub async fn start<H: Handler + Send + Sync + 'static>(
        addr: SocketAddr,
        handler: H,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<Self> {
        let state =
            Arc::new(AppState { handler: Counted { inner: handler, metrics: metrics.clone() }, metrics });
        let app = Router::new()
            .route("/", post(rpc::<H>))
            .route("/metrics", get(metrics_text::<H>))
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "RPC server stopped");
            }
        });
        Ok(Self { addr, task })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}
