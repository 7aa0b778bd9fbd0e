//! The library against a real profile directory and real recordings on disk.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use assent_shared::SecretIdentity;
use assent_shared::consent::ConsentToken;
use assent_shared::consent::fixtures::{T0, identities, proposal};
use assent_shared::container::RecordingWriter;

use super::*;
use crate::store::RecordingState;

/// A real recording of two people with one chat segment, in the profile's library; finished
/// or left open (as a crash leaves it). Its directory and the people's identities.
fn written(profile: &Path, finished: bool) -> (PathBuf, Vec<SecretIdentity>) {
    let ids = identities(2);
    let p = proposal(&ids);
    let tokens: Vec<_> = ids
        .iter()
        .map(|i| ConsentToken::sign(i, &p, T0.plus_millis(1)))
        .collect();
    let dir = root(profile).join(p.terms.recording_id.to_string());
    let recorder = Arc::new(SecretIdentity::from_bytes(&ids[0].to_bytes()).unwrap());
    let copy = DirStore::open(&dir).unwrap();
    let mut w = RecordingWriter::create(copy, recorder, &[p], &tokens, T0).unwrap();
    let present: Vec<_> = ids.iter().map(|i| i.key()).collect();
    w.write_segment(Track::Chat, b"hello, both", &present, 0, 1000)
        .unwrap();
    if finished {
        w.finish(T0.plus_millis(2000), None).unwrap();
    }
    (dir, ids)
}

fn age(id: &SecretIdentity) -> age::x25519::Identity {
    id.age_identity().unwrap()
}

/// A row for a recording that is only a directory with one file (what deleting looks at).
fn listed(library: &Library, id: &str) -> PathBuf {
    let dir = library.root().join(id);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("segment-000000.age"), b"ciphertext").unwrap();
    library
        .store()
        .unwrap()
        .add_recording(&RecordingRow {
            id: id.into(),
            title: "Weekly sync".into(),
            dir: dir.to_string_lossy().into_owned(),
            call_id: "c".into(),
            started_at: 1,
            ended_at: Some(2),
            participants: vec![],
            tags: vec![],
            size: 10,
            segments: 1,
            state: RecordingState::Complete,
            scope: assent_shared::consent::Scope::Local,
            retention_days: 30,
            cloud_state: CloudState::None,
            uploaded_bytes: 0,
        })
        .unwrap();
    dir
}

/// Deleting the local copy removes its files and its row; a recording whose recorder holds
/// the lock is refused and left whole.
#[tokio::test]
async fn deleting_a_local_copy_respects_the_recorders_lock() {
    let profile = tempfile::tempdir().unwrap();
    let library = Library::new(profile.path());
    let here = Copies {
        local: true,
        cloud: false,
    };
    let busy = listed(&library, "busy");
    let held = lock(&library.root(), "busy").unwrap();
    let err = library.delete("busy", here).await.unwrap_err();
    assert!(matches!(err, LibraryError::InUse(_)), "{err}");
    assert!(err.to_string().contains("in use"), "{err}");
    assert!(busy.join("segment-000000.age").exists());
    drop(held);

    let done = listed(&library, "done");
    library.delete("done", here).await.unwrap();
    assert!(!done.exists());
    let ids: Vec<String> = library
        .list()
        .unwrap()
        .rows
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, ["busy"]);
    let err = library.delete("done", here).await.unwrap_err();
    assert_eq!(err.to_string(), "this recording is not on this device");
}

/// Signed out, deleting the cloud copy says so and touches nothing here.
#[tokio::test]
async fn deleting_a_cloud_copy_signed_out_is_refused() {
    let profile = tempfile::tempdir().unwrap();
    let library = Library::new(profile.path());
    let dir = listed(&library, "11111111111111111111111111111111");
    let both = Copies {
        local: true,
        cloud: true,
    };
    let err = library
        .delete("11111111111111111111111111111111", both)
        .await
        .unwrap_err();
    assert!(matches!(err, LibraryError::Account(_)), "{err}");
    assert!(dir.exists());
    let err = library.delete("not-an-id", both).await.unwrap_err();
    assert!(matches!(err, LibraryError::BadId), "{err}");
}

/// A recording on disk the store never heard of (a crash before it was told) is adopted by
/// listing, and one its recorder left open is marked incomplete.
#[test]
fn listing_adopts_and_recovers_an_interrupted_recording() {
    let profile = tempfile::tempdir().unwrap();
    let library = Library::new(profile.path());
    let (dir, _) = written(profile.path(), false);
    let id = dir.file_name().unwrap().to_string_lossy().into_owned();
    let listing = library.list().unwrap();
    assert_eq!(listing.recovered.adopted, std::slice::from_ref(&id));
    assert_eq!(listing.recovered.incomplete, std::slice::from_ref(&id));
    assert_eq!(listing.rows.len(), 1);
    assert_eq!(listing.rows[0].state, RecordingState::Incomplete);
    assert_eq!(listing.rows[0].title, "Quarterly review");
    // Listing again finds nothing new.
    let again = library.list().unwrap();
    assert_eq!(again.recovered, Recovered::default());
}

