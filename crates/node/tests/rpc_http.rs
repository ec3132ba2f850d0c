//! The HTTP server over a real socket: JSON-RPC calls, typed errors, the body limit and
//! `/metrics`, spoken to with a hand-rolled HTTP/1.1 client (no client library needed).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use meshcast_node::metrics::Metrics;
use meshcast_node::rpc::jsonrpc::{Handler, RpcError, param};
use meshcast_node::rpc::{MAX_BODY_BYTES, Server};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Adder;
impl Handler for Adder {
    fn call(&self, method: &str, params: &Value) -> Result<Value, RpcError> {
        match method {
            "add" => {
                let a = param(params, 0, "a")?
                    .as_u64()
                    .ok_or_else(|| RpcError::invalid_params("a: not a number"))?;
                let b = param(params, 1, "b")?
                    .as_u64()
                    .ok_or_else(|| RpcError::invalid_params("b: not a number"))?;
                Ok(json!(a + b))
            }
            m => Err(RpcError::method_not_found(m)),
        }
    }
}

async fn http(addr: std::net::SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    // A peer may stop reading once it has refused the body; ignore the write error then.
    let _ = s.write_all(body).await;
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    (status, body)
}

#[tokio::test]
async fn rpc_and_metrics_over_http() {
    let metrics = Arc::new(Metrics::new());
    let server = Server::start("127.0.0.1:0".parse().unwrap(), Adder, metrics.clone()).await.unwrap();
    let (status, body) =
        http(server.addr, "POST", "/", br#"{"jsonrpc":"2.0","id":1,"method":"add","params":[2,3]}"#).await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["result"], json!(5));

    let (_, body) =
        http(server.addr, "POST", "/", br#"{"jsonrpc":"2.0","id":2,"method":"add","params":[2]}"#).await;
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["error"]["code"], json!(-32602));
    let (_, body) = http(server.addr, "POST", "/", br#"{"jsonrpc":"2.0","id":3,"method":"sub"}"#).await;
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["error"]["code"], json!(-32601));
    let (_, body) = http(server.addr, "POST", "/", b"\xff\xfe garbage").await;
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["error"]["code"], json!(-32700));

    let huge = vec![b' '; MAX_BODY_BYTES + 1];
    let (status, _) = http(server.addr, "POST", "/", &huge).await;
    assert_eq!(status, 413, "an oversized body is refused");

    let (status, text) = http(server.addr, "GET", "/metrics", b"").await;
    assert_eq!(status, 200);
    assert!(text.contains("meshcast_rpc_requests_total{method=\"add\"} 2"), "{text}");
    assert!(text.contains("meshcast_rpc_requests_total{method=\"unknown\"} 1"), "{text}");
}
