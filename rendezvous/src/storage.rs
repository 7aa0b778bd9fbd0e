//! Where recording ciphertext is kept: an S3 bucket, or by default a local directory served by
//! this server. Clients never hold storage credentials: they get short-lived presigned URLs for
//! the objects they may touch, and the same multipart contract either way (create, presigned
//! part uploads, list parts to resume, complete, abort; presigned GET to download). Signing for
//! S3 is rusty-s3's (SigV4); the local backend signs its URLs with an HMAC of the server secret.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
use serde::Deserialize;

use crate::clock::Clock;
use sha2::{Digest, Sha256};

/// How long a presigned URL works.
pub const URL_TTL: Duration = Duration::from_secs(15 * 60);
/// Largest part accepted by the local backend.
pub const MAX_PART_BYTES: usize = 64 * 1024 * 1024;

/// `[storage]` in the configuration. Without `s3_endpoint`, objects live under the data
/// directory (`objects/`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// e.g. `https://s3.eu-west-1.amazonaws.com` or `http://127.0.0.1:3900` (Garage).
    pub s3_endpoint: Option<String>,
    pub s3_region: Option<String>,
    pub s3_bucket: Option<String>,
    pub s3_access_key: Option<String>,
    pub s3_secret_key: Option<String>,
    /// Virtual-host style URLs (`bucket.host`) instead of path style (`host/bucket`).
    pub virtual_host: bool,
    /// How often the retention job runs, seconds (default 600).
    pub retention_interval_secs: Option<u64>,
    /// Cloud storage each account may use for the recordings it makes, bytes (default 10 GiB).
    pub quota_bytes_per_user: Option<u64>,
}

/// The default per-account storage quota: 10 GiB.
pub const DEFAULT_QUOTA_BYTES: u64 = 10 << 30;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("storage: {0}")]
    Failed(String),
    #[error("no such upload")]
    NoUpload,
    /// A part larger than [`MAX_PART_BYTES`].
    #[error("the part is too large")]
    TooLarge,
    /// The parts named to complete an upload are not the ones stored (missing, changed, or
    /// too small).
    #[error("parts do not match the stored ones: {0}")]
    InvalidPart(String),
    #[error("invalid storage configuration: {0}")]
    Config(String),
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// One uploaded part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    pub number: u16,
    pub etag: String,
    pub size: u64,
}

pub enum Storage {
    S3(S3Store),
    Local(LocalStore),
}

impl Storage {
    pub fn from_config(
        c: &StorageConfig,
        data_dir: &Path,
        secret: &[u8; 32],
        clock: Arc<dyn Clock>,
    ) -> Result<Storage> {
        match &c.s3_endpoint {
            None => Ok(Storage::Local(LocalStore::new(
                data_dir.join("objects"),
                secret,
                clock,
            )?)),
            Some(endpoint) => {
                let need = |v: &Option<String>, name: &str| {
                    v.clone().ok_or_else(|| {
                        StorageError::Config(format!("{name} is needed with s3_endpoint"))
                    })
                };
                let url = endpoint
                    .parse()
                    .map_err(|e| StorageError::Config(format!("s3_endpoint: {e}")))?;
                let style = if c.virtual_host {
                    UrlStyle::VirtualHost
                } else {
                    UrlStyle::Path
                };
                let bucket = Bucket::new(
                    url,
                    style,
                    need(&c.s3_bucket, "s3_bucket")?,
                    c.s3_region.clone().unwrap_or_else(|| "us-east-1".into()),
                )
                .map_err(|e| StorageError::Config(e.to_string()))?;
                let creds = Credentials::new(
                    need(&c.s3_access_key, "s3_access_key")?,
                    need(&c.s3_secret_key, "s3_secret_key")?,
                );
                Ok(Storage::S3(S3Store {
                    bucket,
                    creds,
                    http: reqwest::Client::builder()
                        .timeout(Duration::from_secs(30))
                        .build()
                        .map_err(|e| StorageError::Config(e.to_string()))?,
                }))
            }
        }
    }

