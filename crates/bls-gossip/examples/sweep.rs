//! Runs the aggregated-signature gossip on netsim over random regular graphs and prints a
//! table; writes a CSV and a PNG plot (rounds to finality and bytes per guardian vs n).
//!
//! ```text
//! cargo run --release -p bls-gossip --example sweep -- [--n 100,1000] [--degree 20]
//!     [--byzantine 0.0] [--behaviour silent|invalid|forged|cancelling|inflated|predicted]
//!     [--loss 0.0] [--seeds 10] [--fake-crypto] [--check] [--predictable-seeds]
//!     [--out target/sweep]
//! ```
//!
//! Machine seeds are secret, as a deployment's must be: one 32-byte secret from the OS
//! CSPRNG per invocation is hashed with each run's seed and guardian index
//! (`sim::machine_seed`). `--predictable-seeds` drops the secret, so seeds follow from the
//! run seed alone (reproducible, and known to the `predicted` adversary).
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::time::Instant;

use bls_gossip::sim::{Byzantine, Experiment, Outcome, Setup, run};
use bls_gossip::{Bls, Config, FakeScheme, Scheme, checkpoint_message};
use netsim::Latency;

struct Args {
    ns: Vec<usize>,
    degree: usize,
    byzantine: Vec<f64>,
    behaviour: Byzantine,
    loss: Vec<f64>,
    seeds: u64,
    fake: bool,
    check: bool,
    out: String,
    max_mult: u8,
    predictable: bool,
}

fn parse() -> Args {
    let mut a = Args {
        ns: vec![100, 1000],
        degree: 20,
        byzantine: vec![0.0],
        behaviour: Byzantine::Silent,
        loss: vec![0.0],
        seeds: 10,
        fake: false,
        check: false,
        out: "target/sweep".into(),
        max_mult: Config::default().max_multiplicity,
        predictable: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--n" => a.ns = val().split(',').map(|s| s.parse().unwrap()).collect(),
            "--degree" => a.degree = val().parse().unwrap(),
            "--byzantine" => a.byzantine = val().split(',').map(|s| s.parse().unwrap()).collect(),
            "--behaviour" => a.behaviour = val().parse().unwrap(),
            "--loss" => a.loss = val().split(',').map(|s| s.parse().unwrap()).collect(),
            "--seeds" => a.seeds = val().parse().unwrap(),
            "--out" => a.out = val(),
            "--max-mult" => a.max_mult = val().parse().unwrap(),
            "--fake-crypto" => a.fake = true,
            "--check" => a.check = true,
            "--predictable-seeds" => a.predictable = true,
            "--help" | "-h" => {
                println!("see the doc comment of examples/sweep.rs");
                std::process::exit(0);
            }
            other => panic!("unknown flag {other}"),
        }
    }
    a
}

struct Row {
    n: usize,
    byz: f64,
    loss: f64,
    outcomes: Vec<Outcome>,
    secs: f64,
}

