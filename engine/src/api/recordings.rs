//! The recordings registry, uploads in parts, and the presigned storage URLs (checked against the storage pin).

use super::*;

impl Api {
    /// Register a recording with its signed manifest (again: harmless).
    pub async fn register_recording(&self, manifest: Vec<u8>) -> Result<RecordingInfo> {
        let req = self
            .request(Method::POST, "/v1/recordings")
            .header("content-type", "application/octet-stream")
            .body(manifest);
        self.exchange(req)
            .await?
            .ok_or_else(|| ApiError::Protocol("empty answer to a registration".into()))
    }

    /// A newer manifest of a registered recording.
    pub async fn put_manifest(&self, id: &RecordingId, manifest: Vec<u8>) -> Result<()> {
        let req = self
            .request(Method::PUT, &format!("/v1/recordings/{id}/manifest"))
            .header("content-type", "application/octet-stream")
            .body(manifest);
        self.exchange::<serde_json::Value>(req).await.map(|_| ())
    }

    pub async fn recordings(&self) -> Result<Vec<RecordingInfo>> {
        Ok(self
            .get::<RecordingList>("/v1/recordings")
            .await?
            .recordings)
    }

    /// Every recording's metadata (organisation admins).
    pub async fn all_recordings(&self) -> Result<Vec<RecordingInfo>> {
        Ok(self
            .get::<RecordingList>("/v1/recordings?all=true")
            .await?
            .recordings)
    }

    /// One recording, with its signed manifest when the caller is a participant.
    pub async fn recording(&self, id: &RecordingId) -> Result<(RecordingInfo, Option<Vec<u8>>)> {
        let mut v: serde_json::Value = self.get(&format!("/v1/recordings/{id}")).await?;
        let manifest = match v.as_object_mut().and_then(|o| o.remove("manifest")) {
            Some(serde_json::Value::String(b)) => Some(
                data_encoding::BASE64
                    .decode(b.as_bytes())
                    .map_err(|e| ApiError::Protocol(format!("manifest: {e}")))?,
            ),
            _ => None,
        };
        let info = serde_json::from_value(v).map_err(|e| ApiError::Protocol(e.to_string()))?;
        Ok((info, manifest))
    }

    /// Complete the cloud copy; `interrupted` for a recording whose recorder crashed (its
    /// manifest has no ending).
    pub async fn complete_recording(
        &self,
        id: &RecordingId,
        interrupted: bool,
    ) -> Result<RecordingInfo> {
        let q = if interrupted { "?interrupted=true" } else { "" };
        self.post(
            &format!("/v1/recordings/{id}/complete{q}"),
            &serde_json::json!({}),
        )
        .await
    }

    /// Set a recording's tags (one set, shared by its participants).
    pub async fn set_recording_tags(&self, id: &RecordingId, tags: &[String]) -> Result<()> {
        self.send::<_, serde_json::Value>(
            Method::PUT,
            &format!("/v1/recordings/{id}/tags"),
            Some(&assent_shared::api::SetTags {
                tags: tags.to_vec(),
            }),
        )
        .await
        .map(|_| ())
    }

    pub async fn delete_recording(&self, id: &RecordingId) -> Result<()> {
        self.send::<(), serde_json::Value>(Method::DELETE, &format!("/v1/recordings/{id}"), None)
            .await
            .map(|_| ())
    }

    pub async fn start_upload(&self, id: &RecordingId, name: &str) -> Result<UploadStarted> {
        self.post(
            &format!("/v1/recordings/{id}/objects/{}/uploads", url_escape(name)),
            &serde_json::json!({}),
        )
        .await
    }

    fn upload_path(id: &RecordingId, name: &str, upload: &str) -> String {
        format!(
            "/v1/recordings/{id}/objects/{}/uploads/{}",
            url_escape(name),
            url_escape(upload)
        )
    }

    pub async fn part_urls(
        &self,
        id: &RecordingId,
        name: &str,
        upload: &str,
        parts: Vec<u16>,
    ) -> Result<Vec<PartUrl>> {
        let path = format!("{}/parts", Self::upload_path(id, name, upload));
        Ok(self
            .post::<_, PartUrls>(&path, &PartRequest { parts })
            .await?
            .urls)
    }

    pub async fn stored_parts(
        &self,
        id: &RecordingId,
        name: &str,
        upload: &str,
    ) -> Result<Vec<StoredPart>> {
        let path = format!("{}/parts", Self::upload_path(id, name, upload));
        Ok(self.get::<StoredParts>(&path).await?.parts)
    }

    pub async fn complete_upload(
        &self,
        id: &RecordingId,
        name: &str,
        upload: &str,
        parts: Vec<PartTag>,
    ) -> Result<RecordingObject> {
        let path = format!("{}/complete", Self::upload_path(id, name, upload));
        self.post(&path, &CompleteUpload { parts }).await
    }

    pub async fn download_url(&self, id: &RecordingId, name: &str) -> Result<Download> {
        self.get(&format!("/v1/recordings/{id}/objects/{}", url_escape(name)))
            .await
    }

    /// A presigned URL made absolute (the embedded storage's are relative to the server).
    fn presigned(&self, url: &str) -> String {
        if url.starts_with('/') {
            format!("{}{url}", self.base)
        } else {
            url.to_string()
        }
    }

    /// A presigned URL made absolute and checked: https (or this machine), and the server's own
    /// origin or its pinned storage.
    fn storage_url(&self, url: &str) -> Result<String> {
        let full = self.presigned(url);
        let u = fetchable(&full)?;
        self.storage.check(&self.base, &u)?;
        Ok(full)
    }

    /// PUT bytes to a presigned URL; the object storage's ETag.
    pub async fn put_presigned(&self, url: &str, bytes: Vec<u8>) -> Result<String> {
        let full = self.storage_url(url)?;
        let resp = self
            .http
            .put(full)
            .timeout(Duration::from_secs(300))
            .body(bytes)
            .send()
            .await
            .map_err(|e| ApiError::Network(e.without_url().to_string()))?;
        let status = resp.status();
        let etag = resp
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if !status.is_success() {
            return Err(storage_refusal(status));
        }
        etag.ok_or_else(|| ApiError::Protocol("the storage answered without an ETag".into()))
    }

    /// GET a presigned URL, reading at most `max_bytes` (the size the signed manifest
    /// promises): a server or storage that sends more is cut off, not buffered.
    pub async fn get_presigned(&self, url: &str, max_bytes: u64) -> Result<Vec<u8>> {
        let full = self.storage_url(url)?;
        let mut resp = self
            .http
            .get(&full)
            .timeout(Duration::from_secs(300))
            .send()
            .await
            .map_err(|e| ApiError::Network(e.without_url().to_string()))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(storage_refusal(status));
        }
        let too_much = || {
            ApiError::Protocol(format!(
                "the storage sent more than the {max_bytes} bytes the signed manifest promises"
            ))
        };
        if resp.content_length().is_some_and(|n| n > max_bytes) {
            return Err(too_much());
        }
        let mut out = Vec::with_capacity(max_bytes.min(64 << 20) as usize);
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| ApiError::Network(e.without_url().to_string()))?
        {
            if (out.len() + chunk.len()) as u64 > max_bytes {
                return Err(too_much());
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }
}
