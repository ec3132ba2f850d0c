//! `meshcast localnet`: a whole local network as processes on loopback. [`init`]s a
//! directory, spawns every node as its own `meshcast run` child, drives a workload of
//! signed transfers through the validators' JSON-RPC, prints progress on stderr, and
//! ends with a [`Summary`] after checking that every node reports the same state root
//! at a common finalized height. Every child is killed when the launcher returns (also
//! on an error, SIGTERM or ctrl-c).
//!
//! The JSON-RPC client is a minimal blocking HTTP/1.1 one over `std::net` (one
//! connection per call, `Connection: close`): enough for loopback, no client library.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use primitives::U256;
use serde_json::{Value, json};

use crate::localnet::Localnet;
use crate::node::{InitOptions, NodeError, init, read_node_file};

/// Parameters of a local network run.
#[derive(Clone, Debug)]
pub struct LocalnetOptions {
    /// Validators.
    pub validators: usize,
    /// Guardians.
    pub guardians: usize,
    /// Funded workload accounts.
    pub accounts: usize,
    /// Seed.
    pub seed: u64,
    /// Seconds of workload.
    pub duration_s: u64,
    /// Transfers per second.
    pub rate: u64,
    /// Checkpoint interval.
    pub checkpoint_interval: u64,
    /// Block interval target, ms.
    pub block_ms: u64,
    /// First p2p port (node `i` gets `base + i`); `None`: free ports from the OS.
    pub base_port: Option<u16>,
    /// First RPC port; `None`: free ports from the OS.
    pub rpc_port: Option<u16>,
    /// Where to put the nodes; `None`: a fresh temporary directory, removed at the end.
    pub dir: Option<PathBuf>,
    /// The `meshcast` binary to spawn.
    pub exe: PathBuf,
    /// Seconds to wait after the workload for a common finalized checkpoint.
    pub drain_s: u64,
    /// Print progress on stderr.
    pub progress: bool,
}

/// What a run measured.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    /// Lowest settled height over all nodes.
    pub blocks_settled: u64,
    /// Lowest finalized height over all nodes.
    pub blocks_finalized: u64,
    /// Transactions executed per second (validator 0), over the workload and drain.
    pub tps: f64,
    /// Median submission → settled (validator 0) of sampled transfers, ms (resolution:
    /// the 100 ms poll).
    pub settle_ms_p50: u64,
    /// Median submission → finalized of sampled transfers, ms.
    pub finalize_ms_p50: u64,
    /// Transfers and service payments executed (validator 0).
    pub payments_settled: u64,
    /// Every node's state root equal at `compared_height`.
    pub state_roots_agree: bool,
    /// The finalized height whose roots were compared (0: none finalized).
    pub compared_height: u64,
    /// Transfers the validators accepted.
    pub submitted: u64,
    /// Micropayment settlements (ServicePayments of the caching peers, see
    /// [`MICROPAYMENT_PEERS`]) executed on validator 0.
    pub micropayments_settled: u64,
    /// Tickets the broadcaster sent the orchestrators.
    pub tickets_sent: u64,
    /// Winning tickets the orchestrators received.
    pub tickets_won: u64,
    /// Winning tickets redeemed on chain (validator 0 executed the redemption).
    pub tickets_redeemed: u64,
    /// Wall seconds of the whole run.
    pub wall_s: f64,
}

impl Summary {
    /// The one-line JSON object.
    pub fn to_json(&self) -> String {
        json!({
            "blocks_settled": self.blocks_settled,
            "blocks_finalized": self.blocks_finalized,
            "tps": (self.tps * 10.0).round() / 10.0,
            "settle_ms_p50": self.settle_ms_p50,
            "finalize_ms_p50": self.finalize_ms_p50,
            "payments_settled": self.payments_settled,
            "tickets_won": self.tickets_won,
            "tickets_redeemed": self.tickets_redeemed,
            "tickets_sent": self.tickets_sent,
            "state_roots_agree": self.state_roots_agree,
            "compared_height": self.compared_height,
            "submitted": self.submitted,
            "micropayments_settled": self.micropayments_settled,
            "wall_s": (self.wall_s * 10.0).round() / 10.0,
        })
        .to_string()
    }
}

