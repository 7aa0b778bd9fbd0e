//! The client's API against a server that answers busy, and the URL rules.

use super::*;

/// A server that answers `busy` to the first `busy` requests, then `{}`; the requests seen.
async fn busy_then_ok(busy: usize) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(AtomicUsize::new(0));
    let count = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let mut buf = vec![0u8; 8192];
            let _ = tcp.read(&mut buf).await;
            let n = count.fetch_add(1, Ordering::SeqCst);
            let (status, body) = if n < busy {
                (
                    "503 Service Unavailable",
                    r#"{"error":{"code":"busy","message":"the server is busy; try again in a moment","retry_after":1}}"#,
                )
            } else {
                ("200 OK", r#"{"status":"ok"}"#)
            };
            let answer = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = tcp.write_all(answer.as_bytes()).await;
        }
    });
    (base, seen)
}

/// `busy` is tried again (the server did nothing with the request); after a few tries the
/// error is shown.
#[tokio::test]
async fn busy_is_tried_again_then_shown() {
    use std::sync::atomic::Ordering;
    let (base, seen) = busy_then_ok(2).await;
    let api = Api::new(&base).unwrap();
    let v: serde_json::Value = api.get("/v1/health").await.unwrap();
    assert_eq!(v["status"], "ok");
    assert_eq!(seen.load(Ordering::SeqCst), 3);

    let (base, seen) = busy_then_ok(100).await;
    let api = Api::new(&base).unwrap();
    let e = api
        .get::<serde_json::Value>("/v1/health")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::Busy));
    assert_eq!(seen.load(Ordering::SeqCst), 1 + BUSY_RETRIES as usize);
}

#[test]
fn urls() {
    let api = Api::new("http://127.0.0.1:7800/").unwrap();
    assert_eq!(api.signal_url(), "ws://127.0.0.1:7800/v1/signal");
    let api = Api::new("https://assent.example").unwrap();
    assert_eq!(api.signal_url(), "wss://assent.example/v1/signal");
    assert!(Api::new("ftp://x").is_err());
    // Plain http only to this machine: a session token must not cross a network in clear.
    for ok in [
        "http://localhost:7800",
        "http://127.0.0.2",
        "http://[::1]:80",
    ] {
        assert!(Api::new(ok).is_ok(), "{ok}");
    }
    for refused in [
        "http://assent.example",
        "http://10.0.0.1:7800",
        "http://[fe80::1]",
    ] {
        let e = Api::new(refused).unwrap_err().to_string();
        assert!(
            e.contains("refusing") && e.contains("https://"),
            "{refused}: {e}"
        );
    }
    assert_eq!(url_escape("a+b@c.d"), "a%2Bb%40c.d");
}
