//! A real S3 server: a single-node Garage (built from crates.io by `cargo xtask test`) on
//! loopback, with one bucket and one access key. It can be stopped and started again over the
//! same data (a storage outage in the middle of an upload); stopped on drop.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BUCKET: &str = "assent-recordings";
/// A fixed key pair imported into Garage (its format: `GK` and 24 hex digits; 64 hex digits).
pub const ACCESS_KEY: &str = "GK0123456789abcdef01234567";
pub const SECRET_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

pub struct Garage {
    /// `http://127.0.0.1:PORT`, the S3 API.
    pub endpoint: String,
    config: PathBuf,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl Drop for Garage {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free TCP port")
}

fn garage_bin() -> PathBuf {
    let on_path = Command::new("garage")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if on_path {
        return PathBuf::from("garage");
    }
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cargo")
        });
    home.join("bin/garage")
}

impl Garage {
    /// Start Garage, lay out its single node, and create the bucket and key.
    pub fn start() -> Garage {
        let dir = tempfile::tempdir().expect("temp dir");
        let (s3, rpc, admin) = (free_port(), free_port(), free_port());
        let config = dir.path().join("garage.toml");
        std::fs::write(
            &config,
            format!(
                r#"metadata_dir = "{meta}"
data_dir = "{data}"
db_engine = "sqlite"
compression_level = "none"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:{rpc}"
rpc_public_addr = "127.0.0.1:{rpc}"
rpc_secret = "{secret}"

[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:{s3}"
root_domain = ".s3.garage.localhost"

[admin]
api_bind_addr = "127.0.0.1:{admin}"
admin_token = "assent-e2e-admin-token"
"#,
                meta = dir.path().join("meta").display(),
                data = dir.path().join("data").display(),
                secret = "ab".repeat(32),
            ),
        )
        .expect("write garage.toml");
        let mut g = Garage {
            endpoint: format!("http://127.0.0.1:{s3}"),
            config,
            child: None,
            dir,
        };
        g.run();
        let node = g.cli(&["node", "id", "-q"]);
        let node = node
            .trim()
            .split('@')
            .next()
            .unwrap_or_default()
            .to_string();
        g.cli(&["layout", "assign", "-z", "dc1", "-c", "1G", &node]);
        g.cli(&["layout", "apply", "--version", "1"]);
        g.cli(&["bucket", "create", BUCKET]);
        g.cli(&[
            "key", "import", "-n", "assent", ACCESS_KEY, SECRET_KEY, "--yes",
        ]);
        g.cli(&[
            "bucket", "allow", "--read", "--write", BUCKET, "--key", ACCESS_KEY,
        ]);
        g
    }

    /// The server's environment for this storage.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("ASSENT_S3_ENDPOINT", self.endpoint.clone()),
            ("ASSENT_S3_REGION", "garage".into()),
            ("ASSENT_S3_BUCKET", BUCKET.into()),
            ("ASSENT_S3_ACCESS_KEY", ACCESS_KEY.into()),
            ("ASSENT_S3_SECRET_KEY", SECRET_KEY.into()),
        ]
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn run(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("garage.log")).expect("log file");
        let child = Command::new(garage_bin())
            .arg("-c")
            .arg(&self.config)
            .arg("server")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start garage ({e}); `cargo xtask test` installs it")
            });
        self.child = Some(child);
        // Ready when its RPC answers.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let st = Command::new(garage_bin())
                .arg("-c")
                .arg(&self.config)
                .arg("status")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            if st.is_ok_and(|s| s.success()) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "garage did not start: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stop it (kill -9: an outage, not a shutdown).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Start it again over the same data; returns once the S3 API accepts connections.
    pub fn restart(&mut self) {
        self.stop();
        self.run();
        let addr = self.endpoint.trim_start_matches("http://").to_string();
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(&addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "garage's S3 API did not come back"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("garage.log")).unwrap_or_default()
    }

    fn cli(&self, args: &[&str]) -> String {
        let out = Command::new(garage_bin())
            .arg("-c")
            .arg(&self.config)
            .args(args)
            .output()
            .expect("run garage");
        assert!(
            out.status.success(),
            "garage {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Every object's bytes as Garage stores them on disk (its data blocks), to check that
    /// nothing but ciphertext reached the storage.
    pub fn stored_blocks(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        walk(&self.data_dir(), &mut out);
        out
    }
}

fn walk(dir: &Path, out: &mut Vec<Vec<u8>>) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if let Ok(b) = std::fs::read(&p) {
                out.push(b);
            }
        }
    }
}
