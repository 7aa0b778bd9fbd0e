//! The recordings list: what it shows, how it filters, and what its actions ask for.

use super::*;
use assent_shared::api::{RecordingObject, RecordingPerson, RecordingStatus};
use assent_shared::ids::{CallId, RecordingId, UserId};

const DAY: u64 = 86_400_000;
const T: u64 = 1_795_000_000_000;

fn row(id: &RecordingId, title: &str, at: u64, tags: &[&str], cloud: CloudState) -> RecordingRow {
    RecordingRow {
        id: id.to_string(),
        title: title.into(),
        dir: format!("/profile/recordings/{id}"),
        call_id: CallId::random().to_string(),
        started_at: at,
        ended_at: Some(at + 754_000),
        participants: vec!["Ada".into(), "Grace".into()],
        tags: tags.iter().map(|t| t.to_string()).collect(),
        size: 48_000_000,
        segments: 12,
        state: RecordingState::Complete,
        scope: if cloud == CloudState::None {
            Scope::Local
        } else {
            Scope::LocalAndCloud
        },
        retention_days: 30,
        cloud_state: cloud,
        uploaded_bytes: if cloud == CloudState::Uploading {
            12_000_000
        } else {
            0
        },
    }
}

fn info(id: &RecordingId, title: &str, at: u64, status: RecordingStatus) -> RecordingInfo {
    RecordingInfo {
        id: *id,
        call_id: CallId::random(),
        title: title.into(),
        recorder: UserId::random(),
        status,
        retention_days: 30,
        retention_until: Some(at + 30 * DAY),
        size: 20_000_000,
        created_at: at,
        completed_at: Some(at + DAY),
        participants: vec![RecordingPerson {
            user_id: UserId::random(),
            display_name: "Linus".into(),
        }],
        tags: vec!["board".into()],
        objects: vec![RecordingObject {
            name: "manifest".into(),
            size: 5_000_000,
        }],
        can_delete: false,
    }
}

/// Three local recordings (one only on this device, one uploading, one stored) and the
/// registry's view: the stored one gains its retention date, another person's recording
/// appears as a cloud copy to download; newest first.
fn sample() -> Recordings {
    let (a, b, c, d) = (
        RecordingId::random(),
        RecordingId::random(),
        RecordingId::random(),
        RecordingId::random(),
    );
    let local = vec![
        row(&a, "Design review", T, &["design"], CloudState::None),
        row(
            &b,
            "Weekly sync",
            T + DAY,
            &["team", "weekly"],
            CloudState::Uploading,
        ),
        row(
            &c,
            "Interview: Grace",
            T + 2 * DAY,
            &["hiring"],
            CloudState::Pending,
        ),
    ];
    let mut stored = info(
        &c,
        "Interview: Grace",
        T + 2 * DAY,
        RecordingStatus::Complete,
    );
    stored.can_delete = true;
    let cloud = vec![
        stored,
        info(&d, "Board meeting", T + 3 * DAY, RecordingStatus::Complete),
    ];
    let mut r = Recordings::new(TimeZone::UTC);
    r.on_loaded(merge(local, cloud), None);
    r
}

#[test]
fn local_and_cloud_copies_merge_into_one_list() {
    let r = sample();
    let titles: Vec<&str> = r.items.iter().map(|i| i.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "Board meeting",
            "Interview: Grace",
            "Weekly sync",
            "Design review"
        ]
    );
    let board = &r.items[0];
    assert!(board.local.is_none());
    assert_eq!(board.cloud, Some(Cloud::Stored));
    assert_eq!(board.participants, ["Linus"]);
    let interview = &r.items[1];
    assert_eq!(
        interview.cloud,
        Some(Cloud::Stored),
        "the registry says complete"
    );
    assert_eq!(interview.keep_until, Some(T + 32 * DAY));
    assert!(interview.can_delete_cloud);
    assert!(interview.tags.contains(&"board".to_string()), "tags merged");
    assert_eq!(
        r.items[2].cloud,
        Some(Cloud::Uploading {
            done: 12_000_000,
            total: 48_000_000
        })
    );
    assert_eq!(r.items[3].cloud, Some(Cloud::NotKept));
    assert!(r.uploading());
    assert_eq!(r.tags(), ["board", "design", "hiring", "team", "weekly"]);
}