fn main() {
    let args = parse();
    let msg = checkpoint_message(1000, &[0x11; 32], &[0x22; 32]);
    let scheme = if args.fake { FakeScheme::NAME } else { Bls::NAME };
    println!(
        "# bls-gossip sweep: crypto={scheme} degree={} behaviour={:?} seeds={} round=200ms latency=U[20,150]ms",
        args.degree, args.behaviour, args.seeds
    );
    println!(
        "{:>6} {:>5} {:>5} {:>9} {:>7} {:>7} {:>7} {:>7} {:>9} {:>9} {:>8} {:>8} {:>6} {:>6} {:>8}",
        "n",
        "byz",
        "loss",
        "finalized",
        "r_mean",
        "r_p99",
        "r_max",
        "p99<=3",
        "med_B",
        "p90_B",
        "B/guard",
        "msgs/g",
        "maxmul",
        "viol",
        "secs"
    );
    let mut rows = Vec::new();
    for &n in &args.ns {
        let t = Instant::now();
        let row =
            if args.fake { sweep_n::<FakeScheme>(&args, n, &msg) } else { sweep_n::<Bls>(&args, n, &msg) };
        eprintln!("n={n}: {:.1}s including setup", t.elapsed().as_secs_f64());
        rows.extend(row);
    }
    std::fs::create_dir_all(&args.out).unwrap();
    let csv_path = format!("{}/sweep.csv", args.out);
    let mut csv = std::fs::File::create(&csv_path).unwrap();
    writeln!(csv, "crypto,n,degree,byzantine,behaviour,loss,seed,honest,finalized,max_round,mean_round,median_bytes,bytes_per_guardian,msgs_per_guardian,max_multiplicity,safety_violations,false_accusations").unwrap();
    for r in &rows {
        for (s, o) in r.outcomes.iter().enumerate() {
            writeln!(
                csv,
                "{scheme},{},{},{},{:?},{},{s},{},{},{},{:.3},{},{:.0},{:.1},{},{},{}",
                r.n,
                args.degree,
                r.byz,
                args.behaviour,
                r.loss,
                o.honest,
                o.finalized,
                o.max_round.map_or(-1, i64::from),
                o.mean_round,
                o.median_size(),
                o.bytes_per_guardian,
                o.msgs_per_guardian,
                o.max_multiplicity,
                o.safety_violations,
                o.false_accusations
            )
            .unwrap();
        }
    }
    println!("wrote {csv_path}");
    let png = format!("{}/sweep.png", args.out);
    plot(&rows, &png, scheme, args.degree);
    println!("wrote {png}");
}

/// 32 bytes from the OS CSPRNG.
fn os_secret() -> [u8; 32] {
    use rand::TryRngCore;
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.try_fill_bytes(&mut secret).expect("the OS random number generator failed");
    secret
}

fn sweep_n<S: Scheme>(args: &Args, n: usize, msg: &[u8]) -> Vec<Row> {
    let setup = Setup::<S>::new(n, msg).unwrap();
    let secret = (!args.predictable).then(os_secret);
    let mut rows = Vec::new();
    for &byz in &args.byzantine {
        for &loss in &args.loss {
            let t = Instant::now();
            let mut outcomes = Vec::new();
            for seed in 0..args.seeds {
                let e = Experiment {
                    degree: args.degree,
                    byzantine_fraction: byz,
                    byzantine: args.behaviour,
                    loss,
                    latency: Latency::Uniform { min_ms: 20, max_ms: 150 },
                    config: Config { max_multiplicity: args.max_mult, ..Config::default() },
                    seed,
                    max_rounds: 30,
                    check_safety: args.check,
                    machine_secret: secret,
                };
                outcomes.push(run(&setup, &e).unwrap());
            }
            let row = Row { n, byz, loss, outcomes, secs: t.elapsed().as_secs_f64() };
            print_row(&row);
            rows.push(row);
        }
    }
    rows
}

fn quantile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * q).round() as usize]
}

fn print_row(r: &Row) {
    let o = &r.outcomes;
    let fin: usize = o.iter().map(|x| x.finalized).sum();
    let hon: usize = o.iter().map(|x| x.honest).sum();
    let mut maxr: Vec<f64> = o.iter().map(|x| x.max_round.map_or(f64::INFINITY, f64::from)).collect();
    let within3 = maxr.iter().filter(|&&m| m <= 3.0).count() as f64 / maxr.len() as f64;
    let mean = o.iter().map(|x| x.mean_round).sum::<f64>() / o.len() as f64;
    let mut all: Vec<u32> = o.iter().flat_map(|x| x.sizes.iter().copied()).collect();
    all.sort_unstable();
    let med = all.get(all.len() / 2).copied().unwrap_or(0);
    let p90 = all.get(all.len() * 9 / 10).copied().unwrap_or(0);
    let bpg = o.iter().map(|x| x.bytes_per_guardian).sum::<f64>() / o.len() as f64;
    let mpg = o.iter().map(|x| x.msgs_per_guardian).sum::<f64>() / o.len() as f64;
    let maxmul = o.iter().map(|x| x.max_multiplicity).max().unwrap_or(0);
    let viol: usize = o.iter().map(|x| x.safety_violations + x.false_accusations).sum();
    println!(
        "{:>6} {:>5.2} {:>5.2} {:>9} {:>7.2} {:>7} {:>7} {:>6.0}% {:>9} {:>9} {:>8.0} {:>8.1} {:>6} {:>6} {:>8.1}",
        r.n,
        r.byz,
        r.loss,
        format!("{fin}/{hon}"),
        mean,
        quantile(&mut maxr.clone(), 0.99),
        quantile(&mut maxr, 1.0),
        within3 * 100.0,
        med,
        p90,
        bpg,
        mpg,
        maxmul,
        viol,
        r.secs
    );
}

