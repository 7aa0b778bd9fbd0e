//! The meeting rules against the real schema in memory, through the same functions the HTTP
//! handlers call: who may lock, remove, change roles and end; who is admitted; what the hub is
//! told. Also the codes and the calendar invitation.

use super::*;
use assent_shared::ids::MeetingId;

use crate::testing::T0;

/// A verified account called `name`.
async fn user(db: &Db, name: &str) -> UserId {
    crate::testing::user(db, name, "user").await
}

fn code_of<T: std::fmt::Debug>(r: ApiResult<T>) -> ErrorCode {
    r.expect_err("refused").code()
}

fn instant(title: &str) -> CreateMeeting {
    CreateMeeting {
        kind: MeetingKind::Instant,
        title: title.into(),
        starts_at: None,
        duration_min: None,
        invitees: vec![],
    }
}

struct World {
    db: Db,
    outbox: tempfile::TempDir,
    mailer: Mailer,
}

impl World {
    fn new() -> World {
        let outbox = tempfile::tempdir().unwrap();
        let mailer =
            Mailer::outbox(outbox.path().to_path_buf(), "Assent <noreply@example.org>").unwrap();
        World {
            db: Db::in_memory(),
            outbox,
            mailer,
        }
    }

    async fn create(&self, host: UserId, req: CreateMeeting) -> ApiResult<Meeting> {
        let invitations = Invitations {
            mailer: &self.mailer,
            public_url: "https://assent.example.org",
        };
        create(&self.db, &invitations, T0, host, req).await
    }
}

/// Only a host or co-host locks; a locked meeting admits its members and refuses newcomers.
#[tokio::test]
async fn a_locked_meeting_admits_members_only() {
    let w = World::new();
    let (host, ann, bob) = (
        user(&w.db, "host").await,
        user(&w.db, "ann").await,
        user(&w.db, "bob").await,
    );
    let m = w.create(host, instant("Standup")).await.unwrap();
    join(&w.db, ann, m.code.clone()).await.unwrap();

    let by_participant = lock(&w.db, ann, m.code.clone(), true).await;
    assert_eq!(code_of(by_participant), ErrorCode::Forbidden);
    assert_eq!(lock(&w.db, host, m.code.clone(), true).await.unwrap(), None);

    assert_eq!(
        code_of(join(&w.db, bob, m.code.clone()).await),
        ErrorCode::MeetingLocked
    );
    let again = join(&w.db, ann, m.code.clone()).await.unwrap();
    assert!(again.locked);
    assert_eq!(again.role, Some(MeetingRole::Participant));
}

/// Removing someone tells the hub to take them out, and keeps them out; the host cannot be
/// removed, and a participant removes nobody.
#[tokio::test]
async fn removal_is_for_cohosts_and_lasts() {
    let w = World::new();
    let (host, ann, bob) = (
        user(&w.db, "host").await,
        user(&w.db, "ann").await,
        user(&w.db, "bob").await,
    );
    let m = w.create(host, instant("Review")).await.unwrap();
    join(&w.db, ann, m.code.clone()).await.unwrap();
    join(&w.db, bob, m.code.clone()).await.unwrap();

    assert_eq!(
        code_of(remove(&w.db, ann, m.code.clone(), bob).await),
        ErrorCode::Forbidden
    );
    set_role(&w.db, host, m.code.clone(), ann, MeetingRole::Cohost)
        .await
        .unwrap();
    assert_eq!(
        code_of(remove(&w.db, ann, m.code.clone(), host).await),
        ErrorCode::Forbidden
    );
    let kick = remove(&w.db, ann, m.code.clone(), bob).await.unwrap();
    assert_eq!(
        kick,
        Some(Input::Kick {
            meeting: m.id,
            user: bob
        })
    );
    assert_eq!(
        code_of(join(&w.db, bob, m.code.clone()).await),
        ErrorCode::RemovedFromMeeting
    );
}

/// Roles are the host's to give, never the host role itself, and only to members.
#[tokio::test]
async fn only_the_host_changes_roles() {
    let w = World::new();
    let (host, ann, bob) = (
        user(&w.db, "host").await,
        user(&w.db, "ann").await,
        user(&w.db, "bob").await,
    );
    let m = w.create(host, instant("Plan")).await.unwrap();
    join(&w.db, ann, m.code.clone()).await.unwrap();
    join(&w.db, bob, m.code.clone()).await.unwrap();
    set_role(&w.db, host, m.code.clone(), ann, MeetingRole::Cohost)
        .await
        .unwrap();

    let by_cohost = set_role(&w.db, ann, m.code.clone(), bob, MeetingRole::Cohost).await;
    assert_eq!(code_of(by_cohost), ErrorCode::Forbidden);
    let to_host = set_role(&w.db, host, m.code.clone(), ann, MeetingRole::Host).await;
    assert_eq!(code_of(to_host), ErrorCode::Forbidden);
    let stranger = user(&w.db, "eve").await;
    let not_member = set_role(&w.db, host, m.code.clone(), stranger, MeetingRole::Cohost).await;
    assert_eq!(code_of(not_member), ErrorCode::NotFound);
}