/// Why a local network run failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LocalnetError {
    /// Writing the node directories failed.
    #[error(transparent)]
    Init(Box<NodeError>),
    /// A child process could not be spawned, or a port could not be found.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A node did not come up or exited.
    #[error("{0}")]
    Node(String),
    /// Interrupted by a signal.
    #[error("interrupted")]
    Interrupted,
}

impl From<NodeError> for LocalnetError {
    fn from(e: NodeError) -> Self {
        LocalnetError::Init(Box::new(e))
    }
}

/// A blocking JSON-RPC call to `addr` (one HTTP/1.1 request).
pub fn rpc(addr: SocketAddr, method: &str, params: Value) -> Result<Value, String> {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let reply = post(addr, &body)?;
    match (reply.get("result"), reply.get("error")) {
        (_, Some(e)) => Err(e.to_string()),
        (Some(r), _) => Ok(r.clone()),
        _ => Err(format!("no result in {reply}")),
    }
}

/// POSTs one JSON body (a request or a batch) and returns the parsed reply.
pub fn post(addr: SocketAddr, body: &Value) -> Result<Value, String> {
    let body = body.to_string();
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).and_then(|()| s.write_all(body.as_bytes())).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out);
    let (head, payload) = text.split_once("\r\n\r\n").ok_or("malformed HTTP response")?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(head.lines().next().unwrap_or("").to_owned());
    }
    serde_json::from_str(payload).map_err(|e| e.to_string())
}

/// Child processes killed (SIGKILL) and reaped on drop.
#[derive(Debug, Default)]
pub struct Children(pub Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
        }
        for c in &mut self.0 {
            let _ = c.wait();
        }
    }
}

/// Spawns `exe run --dir dir`, its stderr (the logs) into `dir/node.log`.
pub fn spawn_node(exe: &Path, dir: &Path) -> std::io::Result<Child> {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("node.log"))?;
    let mut cmd = Command::new(exe);
    cmd.arg("run").arg("--dir").arg(dir).stdin(Stdio::null()).stdout(Stdio::null()).stderr(log);
    if std::env::var_os("RUST_LOG").is_none() {
        cmd.env("RUST_LOG", "info");
    }
    cmd.spawn()
}

fn free_ports(n: usize) -> std::io::Result<Vec<u16>> {
    // Bound together so they are distinct; released just before the nodes bind them.
    let listeners =
        (0..n).map(|_| std::net::TcpListener::bind("127.0.0.1:0")).collect::<std::io::Result<Vec<_>>>()?;
    listeners.iter().map(|l| l.local_addr().map(|a| a.port())).collect()
}

/// Set by SIGTERM or ctrl-c once [`install_stop_handler`] ran.
fn stop_flag() -> &'static Arc<AtomicBool> {
    static FLAG: std::sync::OnceLock<Arc<AtomicBool>> = std::sync::OnceLock::new();
    FLAG.get_or_init(|| Arc::new(AtomicBool::new(false)))
}

/// Turns SIGTERM and ctrl-c into a stop request the launcher polls, so it can kill its
/// children before it exits.
pub fn install_stop_handler() -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let flag = stop_flag().clone();
    std::thread::Builder::new().name("signals".into()).spawn(move || {
        rt.block_on(async move {
            let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            else {
                return;
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            flag.store(true, Ordering::SeqCst);
        });
    })?;
    Ok(())
}

fn stopped() -> bool {
    stop_flag().load(Ordering::SeqCst)
}

struct Tempdir(PathBuf);
impl Drop for Tempdir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One node's status as the launcher reads it.
#[derive(Clone, Debug, Default)]
pub struct NodeStatus {
    /// Settled height.
    pub settled: u64,
    /// Finalized height.
    pub finalized: u64,
    /// Transactions executed.
    pub txs: u64,
    /// Transfers and service payments executed.
    pub payments: u64,
    /// Winning tickets redeemed.
    pub tickets_redeemed: u64,
}