    /// A URL to download `key` (absolute for S3, server-relative for the local backend).
    pub fn presign_get(&self, key: &str) -> String {
        match self {
            Storage::S3(s) => s
                .bucket
                .get_object(Some(&s.creds), key)
                .sign(URL_TTL)
                .to_string(),
            Storage::Local(l) => l.url("GET", key, None),
        }
    }

    pub async fn create_multipart(&self, key: &str) -> Result<String> {
        match self {
            Storage::S3(s) => s.create_multipart(key).await,
            Storage::Local(l) => l.create_multipart(key).await,
        }
    }

    /// A URL to PUT part `number` (1 to 10000) of an upload.
    pub fn presign_part(&self, key: &str, upload_id: &str, number: u16) -> String {
        match self {
            Storage::S3(s) => s
                .bucket
                .upload_part(Some(&s.creds), key, number, upload_id)
                .sign(URL_TTL)
                .to_string(),
            Storage::Local(l) => l.url("PUT", key, Some((upload_id, number))),
        }
    }

    pub async fn list_parts(&self, key: &str, upload_id: &str) -> Result<Vec<Part>> {
        match self {
            Storage::S3(s) => s.list_parts(key, upload_id).await,
            Storage::Local(l) => l.list_parts(upload_id).await,
        }
    }

    pub async fn complete(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[(u16, String)],
    ) -> Result<()> {
        match self {
            Storage::S3(s) => s.complete(key, upload_id, parts).await,
            Storage::Local(l) => l.complete(key, upload_id, parts).await,
        }
    }

    pub async fn abort(&self, key: &str, upload_id: &str) -> Result<()> {
        match self {
            Storage::S3(s) => s.abort(key, upload_id).await,
            Storage::Local(l) => l.abort(upload_id).await,
        }
    }

    /// The size of `key`, if it exists.
    pub async fn head(&self, key: &str) -> Result<Option<u64>> {
        match self {
            Storage::S3(s) => s.head(key).await,
            Storage::Local(l) => Ok(tokio::fs::metadata(l.path(key)?)
                .await
                .ok()
                .map(|m| m.len())),
        }
    }

    /// Store a small object directly (the server writes the final manifest itself).
    pub async fn put(&self, key: &str, body: Vec<u8>) -> Result<()> {
        match self {
            Storage::S3(s) => {
                let url = s.bucket.put_object(Some(&s.creds), key).sign(URL_TTL);
                let r = s.http.put(url).body(body).send().await.map_err(net)?;
                ok(r).await.map(|_| ())
            }
            Storage::Local(l) => l.write(key, &body).await,
        }
    }

    /// Delete `key` (absent is fine: deletion is idempotent).
    pub async fn delete(&self, key: &str) -> Result<()> {
        match self {
            Storage::S3(s) => {
                let url = s.bucket.delete_object(Some(&s.creds), key).sign(URL_TTL);
                let r = s.http.delete(url).send().await.map_err(net)?;
                if r.status().is_success() || r.status() == reqwest::StatusCode::NOT_FOUND {
                    Ok(())
                } else {
                    Err(StorageError::Failed(format!("delete: HTTP {}", r.status())))
                }
            }
            Storage::Local(l) => match tokio::fs::remove_file(l.path(key)?).await {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(StorageError::Failed(e.to_string())),
            },
        }
    }

    pub fn local(&self) -> Option<&LocalStore> {
        match self {
            Storage::Local(l) => Some(l),
            Storage::S3(_) => None,
        }
    }
}

fn net(e: reqwest::Error) -> StorageError {
    StorageError::Failed(e.without_url().to_string())
}

async fn ok(r: reqwest::Response) -> Result<String> {
    let status = r.status();
    let text = r.text().await.map_err(net)?;
    if status.is_success() {
        Ok(text)
    } else if status == reqwest::StatusCode::NOT_FOUND && text.contains("NoSuchUpload") {
        Err(StorageError::NoUpload)
    } else if status == reqwest::StatusCode::BAD_REQUEST
        && ["InvalidPart", "EntityTooSmall"]
            .iter()
            .any(|c| text.contains(&format!("<Code>{c}</Code>")))
    {
        Err(StorageError::InvalidPart(format!("HTTP {status}")))
    } else {
        Err(StorageError::Failed(format!("HTTP {status}")))
    }
}

