//! JSON-RPC 2.0 envelopes: parsing (single and batch), dispatch to a [`Handler`], and
//! the standard error codes. Transport-free: the HTTP server hands it the body bytes.
//!
//! Every malformed input gets the error the specification names, never a panic:
//! `-32700` for bytes that are not JSON, `-32600` for JSON that is not a request (or an
//! empty or oversized batch), `-32601` for an unknown method, `-32602` for bad
//! parameters (with a message saying which), `-32603` for an internal failure, and
//! `-32000`…`-32099` for application errors (a refused transaction, an unknown block).

use serde_json::{Map, Value, json};

/// Most requests one batch may hold.
pub const MAX_BATCH: usize = 100;

/// A JSON-RPC error object.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("JSON-RPC error {code}: {message}")]
pub struct RpcError {
    /// The error code.
    pub code: i64,
    /// A human-readable message.
    pub message: String,
    /// Optional structured detail.
    pub data: Option<Value>,
}

impl RpcError {
    /// `-32700`: the body is not JSON.
    pub fn parse_error(detail: impl std::fmt::Display) -> Self {
        Self { code: -32700, message: format!("parse error: {detail}"), data: None }
    }
    /// `-32600`: the JSON is not a valid request.
    pub fn invalid_request(detail: impl std::fmt::Display) -> Self {
        Self { code: -32600, message: format!("invalid request: {detail}"), data: None }
    }
    /// `-32601`: no such method.
    pub fn method_not_found(method: &str) -> Self {
        Self { code: -32601, message: format!("method not found: {method}"), data: None }
    }
    /// `-32602`: bad parameters.
    pub fn invalid_params(detail: impl std::fmt::Display) -> Self {
        Self { code: -32602, message: format!("invalid params: {detail}"), data: None }
    }
    /// `-32603`: the node failed internally.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Self { code: -32603, message: format!("internal error: {detail}"), data: None }
    }
    /// An application error (`-32000`…`-32099`).
    pub fn server(code: i64, message: impl Into<String>) -> Self {
        let code = code.clamp(-32099, -32000);
        Self { code, message: message.into(), data: None }
    }
    /// Attaches structured detail.
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }

    fn to_json(&self) -> Value {
        let mut e = Map::new();
        e.insert("code".into(), json!(self.code));
        e.insert("message".into(), json!(self.message));
        if let Some(d) = &self.data {
            e.insert("data".into(), d.clone());
        }
        Value::Object(e)
    }
}

/// Answers method calls. `params` is the request's `params` (absent becomes `[]`).
pub trait Handler {
    /// Runs `method`; an unknown method is [`RpcError::method_not_found`].
    fn call(&self, method: &str, params: &Value) -> Result<Value, RpcError>;
}

fn response(id: Value, result: Result<Value, RpcError>) -> Value {
    match result {
        Ok(r) => json!({"jsonrpc": "2.0", "id": id, "result": r}),
        Err(e) => json!({"jsonrpc": "2.0", "id": id, "error": e.to_json()}),
    }
}

/// Checks one request object and runs it. `None` for a notification (no `id`).
fn one(handler: &dyn Handler, req: &Value) -> Option<Value> {
    let Some(obj) = req.as_object() else {
        return Some(response(Value::Null, Err(RpcError::invalid_request("not an object"))));
    };
    // An id must be a string, a number or null; anything else is answered with null.
    let id = match obj.get("id") {
        None => None,
        Some(v @ (Value::String(_) | Value::Number(_) | Value::Null)) => Some(v.clone()),
        Some(_) => {
            return Some(response(
                Value::Null,
                Err(RpcError::invalid_request("id must be a string, number or null")),
            ));
        }
    };
    let reply_id = id.clone().unwrap_or(Value::Null);
    if obj.get("jsonrpc") != Some(&Value::String("2.0".into())) {
        return Some(response(reply_id, Err(RpcError::invalid_request("jsonrpc must be \"2.0\""))));
    }
    let Some(method) = obj.get("method").and_then(Value::as_str) else {
        return Some(response(reply_id, Err(RpcError::invalid_request("method must be a string"))));
    };
    let params = match obj.get("params") {
        None => Value::Array(Vec::new()),
        Some(p @ (Value::Array(_) | Value::Object(_))) => p.clone(),
        Some(_) => {
            return Some(response(
                reply_id,
                Err(RpcError::invalid_params("params must be an array or object")),
            ));
        }
    };
    let result = handler.call(method, &params);
    id.map(|id| response(id, result))
}