/// The recordings list filter: search words (any case, in titles, people or tags, all of
/// them) and a tag chip, combined; the count says how many of how many show.
#[test]
fn search_and_tag_filter_narrow_the_list() {
    let mut r = sample();
    {
        let mut ui = iced_test::simulator(r.view());
        assert!(ui.find("4 of 4 recordings").is_ok());
        assert!(ui.find("Board meeting").is_ok());
        assert!(ui.find("#weekly").is_ok(), "a chip per tag");
    }
    let _ = r.update(Message::Search("GRACE".into()));
    let titles =
        |r: &Recordings| -> Vec<String> { r.visible().iter().map(|i| i.title.clone()).collect() };
    // Grace is in the interview's title and a participant of every local recording.
    assert_eq!(titles(&r).len(), 3);
    let _ = r.update(Message::Search("grace weekly".into()));
    assert_eq!(titles(&r), ["Weekly sync"]);
    let _ = r.update(Message::Search(String::new()));

    // Clicking a tag chip in the simulator filters by it.
    let messages: Vec<Message> = {
        let mut ui = iced_test::simulator(r.view());
        ui.click("#board").unwrap();
        ui.into_messages().collect()
    };
    for m in messages {
        let _ = r.update(m);
    }
    assert_eq!(titles(&r), ["Board meeting", "Interview: Grace"]);
    let _ = r.update(Message::Search("linus".into()));
    assert_eq!(titles(&r), ["Board meeting"]);
    {
        let mut ui = iced_test::simulator(r.view());
        assert!(ui.find("1 of 4 recordings").is_ok());
        assert!(ui.find("Download").is_ok(), "a cloud-only copy downloads");
    }
    let _ = r.update(Message::Search("nobody".into()));
    {
        let mut ui = iced_test::simulator(r.view());
        assert!(ui.find("Nothing matches.").is_ok());
    }
    let _ = r.update(Message::Tag(None));
    let _ = r.update(Message::Search(String::new()));
    assert_eq!(titles(&r).len(), 4);
    // A reload without the selected tag clears the filter instead of showing nothing.
    let _ = r.update(Message::Tag(Some("design".into())));
    r.on_loaded(Vec::new(), None);
    assert_eq!(r.tag, None);
}

/// Editing tags: the card's field holds the current ones; saving hands the engine the
/// tags normalised (commas or #words, each once); a tag too long is refused on the spot.
#[test]
fn tags_are_edited_on_the_card() {
    let mut r = sample();
    let design = r.items[3].id.clone();
    let messages: Vec<Message> = {
        let mut ui =
            iced_test::Simulator::with_size(iced::Settings::default(), (1280.0, 1600.0), r.view());
        // The last card's button: Design review, the oldest.
        ui.click("Edit tags").unwrap();
        ui.into_messages().collect()
    };
    assert_eq!(messages.len(), 1);
    let Message::EditTags(first) = &messages[0] else {
        panic!("{messages:?}")
    };
    let _ = r.update(Message::EditTags(design.clone()));
    assert!(!first.is_empty());
    {
        let mut ui =
            iced_test::Simulator::with_size(iced::Settings::default(), (1280.0, 1600.0), r.view());
        assert!(ui.find("Save").is_ok());
    }
    assert_eq!(r.editing.as_ref().unwrap().input, "design");
    let _ = r.update(Message::TagsInput("#design #Q3 #q3 #review".into()));
    assert_eq!(
        r.update(Message::SaveTags),
        Some(Event::SetTags {
            id: design.clone(),
            tags: vec!["design".into(), "Q3".into(), "review".into()],
        })
    );
    assert!(r.editing.is_none(), "the field closes");
    // Too long: the field stays open and says why.
    let _ = r.update(Message::EditTags(design.clone()));
    let _ = r.update(Message::TagsInput(format!("ok, {}", "x".repeat(41))));
    assert_eq!(r.update(Message::SaveTags), None);
    {
        let mut ui =
            iced_test::Simulator::with_size(iced::Settings::default(), (1280.0, 1600.0), r.view());
        assert!(ui.find("a tag is at most 40 characters").is_ok());
    }
    // Cancel closes it; clearing the field removes every tag.
    assert_eq!(r.update(Message::CancelTags), None);
    assert!(r.editing.is_none());
    let _ = r.update(Message::EditTags(design.clone()));
    let _ = r.update(Message::TagsInput(String::new()));
    assert_eq!(
        r.update(Message::SaveTags),
        Some(Event::SetTags {
            id: design,
            tags: vec![],
        })
    );
}

