//! Signaling over real WebSockets on loopback: presence with identities, routing of opaque
//! envelopes, limits and error frames, resume after a dropped connection, host actions, and
//! call history.

mod support;

use axum::http::{Method, StatusCode};
use serde_json::json;
use support::{Client, TestServer, Ws, code};
use tokio_tungstenite::tungstenite::Message;

async fn meeting(s: &TestServer, host: &Client) -> String {
    let (st, m) = s
        .call(
            Method::POST,
            "/v1/meetings",
            host.token(),
            Some(json!({"kind": "instant", "title": "Stand-up"})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{m}");
    m["code"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn presence_routing_and_leave() {
    let s = TestServer::start().await;
    let addr = s.listen().await;
    let a = Client::register("a@example.org", &s).await;
    let b = Client::register("b@example.org", &s).await;
    let code = meeting(&s, &a).await;

    let mut wa = Ws::connect(addr, a.token()).await.unwrap();
    let ja = wa.join(&code).await;
    assert_eq!(ja["role"], "host");
    assert_eq!(ja["peers"], json!([]));
    let mut wb = Ws::connect(addr, b.token()).await.unwrap();
    let jb = wb.join(&code.to_uppercase().replace('-', "")).await;
    assert_eq!(jb["role"], "participant");
    let peers = jb["peers"].as_array().unwrap();
    assert_eq!(peers.len(), 1);
    // Presence carries the directory identity, so peers can verify each other end to end.
    let ida: assent_shared::PublicIdentity =
        serde_json::from_value(peers[0]["identity"].clone()).unwrap();
    assert_eq!(&ida, a.identity.public());
    let joined = wa.until("peer_joined").await;
    let pb = joined["peer"]["peer_id"].as_str().unwrap().to_string();
    let pa = ja["peer_id"].as_str().unwrap().to_string();

    wa.send(json!({"type": "send", "to": pb, "payload": "sdp-offer-signed-by-a"}))
        .await;
    let m = wb.until("message").await;
    assert_eq!(
        (m["from"].as_str(), m["payload"].as_str()),
        (Some(pa.as_str()), Some("sdp-offer-signed-by-a"))
    );
    wb.send(json!({"type": "send", "payload": "to everyone"}))
        .await;
    assert_eq!(wa.until("message").await["payload"], "to everyone");

    wb.send(json!({"type": "leave"})).await;
    let left = wa.until("peer_left").await;
    assert_eq!(
        (left["peer_id"].as_str(), left["reason"].as_str()),
        (Some(pb.as_str()), Some("left"))
    );
}

#[tokio::test]
async fn errors_and_limits() {
    let s = TestServer::start().await;
    let addr = s.listen().await;
    let a = Client::register("a@example.org", &s).await;
    let code = meeting(&s, &a).await;
    // No or bad token: the upgrade is refused.
    assert!(Ws::connect(addr, None).await.is_err());
    assert!(Ws::connect(addr, Some("nope")).await.is_err());

    let mut w = Ws::connect(addr, a.token()).await.unwrap();
    w.send(json!({"type": "send", "payload": "x"})).await;
    assert_eq!(w.until("error").await["code"], "not_joined");
    w.send_raw(Message::Text("{not json".into())).await;
    assert_eq!(w.until("error").await["code"], "malformed_message");
    w.send(json!({"type": "join", "meeting": code, "extra": 1}))
        .await;
    assert_eq!(w.until("error").await["code"], "malformed_message");
    w.send_raw(Message::Binary(vec![1, 2, 3].into())).await;
    assert_eq!(w.until("error").await["code"], "binary_not_supported");
    w.send(json!({"type": "join", "meeting": "zzz-zzzz-zzz"}))
        .await;
    assert_eq!(w.until("error").await["code"], "not_found");
    w.join(&code).await;
    w.send(json!({"type": "join", "meeting": code})).await;
    assert_eq!(w.until("error").await["code"], "already_joined");
    w.send(json!({"type": "send", "payload": "x".repeat(64 * 1024 + 1)}))
        .await;
    assert_eq!(w.until("error").await["code"], "payload_too_large");
    w.send(json!({"type": "send", "to": "00000000000000aa", "payload": "x"}))
        .await;
    assert_eq!(w.until("error").await["code"], "unknown_peer");
    w.send(json!({"type": "ping"})).await;
    assert_eq!(w.until("pong").await["type"], "pong");

    // Flooding: past the burst, messages are refused with rate_limited.
    for _ in 0..150 {
        w.send(json!({"type": "ping"})).await;
    }
    assert_eq!(w.until("error").await["code"], "rate_limited");

    // Frames over the size limit close the connection with 1009.
    let mut big = Ws::connect(addr, a.token()).await.unwrap();
    big.send_raw(Message::Text("x".repeat(200 * 1024).into()))
        .await;
    let closed = big.until("closed").await;
    assert!(
        closed["code"] == 1009 || closed.get("error").is_some(),
        "{closed}"
    );
}

#[tokio::test]
async fn invalid_utf8_closes_with_1007() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = TestServer::start().await;
    let addr = s.listen().await;
    let a = Client::register("a@example.org", &s).await;
    // A raw handshake, then a masked text frame whose payload is not UTF-8.
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "GET /v1/signal HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer {}\r\n\r\n",
        a.token().unwrap()
    );
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tcp.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 101"));
    let payload = [0xffu8, 0xfe, 0xfd];
    let mask = [1u8, 2, 3, 4];
    let mut frame = vec![0x81, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    tcp.write_all(&frame).await.unwrap();
    let n = tokio::time::timeout(std::time::Duration::from_secs(10), tcp.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    // A close frame (opcode 8) with status 1007.
    assert!(n >= 4 && buf[0] == 0x88, "{:?}", &buf[..n]);
    assert_eq!(u16::from_be_bytes([buf[2], buf[3]]), 1007);
}

#[tokio::test]
async fn reconnect_within_grace_resumes_the_seat() {
    let s = TestServer::start().await;
    let addr = s.listen().await;
    let a = Client::register("a@example.org", &s).await;
    let b = Client::register("b@example.org", &s).await;
    let code = meeting(&s, &a).await;
    let mut wa = Ws::connect(addr, a.token()).await.unwrap();
    wa.join(&code).await;
    let mut wb = Ws::connect(addr, b.token()).await.unwrap();
    let jb = wb.join(&code).await;
    wa.until("peer_joined").await;
    let (pb, token) = (jb["peer_id"].clone(), jb["resume_token"].clone());
    drop(wb); // the connection drops
    wa.send(json!({"type": "send", "to": pb, "payload": "sent while b was away"}))
        .await;
    let mut wb2 = Ws::connect(addr, b.token()).await.unwrap();
    wb2.send(json!({"type": "join", "meeting": code, "resume": token}))
        .await;
    let j = wb2.until("joined").await;
    assert_eq!(
        (j["peer_id"].clone(), j["resumed"].clone()),
        (pb, json!(true))
    );
    assert_eq!(
        wb2.until("message").await["payload"],
        "sent while b was away"
    );
    // A is told nothing: no ghost, no leave. The next thing A sees is B's new message.
    wb2.send(json!({"type": "send", "payload": "back"})).await;
    let next = wa.recv().await;
    assert_eq!(
        (next["type"].as_str(), next["payload"].as_str()),
        (Some("message"), Some("back")),
        "{next}"
    );
}

#[tokio::test]
async fn host_removes_and_ends_and_history_is_kept() {
    let s = TestServer::start().await;
    let addr = s.listen().await;
    let a = Client::register("host@example.org", &s).await;
    let b = Client::register("b@example.org", &s).await;
    let c = Client::register("c@example.org", &s).await;
    let code = meeting(&s, &a).await;
    let mut wa = Ws::connect(addr, a.token()).await.unwrap();
    wa.join(&code).await;
    let mut wb = Ws::connect(addr, b.token()).await.unwrap();
    wb.join(&code).await;
    let mut wc = Ws::connect(addr, c.token()).await.unwrap();
    let jc = wc.join(&code).await;
    let c_user = s.call(Method::GET, "/v1/me", c.token(), None).await.1["user_id"].clone();

    // Only the host (or a co-host) may remove; a participant gets 403.
    let (st, v) = s
        .call(
            Method::POST,
            &format!("/v1/meetings/{code}/remove"),
            b.token(),
            Some(json!({"user_id": c_user})),
        )
        .await;
    assert_eq!((st, code_of(&v)), (StatusCode::FORBIDDEN, "forbidden"));
    let (st, _) = s
        .call(
            Method::POST,
            &format!("/v1/meetings/{code}/remove"),
            a.token(),
            Some(json!({"user_id": c_user})),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    assert_eq!(wc.until("removed").await["type"], "removed");
    let left = wb.until("peer_left").await;
    assert_eq!(
        (left["peer_id"].clone(), left["reason"].as_str()),
        (jc["peer_id"].clone(), Some("removed"))
    );
    // Removed users cannot come back.
    let mut wc2 = Ws::connect(addr, c.token()).await.unwrap();
    wc2.send(json!({"type": "join", "meeting": code})).await;
    assert_eq!(wc2.until("error").await["code"], "removed_from_meeting");

    // End: everyone is told; the meeting cannot be joined again; history records the call.
    let (st, _) = s
        .call(
            Method::POST,
            &format!("/v1/meetings/{code}/end"),
            b.token(),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = s
        .call(
            Method::POST,
            &format!("/v1/meetings/{code}/end"),
            a.token(),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    assert_eq!(wa.until("ended").await["type"], "ended");
    assert_eq!(wb.until("ended").await["type"], "ended");
    let mut again = Ws::connect(addr, b.token()).await.unwrap();
    again.send(json!({"type": "join", "meeting": code})).await;
    assert_eq!(again.until("error").await["code"], "meeting_ended");

    let history = wait_for_history(&s, &b, 3).await;
    let call = &history[0];
    assert_eq!(call["meeting_code"], code);
    assert!(
        call["ended_at"].is_u64() && call["duration_ms"].is_u64(),
        "{call}"
    );
    let names: Vec<&str> = call["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["display_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["host", "b", "c"]);
    assert!(
        call["participants"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["left_at"].is_u64())
    );
}

fn code_of(v: &serde_json::Value) -> &str {
    code(v)
}

/// History is written asynchronously by the hub: check after each record it writes until the
/// ended call shows up (10 s at most).
async fn wait_for_history(
    s: &TestServer,
    who: &Client,
    participants: usize,
) -> Vec<serde_json::Value> {
    let mut written = s.state.hub.history_written();
    loop {
        let (_, h) = s.call(Method::GET, "/v1/history", who.token(), None).await;
        let h = h.as_array().cloned().unwrap_or_default();
        if h.first().is_some_and(|c| {
            c["ended_at"].is_u64()
                && c["participants"].as_array().map(Vec::len) == Some(participants)
        }) {
            return h;
        }
        tokio::time::timeout(std::time::Duration::from_secs(10), written.changed())
            .await
            .expect("history did not show the ended call")
            .unwrap();
    }
}

/// The frames until the server closes the connection: the close code.
async fn closed_with(ws: &mut Ws) -> serde_json::Value {
    loop {
        let v = ws.recv().await;
        if v["type"] == "closed" {
            return v["code"].clone();
        }
    }
}

/// Signing a session out ends its live connections at once: revoked from another device, a
/// password change (the other devices), a deleted account. A signed-out socket cannot stay in
/// its call, nor join another one, nor reconnect.
#[tokio::test]
async fn signing_out_closes_live_connections() {
    let s = TestServer::start().await;
    let addr = s.listen().await;
    let host = Client::register("host@example.org", &s).await;
    let code = meeting(&s, &host).await;
    let mut wh = Ws::connect(addr, host.token()).await.unwrap();
    wh.join(&code).await;

    // Revoked from another device.
    let mut bob = Client::register("bob@example.org", &s).await;
    let laptop = bob.token.clone().unwrap();
    let mut wb = Ws::connect(addr, Some(&laptop)).await.unwrap();
    let jb = wb.join(&code).await;
    wh.until("peer_joined").await;
    bob.signin(&s).await;
    let (_, list) = s.call(Method::GET, "/v1/sessions", bob.token(), None).await;
    let other = list
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["current"] == false)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (st, _) = s
        .call(
            Method::DELETE,
            &format!("/v1/sessions/{other}"),
            bob.token(),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    assert_eq!(closed_with(&mut wb).await, 4401);
    let left = wh.until("peer_left").await;
    assert_eq!(left["peer_id"], jb["peer_id"]);
    assert!(
        Ws::connect(addr, Some(&laptop)).await.is_err(),
        "the token is dead"
    );

    // A password change: the other devices' connections end, this one's stays.
    let mut cy = Client::register("cy@example.org", &s).await;
    let old = cy.token.clone().unwrap();
    let mut w_old = Ws::connect(addr, Some(&old)).await.unwrap();
    w_old.join(&code).await;
    cy.signin(&s).await;
    let mut w_new = Ws::connect(addr, cy.token()).await.unwrap();
    let salt = assent_shared::backup::Salt::random();
    let keys =
        assent_shared::backup::PasswordKeys::derive("another good passphrase", &salt, support::KDF)
            .unwrap();
    let backup = cy
        .backup
        .rewrap_password(&cy.keys, &keys, support::KDF, salt)
        .unwrap();
    let body = json!({
        "auth_secret": support::auth(&cy.keys), "new_auth_secret": support::auth(&keys),
        "new_salt": salt, "new_kdf": support::KDF,
        "new_key_backup": assent_shared::api::B64(backup.to_bytes()),
        "recovery_proof": assent_shared::api::AuthSecret(backup.recovery_proof(&keys).unwrap()),
    });
    let (st, v) = s
        .call(Method::PUT, "/v1/me/password", cy.token(), Some(body))
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{v}");
    assert_eq!(closed_with(&mut w_old).await, 4401);
    w_new.send(json!({"type": "ping"})).await;
    assert_eq!(w_new.until("pong").await["type"], "pong");

    // A deleted account: every connection ends.
    let dee = Client::register("dee@example.org", &s).await;
    let mut wd = Ws::connect(addr, dee.token()).await.unwrap();
    wd.join(&code).await;
    let (st, _) = s
        .call(
            Method::DELETE,
            "/v1/me",
            dee.token(),
            Some(json!({"auth_secret": support::auth(&dee.keys)})),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    assert_eq!(closed_with(&mut wd).await, 4401);
}