/// Handles one HTTP body: a request or a batch. Returns the response body, or `None`
/// when nothing is to be answered (only notifications).
pub fn dispatch(handler: &dyn Handler, body: &[u8]) -> Option<Vec<u8>> {
    let parsed: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return Some(encode(&response(Value::Null, Err(RpcError::parse_error(e))))),
    };
    let out = match parsed {
        Value::Array(batch) => {
            if batch.is_empty() {
                response(Value::Null, Err(RpcError::invalid_request("empty batch")))
            } else if batch.len() > MAX_BATCH {
                response(
                    Value::Null,
                    Err(RpcError::invalid_request(format!(
                        "batch of {} over the limit {MAX_BATCH}",
                        batch.len()
                    ))),
                )
            } else {
                let replies: Vec<Value> = batch.iter().filter_map(|r| one(handler, r)).collect();
                if replies.is_empty() {
                    return None;
                }
                Value::Array(replies)
            }
        }
        req => one(handler, &req)?,
    };
    Some(encode(&out))
}

fn encode(v: &Value) -> Vec<u8> {
    // Serializing a Value cannot fail (all keys are strings).
    serde_json::to_vec(v).unwrap_or_else(|_| b"{}".to_vec())
}

/// Positional parameter `i` of `params` (an array), or `-32602`.
pub fn param<'a>(params: &'a Value, i: usize, name: &str) -> Result<&'a Value, RpcError> {
    params
        .as_array()
        .and_then(|a| a.get(i))
        .ok_or_else(|| RpcError::invalid_params(format!("missing parameter {i} ({name})")))
}

/// Optional positional parameter `i` (absent or null is `None`).
pub fn opt_param(params: &Value, i: usize) -> Option<&Value> {
    params.as_array().and_then(|a| a.get(i)).filter(|v| !v.is_null())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Echo;
    impl Handler for Echo {
        fn call(&self, method: &str, params: &Value) -> Result<Value, RpcError> {
            match method {
                "echo" => Ok(param(params, 0, "value")?.clone()),
                "fail" => Err(RpcError::server(-32001, "refused").with_data(json!({"why": "test"}))),
                m => Err(RpcError::method_not_found(m)),
            }
        }
    }

    fn call(body: &str) -> Value {
        serde_json::from_slice(&dispatch(&Echo, body.as_bytes()).unwrap()).unwrap()
    }

    #[test]
    fn single_calls_and_their_errors() {
        assert_eq!(call(r#"{"jsonrpc":"2.0","id":1,"method":"echo","params":[5]}"#)["result"], json!(5));
        assert_eq!(call(r#"{"jsonrpc":"2.0","id":"a","method":"nope"}"#)["error"]["code"], json!(-32601));
        assert_eq!(
            call(r#"{"jsonrpc":"2.0","id":2,"method":"echo","params":[]}"#)["error"]["code"],
            json!(-32602)
        );
        assert_eq!(
            call(r#"{"jsonrpc":"2.0","id":2,"method":"echo","params":7}"#)["error"]["code"],
            json!(-32602)
        );
        let f = call(r#"{"jsonrpc":"2.0","id":3,"method":"fail"}"#);
        assert_eq!(f["error"]["code"], json!(-32001));
        assert_eq!(f["error"]["data"]["why"], json!("test"));
        assert_eq!(f["id"], json!(3));
    }

    #[test]
    fn malformed_envelopes() {
        assert_eq!(call("{not json")["error"]["code"], json!(-32700));
        assert_eq!(call("{not json")["id"], Value::Null);
        assert_eq!(call(r#"{"id":1,"method":"echo"}"#)["error"]["code"], json!(-32600));
        assert_eq!(call(r#"{"jsonrpc":"1.0","id":1,"method":"echo"}"#)["error"]["code"], json!(-32600));
        assert_eq!(call(r#"{"jsonrpc":"2.0","id":1,"method":5}"#)["error"]["code"], json!(-32600));
        assert_eq!(call(r#"{"jsonrpc":"2.0","id":[1],"method":"echo"}"#)["error"]["code"], json!(-32600));
        assert_eq!(call("[]")["error"]["code"], json!(-32600));
        assert_eq!(call("5")["error"]["code"], json!(-32600));
        let big = format!(
            "[{}]",
            vec![r#"{"jsonrpc":"2.0","id":1,"method":"echo","params":[1]}"#; MAX_BATCH + 1].join(",")
        );
        assert_eq!(call(&big)["error"]["code"], json!(-32600));
    }

    #[test]
    fn batches_and_notifications() {
        let r = call(
            r#"[{"jsonrpc":"2.0","id":1,"method":"echo","params":["x"]},
                {"jsonrpc":"2.0","method":"echo","params":["notified"]},
                {"jsonrpc":"2.0","id":2,"method":"nope"}, 3]"#,
        );
        let a = r.as_array().unwrap();
        assert_eq!(a.len(), 3, "the notification gets no reply: {r}");
        assert_eq!(a[0]["result"], json!("x"));
        assert_eq!(a[1]["error"]["code"], json!(-32601));
        assert_eq!(a[2]["error"]["code"], json!(-32600));
        assert_eq!(dispatch(&Echo, br#"{"jsonrpc":"2.0","method":"echo","params":[1]}"#), None);
        assert_eq!(dispatch(&Echo, br#"[{"jsonrpc":"2.0","method":"echo","params":[1]}]"#), None);
    }
}