/// `meshcast_status` of `addr`.
pub fn status(addr: SocketAddr) -> Result<NodeStatus, String> {
    let s = rpc(addr, "meshcast_status", json!([]))?;
    let n = |k: &str| s.get(k).and_then(Value::as_u64).unwrap_or(0);
    Ok(NodeStatus {
        settled: n("settled_height"),
        finalized: n("finalized_height"),
        txs: n("txs_executed"),
        payments: n("transfers") + n("service_payments"),
        tickets_redeemed: n("tickets_redeemed"),
    })
}

/// The running network: its node directories, RPC addresses and children.
#[derive(Debug)]
pub struct Network {
    /// Node directories, validators first.
    pub dirs: Vec<PathBuf>,
    /// RPC address of each node.
    pub rpc: Vec<SocketAddr>,
    /// The node processes (index = node).
    pub children: Children,
    /// Validators.
    pub validators: usize,
}

impl Network {
    /// Statuses of every node (an unreachable one is an error).
    pub fn statuses(&self) -> Result<Vec<NodeStatus>, String> {
        self.rpc.iter().map(|a| status(*a)).collect()
    }

    /// Fails when a child exited.
    pub fn check_alive(&mut self) -> Result<(), LocalnetError> {
        for (i, c) in self.children.0.iter_mut().enumerate() {
            if let Ok(Some(st)) = c.try_wait() {
                let log = self.dirs[i].join("node.log");
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(5).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                return Err(LocalnetError::Node(format!(
                    "node {i} exited ({st}); {}:\n{}",
                    log.display(),
                    tail.join("\n")
                )));
            }
        }
        Ok(())
    }