/// An S3 bucket.
pub struct S3Store {
    bucket: Bucket,
    creds: Credentials,
    http: reqwest::Client,
}

impl S3Store {
    async fn create_multipart(&self, key: &str) -> Result<String> {
        let url = self
            .bucket
            .create_multipart_upload(Some(&self.creds), key)
            .sign(URL_TTL);
        let r = self.http.post(url).send().await.map_err(net)?;
        let text = ok(r).await?;
        let parsed = rusty_s3::actions::CreateMultipartUpload::parse_response(&text)
            .map_err(|e| StorageError::Failed(e.to_string()))?;
        Ok(parsed.upload_id().to_string())
    }

    async fn list_parts(&self, key: &str, upload_id: &str) -> Result<Vec<Part>> {
        let mut out = Vec::new();
        let mut marker: Option<u16> = None;
        loop {
            let mut action = self.bucket.list_parts(Some(&self.creds), key, upload_id);
            if let Some(m) = marker {
                action.set_part_number_marker(m);
            }
            let url = action.sign(URL_TTL);
            let r = self.http.get(url).send().await.map_err(net)?;
            let text = ok(r).await?;
            let parsed = rusty_s3::actions::ListParts::parse_response(&text)
                .map_err(|e| StorageError::Failed(e.to_string()))?;
            out.extend(parsed.parts.iter().map(|p| Part {
                number: p.number,
                etag: p.etag.clone(),
                size: p.size,
            }));
            match parsed.next_part_number_marker {
                Some(m) if parsed.parts.len() >= usize::from(parsed.max_parts) => marker = Some(m),
                _ => return Ok(out),
            }
        }
    }

    async fn complete(&self, key: &str, upload_id: &str, parts: &[(u16, String)]) -> Result<()> {
        let mut sorted: Vec<&(u16, String)> = parts.iter().collect();
        sorted.sort_by_key(|p| p.0);
        let action = self.bucket.complete_multipart_upload(
            Some(&self.creds),
            key,
            upload_id,
            sorted.iter().map(|p| p.1.as_str()),
        );
        let url = action.sign(URL_TTL);
        let body = action.body();
        let r = self.http.post(url).body(body).send().await.map_err(net)?;
        let text = ok(r).await?;
        // S3 can answer 200 with an error document.
        if text.contains("<Error>") {
            return Err(if text.contains("InvalidPart") {
                StorageError::InvalidPart("complete refused".into())
            } else {
                StorageError::Failed("complete refused".into())
            });
        }
        Ok(())
    }

    async fn abort(&self, key: &str, upload_id: &str) -> Result<()> {
        let url = self
            .bucket
            .abort_multipart_upload(Some(&self.creds), key, upload_id)
            .sign(URL_TTL);
        let r = self.http.delete(url).send().await.map_err(net)?;
        match ok(r).await {
            Ok(_) | Err(StorageError::NoUpload) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn head(&self, key: &str) -> Result<Option<u64>> {
        let url = self
            .bucket
            .head_object(Some(&self.creds), key)
            .sign(URL_TTL);
        let r = self.http.head(url).send().await.map_err(net)?;
        if r.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !r.status().is_success() {
            return Err(StorageError::Failed(format!("head: HTTP {}", r.status())));
        }
        // The header itself: for a HEAD response the client's notion of the body length is 0.
        r.headers()
            .get(reqwest::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .map(Some)
            .ok_or_else(|| StorageError::Failed("head: no Content-Length".into()))
    }
}

/// Objects in a directory, behind the same presigned-URL contract (served under
/// `/v1/storage/`).
pub struct LocalStore {
    dir: PathBuf,
    /// The key that signs this store's URLs (derived from the server secret, for this use only).
    key: zeroize::Zeroizing<[u8; 32]>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for LocalStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LocalStore({})", self.dir.display())
    }
}

/// What a local presigned URL authorizes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalGrant {
    pub method: String,
    pub key: String,
    pub upload: Option<(String, u16)>,
}

fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 200
        && key.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        })
}

