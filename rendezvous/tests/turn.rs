//! TURN credentials from the server, checked against a real coturn on loopback: what the server
//! issues is accepted; an expired or forged credential is refused.

mod support;

use assent_e2e::coturn::Coturn;
use assent_e2e::stun::{Allocation, allocate};
use assent_rendezvous::turn::credential;
use assent_shared::ids::UserId;
use axum::http::{Method, StatusCode};
use support::{Client, TestServer};

const SECRET: &str = "a-test-secret-for-coturn-0123456789";

#[tokio::test]
async fn issued_credentials_work_expired_and_forged_do_not() {
    let turn = Coturn::start(SECRET);
    let mut s = TestServer::start().await;
    // Configure the server with this relay (the clock is the real one here: coturn checks the
    // expiry against its own clock).
    s.set_turn(
        vec![format!("turn:{}?transport=udp", turn.addr)],
        SECRET,
        std::sync::Arc::new(assent_rendezvous::clock::SystemClock),
    );
    let a = Client::register("a@example.org", &s).await;
    let (st, v) = s
        .call(Method::GET, "/v1/ice-servers", a.token(), None)
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let server = &v["ice_servers"][0];
    let (user, pass) = (
        server["username"].as_str().unwrap().to_string(),
        server["credential"].as_str().unwrap().to_string(),
    );
    let addr = turn.addr;
    let r = tokio::task::spawn_blocking(move || allocate(addr, &user, &pass))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r, Allocation::Allocated);

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let (expired_user, expired_pass) = credential(SECRET, &UserId([1; 16]), now - 60);
    let (forged_user, forged_pass) =
        credential("not-the-secret-at-all-000000", &UserId([1; 16]), now + 600);
    let r = tokio::task::spawn_blocking(move || {
        (
            allocate(addr, &expired_user, &expired_pass).unwrap(),
            allocate(addr, &forged_user, &forged_pass).unwrap(),
        )
    })
    .await
    .unwrap();
    assert_eq!(r, (Allocation::Refused(401), Allocation::Refused(401)));

    // Without a session there are no credentials.
    assert_eq!(
        s.call(Method::GET, "/v1/ice-servers", None, None).await.0,
        StatusCode::UNAUTHORIZED
    );
}
