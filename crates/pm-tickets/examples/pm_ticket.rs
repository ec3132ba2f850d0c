//! Signs one ticket and runs the win test.
//!
//! ```text
//! cargo run --release -p pm-tickets --example pm_ticket -- ticket.json
//! ```
//!
//! The file holds one JSON object: `recipient`, `sender` (0x-hex addresses), `faceValue`,
//! `winProb` (0x-hex integers), `senderNonce`, `creationRound` (JSON numbers),
//! `recipientRandHash`, `creationRoundBlockHash`, `privateKey`, `recipientRand` (0x-hex
//! 32 bytes). Prints `{"hash":"0x…","sig":"0x…","wins":true|false}`. The key's address
//! must be `sender`.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

use std::process::ExitCode;

use pm_tickets::{SignedTicket, Ticket, TicketExpirationParams};
use primitives::codec::{from_hex, from_hex_array, to_hex};
use primitives::{Address, H256, SecretKey, U256};
use serde_json::Value;

fn field<'a>(v: &'a Value, key: &str) -> Result<&'a Value, String> {
    v.get(key).ok_or_else(|| format!("missing field `{key}`"))
}

fn hex_str<'a>(v: &'a Value, key: &str) -> Result<&'a str, String> {
    field(v, key)?.as_str().ok_or_else(|| format!("`{key}` must be a 0x-hex string"))
}

fn address(v: &Value, key: &str) -> Result<Address, String> {
    Ok(Address::from(from_hex_array::<20>(hex_str(v, key)?).map_err(|e| format!("`{key}`: {e}"))?))
}

fn bytes32(v: &Value, key: &str) -> Result<H256, String> {
    Ok(H256(from_hex_array::<32>(hex_str(v, key)?).map_err(|e| format!("`{key}`: {e}"))?))
}

fn uint(v: &Value, key: &str) -> Result<U256, String> {
    let s = hex_str(v, key)?.trim();
    let digits = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")).unwrap_or(s);
    // Integers may have an odd number of hex digits ("0x1").
    let padded = if digits.len() % 2 == 1 { format!("0{digits}") } else { digits.to_string() };
    let bytes = from_hex(&padded).map_err(|e| format!("`{key}`: {e}"))?;
    if bytes.len() > 32 {
        return Err(format!("`{key}` does not fit in 256 bits"));
    }
    Ok(U256::from_big_endian(&bytes))
}

fn number(v: &Value, key: &str) -> Result<u64, String> {
    field(v, key)?.as_u64().ok_or_else(|| format!("`{key}` must be a non-negative integer"))
}

fn run(path: &str) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
    let key = SecretKey::from_hex(hex_str(&v, "privateKey")?).map_err(|e| format!("`privateKey`: {e}"))?;
    let nonce = number(&v, "senderNonce")?;
    let ticket = Ticket {
        recipient: address(&v, "recipient")?,
        sender: address(&v, "sender")?,
        face_value: uint(&v, "faceValue")?,
        win_prob: uint(&v, "winProb")?,
        sender_nonce: u32::try_from(nonce).map_err(|_| "`senderNonce` must fit in 32 bits".to_string())?,
        recipient_rand_hash: bytes32(&v, "recipientRandHash")?,
        expiration_params: TicketExpirationParams {
            creation_round: number(&v, "creationRound")?,
            creation_round_block_hash: bytes32(&v, "creationRoundBlockHash")?,
        },
    };
    let sig = ticket.sign(&key).map_err(|e| e.to_string())?;
    let st = SignedTicket { ticket, sig, recipient_rand: bytes32(&v, "recipientRand")? };
    Ok(format!(
        "{{\"hash\":\"{}\",\"sig\":\"{}\",\"wins\":{}}}",
        to_hex(ticket.hash()),
        to_hex(sig.to_bytes()),
        st.wins()
    ))
}

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: pm_ticket FILE.json");
        return ExitCode::from(2);
    };
    match run(&path) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