/// Ending a meeting closes its call and keeps everyone out after; a personal room's call ends
/// but the room stays.
#[tokio::test]
async fn an_ended_meeting_stays_ended_but_a_personal_room_stays() {
    let w = World::new();
    let (host, ann) = (user(&w.db, "host").await, user(&w.db, "ann").await);
    let m = w.create(host, instant("Retro")).await.unwrap();
    join(&w.db, ann, m.code.clone()).await.unwrap();
    assert_eq!(
        code_of(end(&w.db, T0, ann, m.code.clone()).await),
        ErrorCode::Forbidden
    );
    let closed = end(&w.db, T0, host, m.code.clone()).await.unwrap();
    assert_eq!(closed, Some(Input::Close { meeting: m.id }));
    assert_eq!(
        code_of(join(&w.db, ann, m.code.clone()).await),
        ErrorCode::MeetingEnded
    );

    let room = personal(&w.db, T0, host).await.unwrap();
    assert_eq!(room.title, "host's room");
    assert_eq!(personal(&w.db, T0, host).await.unwrap().id, room.id);
    end(&w.db, T0, host, room.code.clone()).await.unwrap();
    join(&w.db, ann, room.code.clone()).await.unwrap();
}

/// A scheduled meeting needs a start and a sane length, is listed as upcoming for its
/// invitees, and each invitee is mailed a calendar invitation.
#[tokio::test]
async fn scheduled_meetings_are_checked_listed_and_mailed() {
    let w = World::new();
    let (host, ann) = (user(&w.db, "host").await, user(&w.db, "ann").await);
    let scheduled = |starts_at, duration_min| CreateMeeting {
        kind: MeetingKind::Scheduled,
        title: "Board".into(),
        starts_at,
        duration_min,
        invitees: vec!["ann@example.org".into(), "ANN@example.org".into()],
    };
    for (start, minutes) in [
        (None, Some(30)),
        (Some(T0.0), Some(0)),
        (Some(T0.0 - 7_200_000), Some(60)),
    ] {
        assert_eq!(
            code_of(w.create(host, scheduled(start, minutes)).await),
            ErrorCode::InvalidTime
        );
    }
    let m = w
        .create(host, scheduled(Some(T0.0 + 3_600_000), Some(30)))
        .await
        .unwrap();
    let listed = upcoming(&w.db, T0, ann).await.unwrap();
    assert_eq!(listed.iter().map(|x| x.id).collect::<Vec<_>>(), vec![m.id]);
    assert!(
        upcoming(&w.db, Timestamp(T0.0 + 7_200_000), ann)
            .await
            .unwrap()
            .is_empty()
    );
    let mails = std::fs::read_dir(w.outbox.path()).unwrap().count();
    assert_eq!(
        mails, 1,
        "one invitation for the two spellings of one address"
    );
}

#[test]
fn codes() {
    let c = new_code();
    assert_eq!(c.len(), 12);
    assert_eq!(normalize_code(&c.to_uppercase().replace('-', " ")), c);
    assert_eq!(normalize_code("abc"), "abc");
}

#[test]
fn ics_is_folded_and_escaped() {
    let m = Meeting {
        id: MeetingId([0; 16]),
        code: "abc-defg-hij".into(),
        kind: MeetingKind::Scheduled,
        title:
            "Budget; Q3, draft — a long title that goes on and on and on past seventy-five octets"
                .into(),
        host: UserId([0; 16]),
        host_name: "Ana".into(),
        starts_at: Some(1_795_266_300_000),
        duration_min: Some(30),
        locked: false,
        ended: false,
        role: None,
    };
    let ics = ics_invitation(
        &m,
        "Ana",
        "ana@example.org",
        "bo@example.org",
        "https://a.example",
        Timestamp(1_795_266_000_000),
    );
    assert!(ics.contains("DTSTART:20261121T130500Z\r\n"));
    assert!(ics.contains("DTEND:20261121T133500Z\r\n"));
    assert!(ics.contains("SUMMARY:Budget\\; Q3\\, draft"));
    assert!(
        ics.lines().all(|l| l.trim_end_matches('\r').len() <= 75),
        "{ics}"
    );
    assert!(ics.ends_with("END:VCALENDAR\r\n"));
}