/// Deleting asks first, says what goes (and when it is the only copy), and only then
/// asks the engine; a recording in progress cannot be deleted.
#[test]
fn delete_asks_and_warns_about_the_only_copy() {
    let mut r = sample();
    let design = r.items[3].id.clone();
    assert_eq!(r.update(Message::Delete(design.clone())), None);
    {
        let mut ui = iced_test::simulator(r.view());
        assert!(ui.find("Delete “Design review”?").is_ok());
        assert!(
            ui.find("There is no cloud copy: this is the only copy.")
                .is_ok()
        );
    }
    assert_eq!(r.update(Message::CancelDelete), None);
    let _ = r.update(Message::Delete(design.clone()));
    assert_eq!(
        r.update(Message::ConfirmDelete),
        Some(Event::Delete {
            id: design,
            local: true,
            cloud: false
        })
    );
    // The interview: both copies may go.
    let interview = r.items[1].id.clone();
    let _ = r.update(Message::Delete(interview.clone()));
    assert_eq!(
        r.update(Message::ConfirmDelete),
        Some(Event::Delete {
            id: interview,
            local: true,
            cloud: true
        })
    );
    // Someone else's cloud copy: nothing this account may delete.
    let board = r.items[0].id.clone();
    let _ = r.update(Message::Delete(board));
    assert_eq!(r.update(Message::ConfirmDelete), None);
    // Recording now: not deletable.
    r.items[2].local.as_mut().unwrap().1 = RecordingState::Recording;
    let weekly = r.items[2].id.clone();
    let _ = r.update(Message::Delete(weekly));
    assert_eq!(r.update(Message::ConfirmDelete), None);
}

#[test]
fn enter_in_the_search_opens_the_first_local_match() {
    let mut r = sample();
    let _ = r.update(Message::Search("sync".into()));
    let weekly = r.items[2].clone();
    assert_eq!(
        r.update(Message::OpenFirst),
        Some(Event::Open {
            id: weekly.id,
            dir: weekly.local.unwrap().0
        })
    );
    let _ = r.update(Message::Search("board meeting".into()));
    assert_eq!(r.update(Message::OpenFirst), None, "no local copy matches");
}

#[test]
fn open_goes_to_the_local_copy() {
    let mut r = sample();
    let design = r.items[3].clone();
    assert_eq!(
        r.update(Message::Open(design.id.clone())),
        Some(Event::Open {
            id: design.id,
            dir: design.local.unwrap().0
        })
    );
    let board = r.items[0].id.clone();
    assert_eq!(
        r.update(Message::Open(board)),
        None,
        "no local copy to open"
    );
}

#[test]
fn sizes_for_people() {
    assert_eq!(human_size(12), "12 B");
    assert_eq!(human_size(1_234), "1.2 kB");
    assert_eq!(human_size(48_000_000), "48 MB");
    assert_eq!(human_size(2_500_000_000), "2.5 GB");
}
