//! What can go wrong with the library, each case said the way a person reads it (the window
//! shows these sentences; the command line prints them).

use std::path::PathBuf;

use crate::account::AccountError;
use crate::api::ApiError;
use crate::recorder::export::ExportError;
use crate::recorder::player::PlayerError;
use crate::store::StoreError;
use crate::upload::UploadError;

#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("cannot use the profile directory {}: {source}", dir.display())]
    Dir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Account(#[from] AccountError),
    #[error("not a recording id (32 hex digits)")]
    BadId,
    #[error("this recording is not on this device")]
    NotHere,
    #[error("no recording {0} here or in the cloud")]
    Unknown(String),
    #[error("the recording is in use: {0}")]
    InUse(std::io::Error),
    #[error("cannot delete {}: {source}", dir.display())]
    Delete {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not a directory", .0.display())]
    NotADirectory(PathBuf),
    #[error("cannot open the recording: {0}")]
    Open(std::io::Error),
    #[error("cannot read the recording: {0}")]
    Read(#[from] crate::disk::WitnessedError),
    #[error("the recording does not verify ({0} problem(s))")]
    DoesNotVerify(usize),
    #[error("this device's keys do not open it")]
    Keys,
    #[error("segment {0} cannot be decrypted with this identity")]
    Undecryptable(u32),
    #[error("{0}")]
    Tags(String),
    #[error("the tags are saved on this device, but the cloud copy's are not: {0}")]
    TagsOnlyHere(ApiError),
    #[error("{0}")]
    Cloud(ApiError),
    #[error("the cloud copy was not deleted: {0}")]
    CloudDelete(ApiError),
    #[error("nothing of recording {0} is waiting to be uploaded")]
    NothingToUpload(String),
    #[error("the upload stopped: {0}")]
    Upload(UploadError),
    #[error("the download failed: {0}")]
    Download(UploadError),
    #[error("no home directory to export to")]
    NoHome,
    #[error("{} already exists; nothing was overwritten", .0.display())]
    Exists(PathBuf),
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the export failed: {0}")]
    Export(#[from] ExportError),
    #[error("{0}")]
    Player(#[from] PlayerError),
}

pub type Result<T, E = LibraryError> = std::result::Result<T, E>;