fn valid_upload_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

impl LocalStore {
    fn new(dir: PathBuf, secret: &[u8; 32], clock: Arc<dyn Clock>) -> Result<LocalStore> {
        std::fs::create_dir_all(dir.join(".uploads"))
            .map_err(|e| StorageError::Config(format!("{}: {e}", dir.display())))?;
        // A key of its own: HMAC-SHA256(server secret, label) as a PRF.
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret)
            .map_err(|e| StorageError::Config(e.to_string()))?;
        m.update(b"assent/rendezvous/local-storage-url/v1");
        let key = zeroize::Zeroizing::new(m.finalize().into_bytes().into());
        Ok(LocalStore { dir, key, clock })
    }

    fn path(&self, key: &str) -> Result<PathBuf> {
        if !valid_key(key) {
            return Err(StorageError::Failed("invalid object key".into()));
        }
        Ok(self.dir.join(key))
    }

    fn upload_dir(&self, upload_id: &str) -> Result<PathBuf> {
        if !valid_upload_id(upload_id) {
            return Err(StorageError::NoUpload);
        }
        Ok(self.dir.join(".uploads").join(upload_id))
    }

    fn mac(&self, method: &str, key: &str, upload: Option<(&str, u16)>, expires: u64) -> String {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.key[..])
            .expect("HMAC takes any key length");
        m.update(b"assent-local-storage-v1\n");
        m.update(method.as_bytes());
        m.update(b"\n");
        m.update(key.as_bytes());
        m.update(b"\n");
        if let Some((id, n)) = upload {
            m.update(format!("{id}/{n}").as_bytes());
        }
        m.update(b"\n");
        m.update(expires.to_string().as_bytes());
        data_encoding::BASE64URL_NOPAD.encode(&m.finalize().into_bytes())
    }

    /// A server-relative presigned URL.
    fn url(&self, method: &str, key: &str, upload: Option<(&str, u16)>) -> String {
        let expires = self.clock.now().0 / 1000 + URL_TTL.as_secs();
        let sig = self.mac(method, key, upload, expires);
        let mut q = format!("expires={expires}&sig={sig}");
        if let Some((id, n)) = upload {
            q = format!("upload={id}&part={n}&{q}");
        }
        format!("/v1/storage/{key}?{q}")
    }

    /// Check a presigned request (constant-time comparison of the signature).
    pub fn check(
        &self,
        method: &str,
        key: &str,
        upload: Option<(&str, u16)>,
        expires: u64,
        sig: &str,
        now_secs: u64,
    ) -> bool {
        if expires < now_secs || !valid_key(key) {
            return false;
        }
        let want = self.mac(method, key, upload, expires);
        subtle::ConstantTimeEq::ct_eq(want.as_bytes(), sig.as_bytes()).into()
    }

    async fn create_multipart(&self, _key: &str) -> Result<String> {
        let id = assent_shared::ids::UserId::random().to_string();
        tokio::fs::create_dir_all(self.upload_dir(&id)?)
            .await
            .map_err(|e| StorageError::Failed(e.to_string()))?;
        Ok(id)
    }

    /// Store one part (from a presigned PUT) as it arrives, chunk by chunk, never more than
    /// `max` bytes and never whole in memory; its ETag (kept beside it).
    pub async fn put_part_stream<S, E>(
        &self,
        upload_id: &str,
        number: u16,
        mut body: S,
        max: usize,
    ) -> Result<String>
    where
        S: futures_util::Stream<Item = std::result::Result<bytes::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        use futures_util::StreamExt;
        use tokio::io::AsyncWriteExt;
        let dir = self.upload_dir(upload_id)?;
        if !dir.is_dir() {
            return Err(StorageError::NoUpload);
        }
        let path = dir.join(format!("{number:05}"));
        let tmp = path.with_extension("partial");
        let err = |e: std::io::Error| StorageError::Failed(e.to_string());
        let mut file = tokio::fs::File::create(&tmp).await.map_err(err)?;
        let mut hash = Sha256::new();
        let mut total = 0usize;
        let written: Result<()> = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| StorageError::Failed(format!("body: {e}")))?;
                total += chunk.len();
                if total > max {
                    return Err(StorageError::TooLarge);
                }
                hash.update(&chunk);
                file.write_all(&chunk).await.map_err(err)?;
            }
            file.sync_all().await.map_err(err)
        }
        .await;
        if let Err(e) = written {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e);
        }
        let etag = format!("\"{}\"", data_encoding::HEXLOWER.encode(&hash.finalize()));
        tokio::fs::rename(&tmp, &path).await.map_err(err)?;
        atomic_write(&path.with_extension("etag"), etag.as_bytes()).await?;
        Ok(etag)
    }

    async fn list_parts(&self, upload_id: &str) -> Result<Vec<Part>> {
        let dir = self.upload_dir(upload_id)?;
        let mut rd = tokio::fs::read_dir(&dir)
            .await
            .map_err(|_| StorageError::NoUpload)?;
        let err = |e: std::io::Error| StorageError::Failed(e.to_string());
        let mut out = Vec::new();
        while let Ok(Some(e)) = rd.next_entry().await {
            let name = e.file_name().to_string_lossy().into_owned();
            let Ok(number) = name.parse::<u16>() else {
                continue;
            };
            let size = e.metadata().await.map_err(err)?.len();
            // The ETag written beside the part (a part stored by an older server: hashed now).
            let etag = match tokio::fs::read_to_string(e.path().with_extension("etag")).await {
                Ok(t) => t,
                Err(_) => {
                    let body = tokio::fs::read(e.path()).await.map_err(err)?;
                    format!(
                        "\"{}\"",
                        data_encoding::HEXLOWER.encode(&Sha256::digest(&body))
                    )
                }
            };
            out.push(Part { number, etag, size });
        }
        out.sort_by_key(|p| p.number);
        Ok(out)
    }

    /// Join the parts into the object file by file (copied from disk to disk, never together
    /// in memory).
    async fn complete(&self, key: &str, upload_id: &str, parts: &[(u16, String)]) -> Result<()> {
        let have = self.list_parts(upload_id).await?;
        let dir = self.upload_dir(upload_id)?;
        let path = self.path(key)?;
        let err = |e: std::io::Error| StorageError::Failed(e.to_string());
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(err)?;
        }
        let mut sorted: Vec<&(u16, String)> = parts.iter().collect();
        sorted.sort_by_key(|p| p.0);
        let tmp = path.with_extension("partial");
        let mut out = tokio::fs::File::create(&tmp).await.map_err(err)?;
        let joined: Result<()> = async {
            for (n, etag) in sorted {
                let part = have
                    .iter()
                    .find(|p| p.number == *n && p.etag == *etag)
                    .ok_or_else(|| {
                        StorageError::InvalidPart(format!("part {n} missing or changed"))
                    })?;
                let mut f = tokio::fs::File::open(dir.join(format!("{:05}", part.number)))
                    .await
                    .map_err(err)?;
                tokio::io::copy(&mut f, &mut out).await.map_err(err)?;
            }
            out.sync_all().await.map_err(err)
        }
        .await;
        if let Err(e) = joined {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e);
        }
        tokio::fs::rename(&tmp, &path).await.map_err(err)?;
        let _ = tokio::fs::remove_dir_all(&dir).await;
        Ok(())
    }

    async fn abort(&self, upload_id: &str) -> Result<()> {
        let dir = self.upload_dir(upload_id)?;
        match tokio::fs::remove_dir_all(&dir).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StorageError::Failed(e.to_string())),
        }
    }

    async fn write(&self, key: &str, body: &[u8]) -> Result<()> {
        let path = self.path(key)?;
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| StorageError::Failed(e.to_string()))?;
        }
        atomic_write(&path, body).await
    }

    /// Open an object for a presigned GET: its length, and its bytes as a stream of chunks of
    /// at most [`READ_CHUNK`] bytes (an object is never held in memory whole).
    pub async fn open_read(&self, key: &str) -> Result<Option<(u64, ObjectStream)>> {
        let file = match tokio::fs::File::open(self.path(key)?).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StorageError::Failed(e.to_string())),
        };
        let len = file
            .metadata()
            .await
            .map_err(|e| StorageError::Failed(e.to_string()))?
            .len();
        let stream = futures_util::stream::unfold(Some(file), |file| async move {
            use tokio::io::AsyncReadExt;
            let mut file = file?;
            let mut buf = vec![0u8; READ_CHUNK];
            match file.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok(bytes::Bytes::from(buf)), Some(file)))
                }
                // The error ends the stream (and the response).
                Err(e) => Some((Err(e), None)),
            }
        });
        Ok(Some((len, Box::pin(stream))))
    }
}

