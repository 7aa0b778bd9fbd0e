//! Two network namespaces joined by an impaired link, for calls over a bad network (and a
//! bottleneck on one direction: the kernel's `tbf` behind an IFB device).
//!
//! This kernel has no `netem` queueing discipline, so the link is emulated in user space: a TUN
//! device in each namespace (created here, then moved in), and a forwarder thread per direction
//! that drops packets at random and delivers the rest after a fixed delay. Only addresses the
//! test assigns inside its own namespaces are used.

use std::collections::VecDeque;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use tun_rs::{DeviceBuilder, InterruptEvent, SyncDevice};

fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run ip (iproute2): {e}"));
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn tc(netns: &str, args: &[&str]) {
    let out = Command::new("ip")
        .args(["netns", "exec", netns, "tc"])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run tc (iproute2): {e}"));
    assert!(
        out.status.success(),
        "tc {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A network namespace, deleted on drop (with the devices inside it).
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(name: &str) -> Netns {
        // A leftover from a killed run would make `add` fail.
        let _ = Command::new("ip").args(["netns", "del", name]).output();
        ip(&["netns", "add", name]);
        ip(&["-n", name, "link", "set", "lo", "up"]);
        Netns { name: name.into() }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// Impairment of one direction.
#[derive(Clone, Copy, Debug)]
pub struct Impairment {
    /// Probability that a packet is dropped.
    pub loss: f64,
    pub delay: Duration,
}

/// `a` (10.77.0.1) and `b` (10.77.0.2), each in its namespace, joined by an impaired link.
pub struct LossyLink {
    pub a: Netns,
    pub b: Netns,
    stop: Arc<InterruptEvent>,
    threads: Vec<std::thread::JoinHandle<()>>,
    /// Packets forwarded and dropped, both directions.
    pub forwarded: Arc<AtomicU64>,
    pub dropped: Arc<AtomicU64>,
    /// A's end of the link (its TUN device) and the IFB device that shapes what arrives there.
    dev_a: String,
    ifb_a: String,
    shaped: std::sync::atomic::AtomicBool,
}

pub const ADDR_A: &str = "10.77.0.1";
pub const ADDR_B: &str = "10.77.0.2";
pub const NETWORK: &str = "10.77.0.0/24";

/// A client's ICE arguments at `addr` (`ADDR_A` or `ADDR_B`): candidates on the link only.
pub fn ice_args(addr: &'static str) -> Vec<&'static str> {
    vec![
        "--ice-address",
        addr,
        "--ice-allow",
        NETWORK,
        "--no-server-ice",
    ]
}

impl Drop for LossyLink {
    fn drop(&mut self) {
        let _ = self.stop.trigger();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl LossyLink {
    /// `tag` keeps names unique between concurrent tests.
    pub fn new(tag: &str, each_way: Impairment, seed: u64) -> LossyLink {
        let pid = std::process::id();
        let a = Netns::new(&format!("asnt{pid}{tag}a"));
        let b = Netns::new(&format!("asnt{pid}{tag}b"));
        let dev = |name: &str| -> Arc<SyncDevice> {
            let d = DeviceBuilder::new()
                .name(name)
                .mtu(1500)
                .build_sync()
                .unwrap_or_else(|e| panic!("cannot create TUN device {name} (root needed): {e}"));
            d.set_nonblocking(true).expect("non-blocking TUN");
            Arc::new(d)
        };
        let (ta, tb) = (format!("ta{pid}{tag}"), format!("tb{pid}{tag}"));
        // Device names are at most 15 bytes.
        assert!(ta.len() <= 15, "tag {tag:?} too long for a device name");
        let (da, db) = (dev(&ta), dev(&tb));
        for (t, ns, addr) in [(&ta, &a, ADDR_A), (&tb, &b, ADDR_B)] {
            ip(&["link", "set", t, "netns", &ns.name]);
            ip(&[
                "-n",
                &ns.name,
                "addr",
                "add",
                &format!("{addr}/24"),
                "dev",
                t,
            ]);
            ip(&["-n", &ns.name, "link", "set", t, "up"]);
        }
        let stop = Arc::new(InterruptEvent::new().expect("interrupt event"));
        let forwarded = Arc::new(AtomicU64::new(0));
        let dropped = Arc::new(AtomicU64::new(0));
        let mut threads = Vec::new();
        for (i, (from, to)) in [(da.clone(), db.clone()), (db, da)].into_iter().enumerate() {
            let (stop, fwd, drp) = (stop.clone(), forwarded.clone(), dropped.clone());
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed + i as u64);
            threads.push(std::thread::spawn(move || {
                forward(&from, &to, each_way, &stop, &mut rng, &fwd, &drp)
            }));
        }
        LossyLink {
            a,
            b,
            stop,
            threads,
            forwarded,
            dropped,
            ifb_a: format!("ib{pid}{tag}"),
            dev_a: ta,
            shaped: Default::default(),
        }
    }

    /// The server in A's namespace (B reaches it over the link too), Ann signed up in A and Bob
    /// in B.
    pub async fn ann_and_bob(&self) -> (crate::call::Server, crate::call::User, crate::call::User) {
        let server = crate::call::Server::start(crate::call::ServerOptions {
            netns: Some(self.a.name.clone()),
            listen_ip: ADDR_A.into(),
            ..crate::call::ServerOptions::default()
        })
        .await;
        let ann = server.user("Ann", Some(self.a.name.clone())).await;
        let bob = server.user("Bob", Some(self.b.name.clone())).await;
        (server, ann, bob)
    }

    /// A bottleneck on what B sends to A, as at a router on the way (B's own network stack
    /// sends at full speed): what reaches A goes through an IFB device whose token bucket
    /// filter (`tc tbf`) lets `kbit` kbit/s through and queues at most `queue_ms` of traffic at
    /// that rate, dropping the rest. Called again, it changes the rate in place.
    pub fn bottleneck_to_a(&self, kbit: u32, queue_ms: u32) {
        let ns = &self.a.name;
        let ifb = &self.ifb_a;
        let first = !self.shaped.swap(true, Ordering::SeqCst);
        if first {
            ip(&["-n", ns, "link", "add", ifb, "type", "ifb"]);
            ip(&["-n", ns, "link", "set", ifb, "up"]);
            tc(
                ns,
                &[
                    "qdisc",
                    "add",
                    "dev",
                    &self.dev_a,
                    "handle",
                    "ffff:",
                    "ingress",
                ],
            );
            tc(
                ns,
                &[
                    "filter",
                    "add",
                    "dev",
                    &self.dev_a,
                    "parent",
                    "ffff:",
                    "protocol",
                    "all",
                    "u32",
                    "match",
                    "u32",
                    "0",
                    "0",
                    "action",
                    "mirred",
                    "egress",
                    "redirect",
                    "dev",
                    ifb,
                ],
            );
        }
        // A burst of at least two full packets, or 10 ms at the rate.
        let burst = (kbit * 1000 / 8 / 100).max(3000).to_string();
        let (rate, latency) = (format!("{kbit}kbit"), format!("{queue_ms}ms"));
        tc(
            ns,
            &[
                "qdisc",
                // Changed in place: a new queue would drop what waits in the old one.
                if first { "add" } else { "change" },
                "dev",
                ifb,
                "root",
                "tbf",
                "rate",
                &rate,
                "burst",
                &burst,
                "latency",
                &latency,
            ],
        );
    }
}

/// Read from `from`, drop or delay, write to `to`, until stopped.
fn forward(
    from: &SyncDevice,
    to: &SyncDevice,
    imp: Impairment,
    stop: &InterruptEvent,
    rng: &mut impl Rng,
    forwarded: &AtomicU64,
    dropped: &AtomicU64,
) {
    let mut queue: VecDeque<(Instant, Vec<u8>)> = VecDeque::new();
    let mut buf = vec![0u8; 65536];
    loop {
        // Deliver what is due.
        let now = Instant::now();
        while queue.front().is_some_and(|(due, _)| *due <= now) {
            if let Some((_, p)) = queue.pop_front() {
                let _ = to.send(&p);
                forwarded.fetch_add(1, Ordering::Relaxed);
            }
        }
        let wait = queue
            .front()
            .map(|(due, _)| due.saturating_duration_since(now))
            .unwrap_or(Duration::from_millis(100))
            .max(Duration::from_micros(200));
        match from.recv_intr_timeout(&mut buf, stop, Some(wait)) {
            Ok(n) => {
                if rng.gen_bool(imp.loss) {
                    dropped.fetch_add(1, Ordering::Relaxed);
                } else {
                    queue.push_back((Instant::now() + imp.delay, buf[..n].to_vec()));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => return,
            Err(e)
                if e.kind() == std::io::ErrorKind::TimedOut
                    || e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => return,
        }
    }
}
