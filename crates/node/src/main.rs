//! `meshcast`: the node's command line.
//!
//! ```text
//! meshcast keygen --out FILE     create a key file (mode 0600) and print its address
//! meshcast init --dir DIR ...     write a local network's genesis and node directories
//! meshcast run --dir NODE_DIR     run one node (p2p, JSON-RPC, /metrics) until SIGTERM
//! meshcast localnet ...           a whole local network as child processes, with a workload
//! ```
//!
//! See `docs/node.md`.
#![forbid(unsafe_code)]
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use meshcast_node::keys::NodeKeys;
use meshcast_node::launcher::{self, LocalnetOptions};
use meshcast_node::node::{self, InitOptions};

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
    /// Writes a local network: `DIR/genesis.json` and one node directory per node
    /// (`v0…`, `g0…`: key file, `node.json`), deterministic from the seed.
    Init {
        /// The directory to write (created; an existing genesis is never overwritten).
        #[arg(long)]
        dir: PathBuf,
        /// Validators.
        #[arg(long, default_value_t = 4)]
        validators: usize,
        /// Guardians.
        #[arg(long, default_value_t = 2)]
        guardians: usize,
        /// Funded accounts.
        #[arg(long, default_value_t = 100)]
        accounts: usize,
        /// Seed of every key (keys are public: local networks only).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Guardians finalize every T-th block.
        #[arg(long, default_value_t = 10)]
        checkpoint_interval: u64,
        /// Target block interval, ms (consensus messages wait half of it).
        #[arg(long, default_value_t = 200)]
        block_ms: u64,
        /// p2p port of node 0; node i listens on P+i.
        #[arg(long, default_value_t = 30300)]
        base_port: u16,
        /// RPC port of node 0; node i serves on R+i (default: P+1000).
        #[arg(long)]
        rpc_port: Option<u16>,
    },
    /// Runs one node until SIGTERM or ctrl-c.
    Run {
        /// The node directory (`meshcast init` wrote it).
        #[arg(long)]
        dir: PathBuf,
    },
    /// Runs a whole local network as child processes on loopback with a transfer
    /// workload, then prints a summary (with --json, a JSON object as the last line).
    Localnet {
        /// Validators.
        #[arg(long, default_value_t = 4)]
        validators: usize,
        /// Guardians.
        #[arg(long, default_value_t = 4)]
        guardians: usize,
        /// Funded workload accounts.
        #[arg(long, default_value_t = 100)]
        accounts: usize,
        /// Seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Seconds of workload.
        #[arg(long, default_value_t = 30)]
        duration: u64,
        /// Seconds to wait afterwards for the transfers to finalize.
        #[arg(long, default_value_t = 30)]
        drain: u64,
        /// Transfers per second.
        #[arg(long, default_value_t = 50)]
        rate: u64,
        /// Guardians finalize every T-th block.
        #[arg(long, default_value_t = 10)]
        checkpoint_interval: u64,
        /// Target block interval, ms.
        #[arg(long, default_value_t = 200)]
        block_ms: u64,
        /// First p2p port (default: free ports from the OS).
        #[arg(long)]
        base_port: Option<u16>,
        /// First RPC port (default: free ports from the OS).
        #[arg(long)]
        rpc_port: Option<u16>,
        /// Keep the nodes here instead of a temporary directory.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Print the summary as one JSON object on the last line.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Init {
            dir,
            validators,
            guardians,
            accounts,
            seed,
            checkpoint_interval,
            block_ms,
            base_port,
            rpc_port,
        } => {
            let n = validators + guardians;
            let rpc = rpc_port.unwrap_or(base_port.saturating_add(1000));
            let ports = |b: u16| (0..n).map(|i| b.saturating_add(i as u16)).collect();
            let opts = InitOptions {
                validators,
                guardians,
                accounts,
                seed,
                checkpoint_interval,
                block_ms,
                p2p_ports: ports(base_port),
                rpc_ports: ports(rpc),
            };
            match node::init(&dir, &opts) {
                Ok(dirs) => {
                    for d in dirs {
                        println!("{}", d.display());
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("meshcast init: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Run { dir } => match node::run(&dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(error = %e, "meshcast run failed");
                eprintln!("meshcast run: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Localnet {
            validators,
            guardians,
            accounts,
            seed,
            duration,
            drain,
            rate,
            checkpoint_interval,
            block_ms,
            base_port,
            rpc_port,
            dir,
            json,
        } => {
            let exe = match std::env::current_exe() {
                Ok(e) => e,
                Err(e) => {
                    eprintln!("meshcast localnet: own path: {e}");
                    return ExitCode::FAILURE;
                }
            };
            if let Err(e) = launcher::install_stop_handler() {
                eprintln!("meshcast localnet: signal handler: {e}");
                return ExitCode::FAILURE;
            }
            let opts = LocalnetOptions {
                validators,
                guardians,
                accounts,
                seed,
                duration_s: duration,
                rate,
                checkpoint_interval,
                block_ms,
                base_port,
                rpc_port,
                dir,
                exe,
                drain_s: drain,
                progress: true,
            };
            match launcher::run(&opts) {
                Ok(s) => {
                    eprintln!(
                        "localnet: settled {} finalized {} tps {:.1} settle p50 {} ms finalize p50 {} ms \
                         payments {} (micropayment settlements {}) state roots agree: {} (at {}) wall {:.1}s",
                        s.blocks_settled,
                        s.blocks_finalized,
                        s.tps,
                        s.settle_ms_p50,
                        s.finalize_ms_p50,
                        s.payments_settled,
                        s.micropayments_settled,
                        s.state_roots_agree,
                        s.compared_height,
                        s.wall_s
                    );
                    if json {
                        println!("{}", s.to_json());
                    }
                    if s.state_roots_agree && s.blocks_finalized > 0 {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::FAILURE
                    }
                }
                Err(e) => {
                    eprintln!("meshcast localnet: {e}");
                    ExitCode::FAILURE
                }
            }
        }
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