fn plot(rows: &[Row], path: &str, scheme: &str, degree: usize) {
    use plotters::prelude::*;
    let root = BitMapBackend::new(path, (1000, 420)).into_drawing_area();
    root.fill(&WHITE).unwrap();
    let (left, right) = root.split_horizontally(500);
    let ns: Vec<f64> = rows.iter().map(|r| r.n as f64).collect();
    let (xmin, xmax) = (
        ns.iter().cloned().fold(f64::INFINITY, f64::min).max(1.0) * 0.8,
        ns.iter().cloned().fold(1.0, f64::max) * 1.25,
    );
    let configs: Vec<(f64, f64)> = {
        let mut c: Vec<(f64, f64)> = rows.iter().map(|r| (r.byz, r.loss)).collect();
        c.sort_by(|a, b| a.partial_cmp(b).unwrap());
        c.dedup();
        c
    };
    let colors = [BLUE, RED, GREEN, MAGENTA, CYAN, BLACK];
    let series = |f: &dyn Fn(&Row) -> f64, cfg: (f64, f64)| -> Vec<(f64, f64)> {
        rows.iter().filter(|r| (r.byz, r.loss) == cfg).map(|r| (r.n as f64, f(r))).collect()
    };
    let max_round =
        |r: &Row| r.outcomes.iter().map(|o| o.max_round.map_or(30.0, f64::from)).fold(0.0, f64::max);
    let bytes = |r: &Row| {
        r.outcomes.iter().map(|o| o.bytes_per_guardian).sum::<f64>() / r.outcomes.len() as f64 / 1024.0
    };
    let ymax_r = rows.iter().map(max_round).fold(1.0, f64::max) + 1.0;
    let ymax_b = rows.iter().map(bytes).fold(1.0, f64::max) * 1.2;
    let mut c1 = ChartBuilder::on(&left)
        .caption(format!("rounds to finality (max over honest), d={degree}, {scheme}"), ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(40)
        .build_cartesian_2d((xmin..xmax).log_scale(), 0.0..ymax_r)
        .unwrap();
    c1.configure_mesh().x_desc("guardians n").y_desc("rounds").draw().unwrap();
    let mut c2 = ChartBuilder::on(&right)
        .caption("KiB sent per honest guardian", ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(50)
        .build_cartesian_2d((xmin..xmax).log_scale(), 0.0..ymax_b)
        .unwrap();
    c2.configure_mesh().x_desc("guardians n").y_desc("KiB").draw().unwrap();
    for (k, cfg) in configs.iter().enumerate() {
        let color = colors[k % colors.len()];
        let label = format!("byz {:.0}% loss {:.0}%", cfg.0 * 100.0, cfg.1 * 100.0);
        let s = series(&max_round, *cfg);
        c1.draw_series(LineSeries::new(s.clone(), color.stroke_width(2)))
            .unwrap()
            .label(label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 15, y)], color));
        c1.draw_series(s.iter().map(|&p| Circle::new(p, 4, color.filled()))).unwrap();
        let s = series(&bytes, *cfg);
        c2.draw_series(LineSeries::new(s.clone(), color.stroke_width(2)))
            .unwrap()
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 15, y)], color));
        c2.draw_series(s.iter().map(|&p| Circle::new(p, 4, color.filled()))).unwrap();
    }
    c1.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw().unwrap();
    c2.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw().unwrap();
    root.present().unwrap();
}