/// The largest chunk a presigned GET of the embedded store reads at a time.
pub const READ_CHUNK: usize = 256 * 1024;

/// An object's bytes, chunk by chunk.
pub type ObjectStream = std::pin::Pin<
    Box<dyn futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static>,
>;

async fn atomic_write(path: &Path, body: &[u8]) -> Result<()> {
    let tmp = path.with_extension("partial");
    let err = |e: std::io::Error| StorageError::Failed(e.to_string());
    tokio::fs::write(&tmp, body).await.map_err(err)?;
    tokio::fs::File::open(&tmp)
        .await
        .map_err(err)?
        .sync_all()
        .await
        .map_err(err)?;
    tokio::fs::rename(&tmp, path).await.map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A presigned GET streams the object in bounded chunks, whatever its size.
    #[tokio::test]
    async fn objects_are_read_in_bounded_chunks() {
        use futures_util::StreamExt;
        let dir = tempfile::tempdir().unwrap();
        let clock = crate::clock::ManualClock::at(assent_shared::Timestamp(1_795_266_300_000));
        let l = LocalStore::new(dir.path().to_path_buf(), &[7; 32], Arc::new(clock)).unwrap();
        let body: Vec<u8> = (0..3 * READ_CHUNK + 17).map(|i| (i * 7) as u8).collect();
        l.write("r/x.age", &body).await.unwrap();
        let (len, mut stream) = l.open_read("r/x.age").await.unwrap().unwrap();
        assert_eq!(len, body.len() as u64);
        let mut got = Vec::new();
        let mut chunks = 0;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.unwrap();
            assert!(chunk.len() <= READ_CHUNK);
            got.extend_from_slice(&chunk);
            chunks += 1;
        }
        assert_eq!(got, body);
        assert!(chunks >= 4, "{chunks} chunks");
        assert!(l.open_read("r/none.age").await.unwrap().is_none());
    }

    #[test]
    fn keys_and_signatures() {
        assert!(valid_key("recordings/abc/segment-000001.age"));
        for bad in ["", "../x", "a//b", "a/./b", "a b", "/abs"] {
            assert!(!valid_key(bad), "{bad}");
        }
        let dir = tempfile::tempdir().unwrap();
        let clock = crate::clock::ManualClock::at(assent_shared::Timestamp(1_795_266_300_000));
        let l = LocalStore::new(dir.path().to_path_buf(), &[7; 32], Arc::new(clock)).unwrap();
        let url = l.url(
            "PUT",
            "r/x.age",
            Some(("00112233445566778899aabbccddeeff", 3)),
        );
        let q: std::collections::HashMap<String, String> = url
            .split_once('?')
            .unwrap()
            .1
            .split('&')
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap();
                (k.to_string(), v.to_string())
            })
            .collect();
        let expires: u64 = q["expires"].parse().unwrap();
        assert_eq!(
            expires,
            1_795_266_300 + URL_TTL.as_secs(),
            "from the server's clock"
        );
        let up = Some(("00112233445566778899aabbccddeeff", 3));
        assert!(l.check("PUT", "r/x.age", up, expires, &q["sig"], expires - 10));
        assert!(!l.check("GET", "r/x.age", up, expires, &q["sig"], expires - 10));
        assert!(!l.check("PUT", "r/y.age", up, expires, &q["sig"], expires - 10));
        assert!(!l.check("PUT", "r/x.age", None, expires, &q["sig"], expires - 10));
        assert!(
            !l.check("PUT", "r/x.age", up, expires, &q["sig"], expires + 1),
            "expired"
        );
    }
}
