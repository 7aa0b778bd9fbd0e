//! The viewer: what a recording's evidence and playback look like, and what its actions ask for.

use super::*;
use assent_shared::container::{DirStore, decrypt_segment, verify};
use iced_test::simulator;

/// A real recording: the demo's (four people, a newcomer, a withdrawal, chat), and
/// Alice's age identity.
fn demo() -> (tempfile::TempDir, std::path::PathBuf, age::x25519::Identity) {
    let dir = tempfile::tempdir().unwrap();
    crate::cli::demo::run(crate::cli::demo::DemoArgs {
        dir: Some(dir.path().to_path_buf()),
    })
    .unwrap();
    let key = std::fs::read_to_string(dir.path().join("keys/alice.agekey")).unwrap();
    let id: age::x25519::Identity = key.trim().parse().unwrap();
    let rec = dir.path().join("recording");
    (dir, rec, id)
}

fn chat(report: &Report, rec: &std::path::Path, id: &age::x25519::Identity) -> Vec<u8> {
    let ds = DirStore::open(rec).unwrap();
    let mut out = Vec::new();
    for s in report
        .manifest
        .segments
        .iter()
        .filter(|s| s.track == Track::Chat)
    {
        out.extend_from_slice(&decrypt_segment(&ds, &report.manifest, s.index, id).unwrap());
    }
    out
}

/// The viewer of an intact recording: the verdict, who agreed in each epoch (named when
/// known), how it ended, the chat; export asks first and warns.
#[test]
fn an_intact_recording_shows_its_evidence_and_chat() {
    let (_tmp, rec, id) = demo();
    let report = verify(&DirStore::open(&rec).unwrap()).unwrap();
    let recorder = report.manifest.recorder().unwrap();
    let known = BTreeMap::from([(recorder, "Alice".to_string())]);
    let names = Names {
        known: &known,
        me: None,
    };
    let text = chat(&report, &rec, &id);
    let o = opened(&report, rec.to_str().unwrap(), &names, Ok(text));
    assert_eq!(o.verdict, assent_shared::container::Verdict::Intact);
    assert_eq!(o.recorder, "Alice");
    assert_eq!(o.epochs.len(), 2, "the newcomer extended the consent");
    assert_eq!(
        o.epochs.iter().map(|e| e.signed.len()).sum::<usize>(),
        7,
        "three signatures for the first epoch, four (everyone asked again) for the second"
    );
    assert!(o.epochs[0].signed.iter().any(|s| s.who == "Alice"));
    let (_, how) = o.ended.clone().expect("it ended");
    assert!(
        how.starts_with("consent withdrawn by participant "),
        "{how}"
    );
    let lines = o.chat.clone().unwrap();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0].from, "Alice");
    assert_eq!(lines[1].text, "Go ahead.");

    let mut v = Viewer::new(o, TimeZone::UTC);
    {
        let mut ui =
            iced_test::Simulator::with_size(iced::Settings::default(), (1280.0, 2000.0), v.view());
        assert!(
            ui.find("✓ Intact: every consent signature and every segment verifies.")
                .is_ok()
        );
        assert!(ui.find("Alice: Thanks, everyone. Recording now.").is_ok());
    }
    let messages: Vec<Message> = {
        let mut ui =
            iced_test::Simulator::with_size(iced::Settings::default(), (1280.0, 2000.0), v.view());
        ui.click("Export video…").unwrap();
        ui.into_messages().collect()
    };
    for m in messages {
        assert_eq!(v.update(m), None, "export asks first");
    }
    assert_eq!(v.confirm, Some(Track::Media));
    assert_eq!(
        v.update(Message::ConfirmExport),
        Some(Event::Export {
            dir: rec.to_string_lossy().into_owned(),
            track: Track::Media
        })
    );
    v.on_exported(Ok("/home/ada/Videos/Assent/Demo.mkv".into()));
    let mut ui = simulator(v.view());
    assert!(
        ui.find("Exported to /home/ada/Videos/Assent/Demo.mkv")
            .is_ok()
    );
}

