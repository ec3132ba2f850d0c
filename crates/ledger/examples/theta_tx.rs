//! `theta_tx`: decode and sign Theta-wire transactions (see the `ledger` crate docs).
//!
//! ```text
//! theta_tx decode --chain-id ID
//! theta_tx sign --chain-id ID --key FILE [--key FILE ...]
//! ```
//!
//! Both read stdin one item per line (blank lines skipped) and write one line per item to
//! stdout: `decode` hex in, JSON out; `sign` JSON in, hex out; `{"error": "…"}` for an
//! item that fails. Exit status 0, or 2 when the command line, a key file or stdin is
//! unusable.
#![allow(clippy::disallowed_methods)] // a command-line tool: reads stdin and key files

use std::io::{BufRead, Write};
use std::process::ExitCode;

use ledger::MAX_TX_SIZE;
use primitives::SecretKey;

const USAGE: &str =
    "usage: theta_tx decode --chain-id ID\n       theta_tx sign --chain-id ID --key FILE [--key FILE ...]";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("theta_tx: {msg}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let command = args.next().ok_or("missing command")?;
    let mut chain_id = None;
    let mut keys = Vec::new();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--chain-id" => chain_id = Some(args.next().ok_or("--chain-id needs a value")?),
            "--key" => {
                let path = args.next().ok_or("--key needs a file")?;
                let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
                keys.push(SecretKey::from_hex(text.trim()).map_err(|e| format!("{path}: {e}"))?);
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let chain_id = chain_id.ok_or("--chain-id is required")?;
    match command.as_str() {
        "decode" if keys.is_empty() => {}
        "decode" => return Err("decode takes no --key".into()),
        "sign" if keys.is_empty() => return Err("sign needs at least one --key".into()),
        "sign" => {}
        other => return Err(format!("unknown command {other}")),
    }
    let stdin = std::io::stdin();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for line in stdin.lock().lines() {
        let line = line.map_err(|e| format!("stdin: {e}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let reply = if command == "decode" {
            ledger::json::decode_line(&line, &chain_id, MAX_TX_SIZE)
        } else {
            ledger::json::sign_line(&line, &chain_id, &keys)
        };
        writeln!(out, "{reply}").map_err(|e| format!("stdout: {e}"))?;
    }
    out.flush().map_err(|e| format!("stdout: {e}"))
}
