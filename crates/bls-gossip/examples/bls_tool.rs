//! BLS interoperability tool (IETF `BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_`, min-pk).
//!
//! ```text
//! cargo run --release -p bls-gossip --example bls_tool -- sign --ikm HEX --msg HEX
//!     {"pk":"…","sig":"…","pop":"…"}          KeyGen(ikm), Sign(msg), PopProve
//! cargo run --release -p bls-gossip --example bls_tool -- verify --pk HEX --msg HEX --sig HEX [--pop HEX]
//!     {"valid":true}                           Verify (and PopVerify when --pop is given)
//! cargo run --release -p bls-gossip --example bls_tool -- aggregate --sig HEX --sig HEX … [--pk HEX … --msg HEX]
//!     {"sig":"…"} or {"sig":"…","pk":"…","valid":true}   Aggregate (+ FastAggregateVerify)
//! ```
//!
//! Hex may carry a `0x` prefix; output is lower-case hex of compressed points. Errors go
//! to stderr with exit status 1.
#![allow(clippy::disallowed_methods)]

use bls_gossip::bls::{
    ProofOfPossession, PublicKey, SecretKey, Signature, aggregate_public_keys, aggregate_signatures,
    fast_aggregate_verify,
};
use bls_gossip::hex;

fn unhex(s: &str) -> Result<Vec<u8>, String> {
    let s = s.strip_prefix("0x").unwrap_or(s);
    if !s.len().is_multiple_of(2) {
        return Err(format!("odd-length hex {s:?}"));
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|e| e.to_string())).collect()
}

fn values<'a>(args: &'a [String], flag: &str) -> Vec<&'a str> {
    args.windows(2).filter(|w| w[0] == flag).map(|w| w[1].as_str()).collect()
}

fn one<'a>(args: &'a [String], flag: &str) -> Result<&'a str, String> {
    match values(args, flag).as_slice() {
        [v] => Ok(v),
        [] => Err(format!("missing {flag}")),
        _ => Err(format!("{flag} given more than once")),
    }
}

fn run(args: &[String]) -> Result<String, String> {
    let e = |e: bls_gossip::Error| e.to_string();
    match args.first().map(String::as_str) {
        Some("sign") => {
            let sk = SecretKey::key_gen(&unhex(one(args, "--ikm")?)?).map_err(e)?;
            let msg = unhex(one(args, "--msg")?)?;
            let pk = sk.public_key();
            Ok(format!(
                r#"{{"pk":"{}","sig":"{}","pop":"{}"}}"#,
                hex(&pk.to_bytes()),
                hex(&sk.sign(&msg).to_bytes()),
                hex(&sk.prove_possession().to_bytes())
            ))
        }
        Some("verify") => {
            let pk = PublicKey::from_bytes(&unhex(one(args, "--pk")?)?).map_err(e)?;
            let sig = Signature::from_bytes(&unhex(one(args, "--sig")?)?).map_err(e)?;
            let mut valid = pk.verify(&unhex(one(args, "--msg")?)?, &sig);
            if let Ok(pop) = one(args, "--pop") {
                let pop = ProofOfPossession::from_bytes(&unhex(pop)?).map_err(e)?;
                valid &= pk.verify_possession(&pop).is_ok();
            }
            Ok(format!(r#"{{"valid":{valid}}}"#))
        }
        Some("aggregate") => {
            let sigs = values(args, "--sig")
                .into_iter()
                .map(|s| Signature::from_bytes(&unhex(s)?).map_err(e))
                .collect::<Result<Vec<_>, String>>()?;
            let agg = aggregate_signatures(&sigs).map_err(e)?;
            let pks = values(args, "--pk")
                .into_iter()
                .map(|s| PublicKey::from_bytes(&unhex(s)?).map_err(e))
                .collect::<Result<Vec<_>, String>>()?;
            if pks.is_empty() {
                return Ok(format!(r#"{{"sig":"{}"}}"#, hex(&agg.to_bytes())));
            }
            let msg = unhex(one(args, "--msg")?)?;
            let apk = aggregate_public_keys(&pks).map_err(e)?;
            let valid = fast_aggregate_verify(&pks, &msg, &agg);
            Ok(format!(
                r#"{{"sig":"{}","pk":"{}","valid":{valid}}}"#,
                hex(&agg.to_bytes()),
                hex(&apk.to_bytes())
            ))
        }
        _ => Err("usage: bls_tool sign|verify|aggregate … (see examples/bls_tool.rs)".into()),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(json) => println!("{json}"),
        Err(msg) => {
            eprintln!("error: {msg}");
            std::process::exit(1);
        }
    }
}