/// The chat exports as its text, readable by the user only; a second export to the same
/// name is refused and the first file is left as it was; nothing half-written remains.
#[test]
fn exporting_the_chat_writes_it_once_and_never_overwrites() {
    let profile = tempfile::tempdir().unwrap();
    let library = Library::new(profile.path());
    let (dir, ids) = written(profile.path(), true);
    let out = profile.path().join("chat.txt");
    let got = library
        .export(
            &dir,
            Track::Chat,
            Some(&out),
            Keys::Given(age(&ids[1])),
            false,
        )
        .unwrap();
    assert_eq!(got.path, out);
    assert_eq!(std::fs::read(&out).unwrap(), b"hello, both");
    assert_eq!(got.bytes, 11);
    assert!(got.tracks.is_empty());
    let mode = std::fs::metadata(&out).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    let err = library
        .export(
            &dir,
            Track::Chat,
            Some(&out),
            Keys::Given(age(&ids[0])),
            false,
        )
        .unwrap_err();
    assert!(matches!(err, LibraryError::Exists(_)), "{err}");
    assert!(err.to_string().contains("already exists"), "{err}");
    assert_eq!(std::fs::read(&out).unwrap(), b"hello, both");
    assert!(!out.with_extension("partial").exists());
}

/// Keys that are not a participant's open nothing, and the failed export leaves no file.
#[test]
fn exporting_with_someone_elses_keys_fails_and_leaves_nothing() {
    let profile = tempfile::tempdir().unwrap();
    let library = Library::new(profile.path());
    let (dir, _) = written(profile.path(), true);
    let stranger = identities(3).pop().unwrap();
    let out = profile.path().join("chat.txt");
    let err = library
        .export(
            &dir,
            Track::Chat,
            Some(&out),
            Keys::Given(age(&stranger)),
            false,
        )
        .unwrap_err();
    assert!(matches!(err, LibraryError::Undecryptable(0)), "{err}");
    assert!(!out.exists());
    assert!(!out.with_extension("partial").exists());
}

/// A copy that lost a segment does not verify: it is exported only when forced, and then the
/// missing segment fails the export without leaving a file.
#[test]
fn a_copy_that_does_not_verify_is_exported_only_when_forced() {
    let profile = tempfile::tempdir().unwrap();
    let library = Library::new(profile.path());
    let (dir, ids) = written(profile.path(), true);
    let segment = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "age"))
        .unwrap();
    std::fs::remove_file(segment).unwrap();
    let out = profile.path().join("chat.txt");
    let err = library
        .export(
            &dir,
            Track::Chat,
            Some(&out),
            Keys::Given(age(&ids[1])),
            false,
        )
        .unwrap_err();
    assert!(
        matches!(err, LibraryError::DoesNotVerify(n) if n > 0),
        "{err}"
    );
    let err = library
        .export(
            &dir,
            Track::Chat,
            Some(&out),
            Keys::Given(age(&ids[1])),
            true,
        )
        .unwrap_err();
    assert!(matches!(err, LibraryError::Undecryptable(0)), "{err}");
    assert!(!out.exists());
}

/// Verifying something that is not a recording's directory says what it is.
#[test]
fn verifying_a_missing_directory_names_it() {
    let profile = tempfile::tempdir().unwrap();
    let library = Library::new(profile.path());
    let nowhere = profile.path().join("nowhere");
    let err = library.verify(&nowhere).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{} is not a directory", nowhere.display())
    );
}

/// Tags are kept on this device's copy when signed out; an unknown recording is an error.
#[tokio::test]
async fn retagging_signed_out_keeps_the_local_copy() {
    let profile = tempfile::tempdir().unwrap();
    let library = Library::new(profile.path());
    listed(&library, "r1");
    let kept = library
        .retag("r1", &["#Design".into(), "design".into(), " q3 ".into()])
        .await
        .unwrap();
    let rows = library.list().unwrap().rows;
    assert_eq!(rows[0].tags, kept);
    assert!(!kept.is_empty());
    let err = library.retag("r2", &["x".into()]).await.unwrap_err();
    assert!(
        matches!(err, LibraryError::Unknown(ref id) if id == "r2"),
        "{err}"
    );
}

#[test]
fn export_names_carry_the_date_in_utc() {
    assert_eq!(export::date_of(0), "1970-01-01 0000");
    assert_eq!(export::date_of(T0.0), "2026-11-21 1305");
}