/// The recording plays in the viewer: decrypted in memory with a participant's key, the
/// first picture while paused, Play from the button, the seek bar moves playback, the time
/// shows against the length.
#[test]
fn the_recording_plays_and_seeks_in_the_viewer() {
    use assent_engine::{Player, PlayerSegment as Segment, Sound};
    let (_tmp, rec, id) = demo();
    let ds = DirStore::open(&rec).unwrap();
    let report = verify(&ds).unwrap();
    let segments: Vec<Segment> = report
        .manifest
        .segments
        .iter()
        .filter(|s| s.track == Track::Media)
        .map(|s| Segment {
            start_ms: s.start_ms,
            duration_ms: u64::from(s.duration_ms),
            bytes: decrypt_segment(&ds, &report.manifest, s.index, &id).unwrap(),
        })
        .collect();
    let known = BTreeMap::new();
    let names = Names {
        known: &known,
        me: None,
    };
    let mut v = Viewer::new(
        opened(&report, rec.to_str().unwrap(), &names, Ok(Vec::new())),
        TimeZone::UTC,
    );
    {
        let mut ui = simulator(v.view());
        assert!(ui.find("Decrypting the recording…").is_ok());
    }
    let first = segments[0].start_ms;
    let player = Arc::new(Player::new(segments, Sound::Discard).unwrap());
    let length = player.duration_ms();
    v.on_media(Ok(player.clone()));
    let until = |what: &str, f: &dyn Fn() -> bool| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !f() {
            assert!(std::time::Instant::now() < deadline, "timed out: {what}");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    };
    until("the first picture", &|| !player.frames().is_empty());
    v.on_frame();
    assert_eq!(v.playback.frames.len(), 1, "the demo's one video track");
    {
        let mut ui = simulator(v.view());
        let at = times(first, length);
        assert!(ui.find(at.as_str()).is_ok(), "{at}");
    }
    let messages: Vec<Message> = {
        let mut ui = simulator(v.view());
        ui.click("Play").unwrap();
        ui.into_messages().collect()
    };
    for m in messages {
        assert_eq!(v.update(m), None);
    }
    until("playing", &|| player.position_ms() > first + 500);
    {
        let mut ui = simulator(v.view());
        assert!(ui.find("Pause").is_ok());
    }
    let _ = v.update(Message::Seek((length - 1000) as f64));
    until("near the end", &|| player.position_ms() >= length - 1100);
    until("the end", &|| player.ended());
    v.on_frame();
    let mut ui = simulator(v.view());
    assert!(ui.find(times(length, length).as_str()).is_ok());
    assert!(ui.find("Play").is_ok());
}

/// The time beside the seek bar: a recording under a second is 0:01 long (it read 0:00 / 0:00,
/// as if empty), the end reads as the length, and a recording of an hour or more shows hours
/// on both sides.
#[test]
fn the_seek_bar_time_counts_a_started_second_and_reads_the_length_at_the_end() {
    assert_eq!(times(200, 800), "0:00 / 0:01");
    assert_eq!(times(800, 800), "0:01 / 0:01");
    assert_eq!(times(0, 61_000), "0:00 / 1:01");
    assert_eq!(times(59_999, 61_000), "0:59 / 1:01");
    assert_eq!(times(61_500, 3_600_000), "0:01:01 / 1:00:00");
    assert_eq!(times(0, 1), "0:00 / 0:01");
}

/// A tampered recording says so, with the problems; a chat that cannot be decrypted says
/// why instead of showing nothing.
#[test]
fn a_tampered_recording_is_not_intact() {
    let (_tmp, rec, _id) = demo();
    let seg = rec.join("segment-000001.age");
    let mut bytes = std::fs::read(&seg).unwrap();
    let n = bytes.len() / 2;
    bytes[n] ^= 0x40;
    std::fs::write(&seg, bytes).unwrap();
    let report = verify(&DirStore::open(&rec).unwrap()).unwrap();
    let known = BTreeMap::new();
    let names = Names {
        known: &known,
        me: None,
    };
    let o = opened(
        &report,
        rec.to_str().unwrap(),
        &names,
        Err("this device's keys do not open it".into()),
    );
    assert_eq!(o.verdict, assent_shared::container::Verdict::Tampered);
    assert!(!o.problems.is_empty());
    let v = Viewer::new(o, TimeZone::UTC);
    let mut ui =
        iced_test::Simulator::with_size(iced::Settings::default(), (1280.0, 2000.0), v.view());
    assert!(
        ui.find("✗ Not intact: 1 problem(s) found. Do not rely on this recording.")
            .is_ok()
    );
    // In words, not Rust debug text.
    assert!(
        ui.find("segment 1 was changed: its bytes are not the ones the recorder signed")
            .is_ok()
    );
    assert!(
        ui.find("The chat cannot be read: this device's keys do not open it")
            .is_ok()
    );
}
