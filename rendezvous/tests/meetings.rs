//! Meetings and roles: every host action refuses the wrong role with 403; invitations arrive by
//! SMTP with a calendar file; organisation administrators manage users but hold no keys.

mod support;

use axum::http::{Method, StatusCode};
use serde_json::json;
use support::{Client, T0, TestServer, code};

async fn user_id(s: &TestServer, c: &Client) -> serde_json::Value {
    s.call(Method::GET, "/v1/me", c.token(), None).await.1["user_id"].clone()
}

#[tokio::test]
async fn instant_meeting_roles_and_lock() {
    let s = TestServer::start().await;
    let host = Client::register("host@example.org", &s).await;
    let p = Client::register("p@example.org", &s).await;
    let late = Client::register("late@example.org", &s).await;
    let (st, m) = s
        .call(
            Method::POST,
            "/v1/meetings",
            host.token(),
            Some(json!({"kind": "instant", "title": "Design"})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    assert_eq!(
        (m["role"].as_str(), m["host_name"].as_str()),
        (Some("host"), Some("host"))
    );
    let c = m["code"].as_str().unwrap().to_string();
    let (_, seen) = s
        .call(Method::GET, &format!("/v1/meetings/{c}"), p.token(), None)
        .await;
    assert_eq!(seen["role"], serde_json::Value::Null);
    let (st, joined) = s
        .call(
            Method::POST,
            &format!("/v1/meetings/{c}/join"),
            p.token(),
            None,
        )
        .await;
    assert_eq!(
        (st, joined["role"].as_str()),
        (StatusCode::OK, Some("participant"))
    );

    let pid = user_id(&s, &p).await;
    let hid = user_id(&s, &host).await;
    // Participant may not lock, remove, change roles or end.
    for (path, body) in [
        ("lock", Some(json!({"locked": true}))),
        ("remove", Some(json!({"user_id": hid}))),
        ("role", Some(json!({"user_id": pid, "role": "cohost"}))),
        ("end", None),
    ] {
        let (st, v) = s
            .call(
                Method::POST,
                &format!("/v1/meetings/{c}/{path}"),
                p.token(),
                body,
            )
            .await;
        assert_eq!(
            (st, code(&v)),
            (StatusCode::FORBIDDEN, "forbidden"),
            "{path}"
        );
    }
    // Host makes p co-host; a co-host may lock, but not change roles, end, or remove the host.
    assert_eq!(
        s.call(
            Method::POST,
            &format!("/v1/meetings/{c}/role"),
            host.token(),
            Some(json!({"user_id": pid, "role": "cohost"}))
        )
        .await
        .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        s.call(
            Method::POST,
            &format!("/v1/meetings/{c}/lock"),
            p.token(),
            Some(json!({"locked": true}))
        )
        .await
        .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        s.call(
            Method::POST,
            &format!("/v1/meetings/{c}/role"),
            p.token(),
            Some(json!({"user_id": pid, "role": "participant"}))
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        s.call(
            Method::POST,
            &format!("/v1/meetings/{c}/end"),
            p.token(),
            None
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        s.call(
            Method::POST,
            &format!("/v1/meetings/{c}/remove"),
            p.token(),
            Some(json!({"user_id": hid}))
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        s.call(
            Method::POST,
            &format!("/v1/meetings/{c}/role"),
            host.token(),
            Some(json!({"user_id": pid, "role": "host"}))
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );

    // Locked: newcomers are refused, members still get in.
    let (st, v) = s
        .call(
            Method::POST,
            &format!("/v1/meetings/{c}/join"),
            late.token(),
            None,
        )
        .await;
    assert_eq!((st, code(&v)), (StatusCode::FORBIDDEN, "meeting_locked"));
    assert_eq!(
        s.call(
            Method::POST,
            &format!("/v1/meetings/{c}/join"),
            p.token(),
            None
        )
        .await
        .0,
        StatusCode::OK
    );
    assert_eq!(
        s.call(
            Method::POST,
            &format!("/v1/meetings/{c}/lock"),
            host.token(),
            Some(json!({"locked": false}))
        )
        .await
        .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        s.call(
            Method::POST,
            &format!("/v1/meetings/{c}/join"),
            late.token(),
            None
        )
        .await
        .0,
        StatusCode::OK
    );

    assert_eq!(
        s.call(
            Method::POST,
            &format!("/v1/meetings/{c}/end"),
            host.token(),
            None
        )
        .await
        .0,
        StatusCode::NO_CONTENT
    );
    let (st, v) = s
        .call(
            Method::POST,
            &format!("/v1/meetings/{c}/join"),
            p.token(),
            None,
        )
        .await;
    assert_eq!((st, code(&v)), (StatusCode::GONE, "meeting_ended"));
    assert_eq!(
        s.call(Method::GET, "/v1/meetings/zzz-zzzz-zzz", p.token(), None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn scheduled_meeting_invites_by_email_with_a_calendar_file() {
    let s = TestServer::start().await;
    let host = Client::register("host@example.org", &s).await;
    let guest = Client::register("guest@example.org", &s).await;
    let start = T0.0 + 3_600_000;
    let body = json!({"kind": "scheduled", "title": "Quarterly review", "starts_at": start, "duration_min": 45,
        "invitees": ["guest@example.org", "outside@example.net", "GUEST@example.org"]});
    let (st, m) = s
        .call(Method::POST, "/v1/meetings", host.token(), Some(body))
        .await;
    assert_eq!(st, StatusCode::CREATED, "{m}");
    let c = m["code"].as_str().unwrap();
    for to in ["guest@example.org", "outside@example.net"] {
        let mail = s
            .smtp
            .wait_for(
                to,
                if to.starts_with("guest") { 1 } else { 0 },
                std::time::Duration::from_secs(10),
            )
            .await;
        assert!(
            mail.data.contains("Subject: Invitation: Quarterly review"),
            "{}",
            mail.data
        );
        assert!(mail.data.contains("text/calendar"), "{}", mail.data);
        assert!(mail.data.contains(c), "the code is in the mail");
    }
    // Both the host and the invitee see it as upcoming; others do not.
    for who in [&host, &guest] {
        let (_, up) = s
            .call(Method::GET, "/v1/meetings/upcoming", who.token(), None)
            .await;
        assert_eq!(
            up.as_array()
                .unwrap()
                .iter()
                .filter(|x| x["code"] == c)
                .count(),
            1,
            "{up}"
        );
    }
    let other = Client::register("other@example.org", &s).await;
    let (_, up) = s
        .call(Method::GET, "/v1/meetings/upcoming", other.token(), None)
        .await;
    assert_eq!(up, json!([]));
    // After it is over, it is no longer upcoming.
    s.clock.advance_ms(3_600_000 + 46 * 60_000);
    let (_, up) = s
        .call(Method::GET, "/v1/meetings/upcoming", host.token(), None)
        .await;
    assert_eq!(up, json!([]));
}

#[tokio::test]
async fn meeting_input_is_validated() {
    let s = TestServer::start().await;
    let host = Client::register("host@example.org", &s).await;
    for (body, want) in [
        (json!({"kind": "instant", "title": ""}), "invalid_title"),
        (
            json!({"kind": "instant", "title": "x".repeat(201)}),
            "invalid_title",
        ),
        (json!({"kind": "scheduled", "title": "t"}), "invalid_time"),
        (
            json!({"kind": "scheduled", "title": "t", "starts_at": T0.0, "duration_min": 0}),
            "invalid_time",
        ),
        (
            json!({"kind": "scheduled", "title": "t", "starts_at": 1000, "duration_min": 10}),
            "invalid_time",
        ),
        (
            json!({"kind": "scheduled", "title": "t", "starts_at": T0.0, "invitees": ["nope"]}),
            "invalid_email",
        ),
        (
            json!({"kind": "scheduled", "title": "t", "starts_at": T0.0, "invitees": (0..101).map(|i| format!("u{i}@example.org")).collect::<Vec<_>>()}),
            "too_many_invitees",
        ),
        (json!({"kind": "personal", "title": "t"}), "invalid_kind"),
        (json!({"kind": "party", "title": "t"}), "invalid_body"),
    ] {
        let (st, v) = s
            .call(
                Method::POST,
                "/v1/meetings",
                host.token(),
                Some(body.clone()),
            )
            .await;
        assert_eq!(code(&v), want, "{body}: {st}");
    }
}

#[tokio::test]
async fn personal_room_is_permanent() {
    let s = TestServer::start().await;
    let host = Client::register("host@example.org", &s).await;
    let (_, a) = s
        .call(Method::GET, "/v1/meetings/personal", host.token(), None)
        .await;
    let (_, b) = s
        .call(Method::GET, "/v1/meetings/personal", host.token(), None)
        .await;
    assert_eq!(a["code"], b["code"]);
    assert_eq!(a["kind"], "personal");
    assert_eq!(a["title"], "host's room");
    let c = a["code"].as_str().unwrap();
    // Ending a personal room ends its call but keeps the room.
    assert_eq!(
        s.call(
            Method::POST,
            &format!("/v1/meetings/{c}/end"),
            host.token(),
            None
        )
        .await
        .0,
        StatusCode::NO_CONTENT
    );
    let guest = Client::register("g@example.org", &s).await;
    assert_eq!(
        s.call(
            Method::POST,
            &format!("/v1/meetings/{c}/join"),
            guest.token(),
            None
        )
        .await
        .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn organisation_admin() {
    let s = TestServer::start().await;
    let admin = Client::register("admin@example.org", &s).await;
    let mut user = Client::register("user@example.org", &s).await;
    let (st, v) = s
        .call(Method::GET, "/v1/admin/users", user.token(), None)
        .await;
    assert_eq!((st, code(&v)), (StatusCode::FORBIDDEN, "forbidden"));
    s.state
        .db
        .run(|c| -> Result<usize, assent_rendezvous::db::DbError> {
            Ok(assent_rendezvous::admin::promote(c, "admin@example.org")?)
        })
        .await
        .unwrap();
    let (st, list) = s
        .call(Method::GET, "/v1/admin/users", admin.token(), None)
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 2);
    let uid = user_id(&s, &user).await;
    let uid = uid.as_str().unwrap();
    let (st, _) = s
        .call(
            Method::POST,
            &format!("/v1/admin/users/{uid}/disabled"),
            user.token(),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = s
        .call(
            Method::POST,
            &format!("/v1/admin/users/{uid}/disabled"),
            admin.token(),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    assert_eq!(
        s.call(Method::GET, "/v1/me", user.token(), None).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (st, v) = s
        .call(Method::POST, "/v1/sessions", None, Some(user.signin_body()))
        .await;
    assert_eq!((st, code(&v)), (StatusCode::FORBIDDEN, "account_disabled"));
    s.call(
        Method::POST,
        &format!("/v1/admin/users/{uid}/disabled"),
        admin.token(),
        Some(json!({"disabled": false})),
    )
    .await;
    user.signin(&s).await;
    // The admin cannot disable themself, and unknown ids are 404.
    let aid = user_id(&s, &admin).await;
    assert_eq!(
        s.call(
            Method::POST,
            &format!("/v1/admin/users/{}/disabled", aid.as_str().unwrap()),
            admin.token(),
            Some(json!({"disabled": true}))
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        s.call(
            Method::POST,
            "/v1/admin/users/00000000000000000000000000000000/disabled",
            admin.token(),
            Some(json!({"disabled": true}))
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
}
