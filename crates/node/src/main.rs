//! `meshcast`: the node's command line.
//!
//! ```text
//! meshcast keygen --out FILE     create a key file (mode 0600) and print its address
//! ```
#![forbid(unsafe_code)]
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use meshcast_node::keys::NodeKeys;

#[derive(Parser)]
#[command(name = "meshcast", version, about = "The meshcast node")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Creates a key file (secp256k1 account key and BLS key) readable by its owner only,
    /// and prints the account address and BLS public key as JSON.
    Keygen {
        /// Where to write the key file; an existing file is never overwritten.
        #[arg(long)]
        out: PathBuf,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Keygen { out } => match NodeKeys::generate().and_then(|k| k.save(&out).map(|()| k)) {
            Ok(keys) => {
                let pk = keys.bls.public_key().to_bytes();
                println!(
                    "{{\"address\": \"{:#x}\", \"bls_pubkey\": \"0x{}\", \"key_file\": {:?}}}",
                    keys.address(),
                    hex::encode(pk),
                    out.display().to_string()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("meshcast keygen: {e}");
                ExitCode::FAILURE
            }
        },
    }
}