    /// Waits until every node answers `meshcast_status`.
    pub fn wait_ready(&mut self, timeout: Duration) -> Result<(), LocalnetError> {
        let start = Instant::now();
        loop {
            self.check_alive()?;
            if self.statuses().is_ok() {
                return Ok(());
            }
            if stopped() {
                return Err(LocalnetError::Interrupted);
            }
            if start.elapsed() > timeout {
                return Err(LocalnetError::Node("nodes did not answer RPC in time".into()));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The state root of every node at `height`.
    pub fn roots_at(&self, height: u64) -> Vec<Result<Value, String>> {
        self.rpc.iter().map(|a| rpc(*a, "meshcast_stateRoot", json!([height]))).collect()
    }
}

/// `init` into `dir` and spawn every node.
pub fn start(opts: &LocalnetOptions, dir: &Path) -> Result<Network, LocalnetError> {
    let n = opts.validators + opts.guardians;
    // Free ports for both kinds are drawn in one go so that they are all distinct.
    let mut free = free_ports(2 * n)?;
    let rpc_free = free.split_off(n);
    let ports = |base: Option<u16>, free: Vec<u16>| -> Vec<u16> {
        match base {
            Some(b) => (0..n).map(|i| b.saturating_add(i as u16)).collect(),
            None => free,
        }
    };
    let init_opts = InitOptions {
        validators: opts.validators,
        guardians: opts.guardians,
        accounts: workload_accounts(opts.accounts),
        seed: opts.seed,
        checkpoint_interval: opts.checkpoint_interval,
        block_ms: opts.block_ms,
        p2p_ports: ports(opts.base_port, free),
        rpc_ports: ports(opts.rpc_port, rpc_free),
    };
    let dirs = init(dir, &init_opts)?;
    let rpc = dirs.iter().map(|d| read_node_file(d).map(|f| f.rpc_listen)).collect::<Result<Vec<_>, _>>()?;
    let mut children = Children::default();
    for d in &dirs {
        children.0.push(spawn_node(&opts.exe, d)?);
    }
    Ok(Network { dirs, rpc, children, validators: opts.validators })
}

/// Caching peers paid through the micropayment pool in a localnet run.
pub const MICROPAYMENT_PEERS: usize = 3;

/// Funded accounts of a run with `accounts` transfer accounts: then the pool's viewer
/// and caching peers, then the ticket broadcaster and its orchestrators.
fn workload_accounts(accounts: usize) -> usize {
    accounts + 1 + MICROPAYMENT_PEERS + 1 + crate::ticket_load::TICKET_ORCHESTRATORS
}

/// The micropayment workload (Theta's resource-oriented pool, settled on chain): a viewer
/// account reserves a pool for a stream, then each of [`MICROPAYMENT_PEERS`] caching
/// peers settles the viewer's cumulative cheque with a ServicePayment, twice (the second
/// pays only the increase). Accounts `accounts` (viewer) and `accounts + 1 …` (peers),
/// outside the transfer workload's.
struct PoolLoad {
    viewer: usize,
    reserve: Option<String>,
    reserved: bool,
    /// Per peer: the payment submitted in the current round, and rounds done.
    payments: Vec<(Option<String>, u64)>,
    settled: u64,
}

impl PoolLoad {
    const RESOURCE: &'static str = "stream/localnet";
    const ROUNDS: u64 = 2;

    fn new(viewer: usize) -> Self {
        PoolLoad {
            viewer,
            reserve: None,
            reserved: false,
            payments: vec![(None, 0); MICROPAYMENT_PEERS],
            settled: 0,
        }
    }

    fn submit(addr: SocketAddr, tx: &[u8]) -> Option<String> {
        rpc(addr, "meshcast_submitTx", json!([format!("0x{}", hex::encode(tx))]))
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
    }

    fn executed(addr: SocketAddr, hash: &str) -> bool {
        rpc(addr, "meshcast_tx", json!([hash]))
            .is_ok_and(|v| v.get("height").and_then(Value::as_u64).is_some())
    }

    /// One workload tick against validator `addr` (one RPC round trip per open item).
    fn step(&mut self, keys: &Localnet, addr: SocketAddr) {
        let token = primitives::TOKEN;
        match (&self.reserve, self.reserved) {
            (None, _) => {
                let deposit = token * U256::from(100u64);
                let tx = keys.reserve_fund(self.viewer, 1, deposit, deposit * 2, 10_000, Self::RESOURCE);
                self.reserve = Self::submit(addr, &tx);
            }
            (Some(h), false) => self.reserved = Self::executed(addr, h),
            (Some(_), true) => {
                for (k, (open, done)) in self.payments.iter_mut().enumerate() {
                    match open {
                        Some(h) if Self::executed(addr, h) => {
                            *open = None;
                            *done += 1;
                            self.settled += 1;
                        }
                        Some(_) => {}
                        None if *done < Self::ROUNDS => {
                            // Cumulative: round r promises (k + 1) · r tokens to peer k.
                            let amount = token * U256::from((k as u64 + 1) * (*done + 1));
                            let peer = self.viewer + 1 + k;
                            let tx = keys.service_payment(
                                self.viewer,
                                1,
                                peer,
                                *done + 1,
                                amount,
                                *done + 1,
                                Self::RESOURCE,
                            );
                            *open = Self::submit(addr, &tx);
                        }
                        None => {}
                    }
                }
            }
        }
    }
}

/// Runs a local network per `opts` and returns its summary. The children are gone when
/// it returns.
pub fn run(opts: &LocalnetOptions) -> Result<Summary, LocalnetError> {
    let t0 = Instant::now();
    let (dir, _cleanup) = match &opts.dir {
        Some(d) => (d.clone(), None),
        None => {
            let nanos = t0.elapsed().as_nanos() ^ u128::from(std::process::id());
            let d = std::env::temp_dir().join(format!("meshcast-localnet-{}-{nanos}", std::process::id()));
            (d.clone(), Some(Tempdir(d)))
        }
    };
    let mut net = start(opts, &dir)?;
    net.wait_ready(Duration::from_secs(60))?;
    if opts.progress {
        eprintln!(
            "localnet: {} validators, {} guardians up in {:.1}s ({})",
            opts.validators,
            opts.guardians,
            t0.elapsed().as_secs_f64(),
            dir.display()
        );
    }
    let keys = Localnet::new(opts.validators, opts.guardians, workload_accounts(opts.accounts), opts.seed)
        .map_err(NodeError::from)?;
    if opts.progress {
        // As local Ethereum dev chains do: the funded dev accounts, keys included (public:
        // keccak256("meshcast-dev-" ‖ i)), for wallets and scripts.
        for (i, k) in keys.dev.iter().enumerate() {
            eprintln!("dev account {i}: {:#x} key 0x{}", k.address(), hex::encode(k.to_bytes()));
        }
    }
    let mut pool = PoolLoad::new(opts.accounts);
    let mut tickets =
        crate::ticket_load::TicketLoad::new(&keys, opts.accounts + 1 + MICROPAYMENT_PEERS, opts.seed);
    let mut seqs = vec![1u64; opts.accounts];
    let mut rng = opts.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut next_rand = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let base = net.statuses().map_err(LocalnetError::Node)?;
    let txs0 = base.first().map_or(0, |s| s.txs);
    let load_start = Instant::now();
    let load_end = load_start + Duration::from_secs(opts.duration_s);
    let drain_end = load_end + Duration::from_secs(opts.drain_s);
    // Sampled transfers: hash → (submitted, settled height, settled at).
    let mut samples: BTreeMap<String, (Instant, Option<(u64, Instant)>)> = BTreeMap::new();
    let mut settle = Vec::new();
    let mut fin = Vec::new();
    let mut submitted = 0u64;
    let mut next_from = 0usize;
    let mut carry = 0u64;
    let mut last_print = Instant::now();
    let mut last_tick = Instant::now();
    let mut last_all = Instant::now();
    let (mut last_txs, mut last_t) = (txs0, Instant::now());
    let mut last = base.clone();
    let tick = Duration::from_millis(100);
    let v0 = net.rpc[0];
    loop {
        let now = Instant::now();
        if stopped() {
            return Err(LocalnetError::Interrupted);
        }
        net.check_alive()?;
        let loading = now < load_end;
        if loading && opts.accounts >= 2 {
            // Transfers owed since the last tick (a slow tick owes more).
            let ms = now.duration_since(last_tick).as_millis() as u64;
            carry += opts.rate * ms.min(1_000);
            let batch = carry / 1000;
            carry %= 1000;
            let mut per_validator: BTreeMap<usize, Vec<(usize, Value)>> = BTreeMap::new();
            for _ in 0..batch {
                let from = next_from;
                next_from = (next_from + 1) % opts.accounts;
                let mut to = (next_rand() % opts.accounts as u64) as usize;
                if to == from {
                    to = (to + 1) % opts.accounts;
                }
                let amount = U256::from(1_000 + next_rand() % 1_000_000);
                let tx = keys.transfer(from, seqs[from], keys.address(to), amount);
                let id = per_validator.values().map(Vec::len).sum::<usize>();
                let req = json!({"jsonrpc": "2.0", "id": id, "method": "meshcast_submitTx",
                                 "params": [format!("0x{}", hex::encode(tx))]});
                per_validator.entry(from % opts.validators).or_default().push((from, req));
            }
            let mut sampled = false;
            for (v, reqs) in per_validator {
                let body = Value::Array(reqs.iter().map(|(_, r)| r.clone()).collect());
                let Ok(Value::Array(replies)) = post(net.rpc[v], &body) else { continue };
                for reply in replies {
                    let Some(id) = reply.get("id").and_then(Value::as_u64) else { continue };
                    let Some((from, _)) = reqs.iter().find(|(_, r)| r["id"] == json!(id)) else { continue };
                    if let Some(h) = reply.get("result").and_then(Value::as_str) {
                        seqs[*from] += 1;
                        submitted += 1;
                        if v == 0 && !sampled {
                            sampled = true;
                            samples.entry(h.to_owned()).or_insert((now, None));
                        }
                    }
                }
            }
        }
        if opts.validators > 0 && (loading || pool.settled < MICROPAYMENT_PEERS as u64 * PoolLoad::ROUNDS) {
            pool.step(&keys, v0);
        }
        if opts.validators > 0 && (loading || !tickets.idle()) {
            tickets.step(v0, loading);
        }
        // Latency samples on validator 0: at most 20 open ones polled per tick.
        let open: Vec<String> =
            samples.iter().filter(|(_, s)| s.1.is_none()).map(|(h, _)| h.clone()).take(20).collect();
        if !open.is_empty() {
            let body = Value::Array(
                open.iter()
                    .enumerate()
                    .map(|(i, h)| json!({"jsonrpc": "2.0", "id": i, "method": "meshcast_tx", "params": [h]}))
                    .collect(),
            );
            if let Ok(Value::Array(replies)) = post(v0, &body) {
                for reply in replies {
                    let (Some(i), Some(height)) = (
                        reply.get("id").and_then(Value::as_u64),
                        reply.pointer("/result/height").and_then(Value::as_u64),
                    ) else {
                        continue;
                    };
                    if let Some(s) = open.get(i as usize).and_then(|h| samples.get_mut(h)) {
                        s.1 = Some((height, now));
                        settle.push(now.duration_since(s.0).as_millis() as u64);
                    }
                }
            }
        }
        last_tick = now;
        // Validator 0 every tick (the samples' finality); every node once a second.
        if let Ok(s0) = status(v0) {
            let f0 = s0.finalized;
            samples.retain(|_, s| match s.1 {
                Some((h, _)) if h <= f0 => {
                    fin.push(now.duration_since(s.0).as_millis() as u64);
                    false
                }
                _ => true,
            });
            if let Some(l) = last.first_mut() {
                *l = s0;
            }
        }
        if last_all.elapsed() >= Duration::from_millis(900) || !loading {
            if let Ok(st) = net.statuses() {
                last = st;
            }
            last_all = Instant::now();
        }
        if opts.progress && last_print.elapsed() >= Duration::from_secs(1) {
            let settled = last.iter().map(|s| s.settled).min().unwrap_or(0);
            let finalized = last.iter().map(|s| s.finalized).min().unwrap_or(0);
            let txs = last[0].txs;
            let tps = (txs - last_txs.min(txs)) as f64 / last_t.elapsed().as_secs_f64();
            (last_txs, last_t) = (txs, Instant::now());
            eprintln!(
                "[{:5.1}s] settled {settled} finalized {finalized} tps {tps:.0} submitted {submitted}{}",
                load_start.elapsed().as_secs_f64(),
                if loading { "" } else { " (draining)" }
            );
            last_print = Instant::now();
        }
        if !loading {
            let finalized = last.iter().map(|s| s.finalized).min().unwrap_or(0);
            let drained = last.iter().all(|s| s.txs.saturating_sub(txs0) >= submitted);
            if (finalized > 0 && drained && samples.is_empty() && tickets.idle()) || now >= drain_end {
                break;
            }
        }
        std::thread::sleep(tick.saturating_sub(now.elapsed()));
    }
    let span = load_start.elapsed().as_secs_f64();
    let st = net.statuses().map_err(LocalnetError::Node)?;
    let finalized = st.iter().map(|s| s.finalized).min().unwrap_or(0);
    let (compared, agree) = if finalized == 0 {
        (0, false)
    } else {
        let roots = net.roots_at(finalized);
        let first = roots.first().and_then(|r| r.as_ref().ok()).cloned();
        let agree = first.is_some() && roots.iter().all(|r| r.as_ref().ok() == first.as_ref());
        if !agree && opts.progress {
            eprintln!("localnet: state roots at {finalized}: {roots:?}");
        }
        (finalized, agree)
    };
    let p50 = |v: &mut Vec<u64>| {
        v.sort_unstable();
        v.get(v.len() / 2).copied().unwrap_or(0)
    };
    let summary = Summary {
        blocks_settled: st.iter().map(|s| s.settled).min().unwrap_or(0),
        blocks_finalized: finalized,
        tps: if span > 0.0 { st[0].txs.saturating_sub(txs0) as f64 / span } else { 0.0 },
        settle_ms_p50: p50(&mut settle),
        finalize_ms_p50: p50(&mut fin),
        payments_settled: st[0].payments,
        state_roots_agree: agree,
        compared_height: compared,
        submitted,
        micropayments_settled: pool.settled,
        tickets_sent: tickets.sent,
        tickets_won: tickets.won,
        tickets_redeemed: st[0].tickets_redeemed,
        wall_s: t0.elapsed().as_secs_f64(),
    };
    drop(net);
    Ok(summary)
}
