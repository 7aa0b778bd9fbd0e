//! The recordings registry: metadata, uploads in parts, downloads and tags.

use serde::{Deserialize, Serialize};

use crate::ids::UserId;

/// Someone a recording belongs to (in its consent set).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordingPerson {
    pub user_id: UserId,
    pub display_name: String,
}

/// A stored object of a recording (ciphertext).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordingObject {
    pub name: String,
    pub size: u64,
}

/// Where a recording's cloud copy stands: being uploaded (its manifest may still grow), or
/// complete. On the wire, `"uploading"` or `"complete"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordingStatus {
    Uploading,
    Complete,
}

impl RecordingStatus {
    /// The wire (and database) spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordingStatus::Uploading => "uploading",
            RecordingStatus::Complete => "complete",
        }
    }
}

/// A recording in the registry (`GET /v1/recordings`, `/v1/recordings/{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordingInfo {
    pub id: crate::ids::RecordingId,
    pub call_id: crate::ids::CallId,
    pub title: String,
    pub recorder: UserId,
    /// `uploading` until the recorder completes the cloud copy, then `complete`.
    pub status: RecordingStatus,
    pub retention_days: u16,
    /// When the cloud copy will be deleted (Unix ms; set at completion).
    pub retention_until: Option<u64>,
    /// Ciphertext bytes the manifest lists.
    pub size: u64,
    pub created_at: u64,
    pub completed_at: Option<u64>,
    pub participants: Vec<RecordingPerson>,
    pub tags: Vec<String>,
    /// Objects already stored.
    pub objects: Vec<RecordingObject>,
    /// Whether the caller may delete it (the recorder, or an organisation admin).
    pub can_delete: bool,
}

/// `GET /v1/recordings`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordingList {
    pub recordings: Vec<RecordingInfo>,
}

/// `POST /v1/recordings/{id}/objects/{name}/uploads`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadStarted {
    pub upload_id: String,
}

/// `POST …/uploads/{upload}/parts`: which parts to presign.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartRequest {
    pub parts: Vec<u16>,
}

/// A presigned URL: absolute, or relative to the server (the embedded storage).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartUrl {
    pub part: u16,
    pub url: String,
}

impl std::fmt::Debug for PartUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PartUrl({}, ..)", self.part)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartUrls {
    pub urls: Vec<PartUrl>,
}

/// A part already stored (to resume an upload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredPart {
    pub part: u16,
    pub etag: String,
    pub size: u64,
}

/// `GET …/uploads/{upload}/parts`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredParts {
    pub parts: Vec<StoredPart>,
}

/// `POST …/uploads/{upload}/complete`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompleteUpload {
    pub parts: Vec<PartTag>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartTag {
    pub part: u16,
    pub etag: String,
}

/// `GET /v1/recordings/{id}/objects/{name}`: where to download it.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Download {
    pub url: String,
    pub size: u64,
}

impl std::fmt::Debug for Download {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Download({} bytes, ..)", self.size)
    }
}

/// `PUT /v1/recordings/{id}/tags`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetTags {
    pub tags: Vec<String>,
}

/// How many tags a recording may have.
pub const MAX_TAGS: usize = 20;
/// How long a tag may be, in characters.
pub const MAX_TAG_CHARS: usize = 40;

/// Tags as a person writes them on one line: separated by commas (`team meeting, q3`), or as
/// hashtags (`#design #q3`). Not normalised yet: see [`normalize_tags`].
pub fn split_tags(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    for piece in line.split(',') {
        let words: Vec<&str> = piece.split_whitespace().collect();
        if words.len() > 1 && words.iter().all(|w| w.starts_with('#')) {
            out.extend(words.into_iter().map(str::to_string));
        } else {
            out.push(piece.to_string());
        }
    }
    out
}

/// Tags as shown to people: `#board #q3`.
pub fn hashtags<S: AsRef<str>>(tags: &[S]) -> String {
    tags.iter()
        .map(|t| format!("#{}", t.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A recording's tags as kept: each trimmed and without a leading `#`, empty ones dropped,
/// each once (the first spelling kept, compared without regard to case), in the order given.
/// At most [`MAX_TAGS`] of at most [`MAX_TAG_CHARS`] characters, without control characters
/// or commas (which separate tags where they are written in one line).
pub fn normalize_tags<S: AsRef<str>>(tags: &[S]) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for t in tags {
        let t = t.as_ref().trim().trim_start_matches('#').trim();
        if t.is_empty() {
            continue;
        }
        if t.chars().count() > MAX_TAG_CHARS {
            return Err(format!("a tag is at most {MAX_TAG_CHARS} characters"));
        }
        if t.chars().any(char::is_control) {
            return Err("a tag cannot hold control characters".into());
        }
        if t.contains(',') {
            return Err("a tag cannot hold a comma (commas separate tags)".into());
        }
        if !out.iter().any(|o| o.to_lowercase() == t.to_lowercase()) {
            out.push(t.to_string());
        }
    }
    if out.len() > MAX_TAGS {
        return Err(format!("at most {MAX_TAGS} tags"));
    }
    Ok(out)
}

#[cfg(test)]
mod tag_tests {
    use super::*;

    #[test]
    fn tags_are_trimmed_deduplicated_and_bounded() {
        assert_eq!(
            normalize_tags(&[" board ", "#Q3", "", "q3", "# hiring", "Board"]).unwrap(),
            ["board", "Q3", "hiring"]
        );
        assert!(normalize_tags::<&str>(&[]).unwrap().is_empty());
        let ok: Vec<String> = (0..MAX_TAGS).map(|i| format!("t{i}")).collect();
        assert_eq!(normalize_tags(&ok).unwrap().len(), MAX_TAGS);
        let many: Vec<String> = (0..=MAX_TAGS).map(|i| format!("t{i}")).collect();
        assert!(normalize_tags(&many).is_err());
        // Duplicates do not count against the limit.
        let mut dup = ok.clone();
        dup.push("T0".into());
        assert!(normalize_tags(&dup).is_ok());
        assert!(normalize_tags(&["é".repeat(MAX_TAG_CHARS)]).is_ok());
        assert!(normalize_tags(&["é".repeat(MAX_TAG_CHARS + 1)]).is_err());
        assert!(normalize_tags(&["a\nb"]).is_err());
        assert!(normalize_tags(&["a,b"]).is_err());
        assert_eq!(hashtags(&["board", "Q3"]), "#board #Q3");
        assert_eq!(hashtags::<&str>(&[]), "");
        assert_eq!(
            split_tags("team meeting, q3,#a #b, #c"),
            ["team meeting", " q3", "#a", "#b", " #c"]
        );
        assert_eq!(
            normalize_tags(&split_tags("team meeting, q3,#a #b, #c")).unwrap(),
            ["team meeting", "q3", "a", "b", "c"]
        );
    }
}
