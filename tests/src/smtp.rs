//! A real SMTP listener on loopback for tests: it speaks enough SMTP (EHLO, MAIL, RCPT, DATA,
//! RSET, NOOP, QUIT) for a real client such as lettre, and keeps every delivered message.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// One delivered message.
#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    /// The raw message (headers and body), dot-unstuffed.
    pub data: String,
}

impl Mail {
    /// The first run of six digits after "is " (the code in Assent's code emails).
    pub fn code(&self) -> Option<String> {
        let text = self.data.replace("=\r\n", "");
        text.match_indices("is ").find_map(|(i, _)| {
            let rest = &text[i + 3..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            (digits.len() == 6).then_some(digits)
        })
    }
}

#[derive(Default)]
struct Inbox {
    mail: Mutex<Vec<Mail>>,
    arrived: Notify,
}

/// The listener; stops when dropped.
pub struct SmtpSink {
    pub addr: SocketAddr,
    inbox: Arc<Inbox>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind SMTP listener");
        let addr = listener.local_addr().expect("local addr");
        let inbox = Arc::new(Inbox::default());
        let i = inbox.clone();
        let task = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let i = i.clone();
                tokio::spawn(async move {
                    let _ = session(sock, i).await;
                });
            }
        });
        SmtpSink { addr, inbox, task }
    }

    /// `smtp://127.0.0.1:PORT` for the server's configuration.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    pub fn all(&self) -> Vec<Mail> {
        self.inbox
            .mail
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Wait until a message to `to` arrives (at most `within`; a timeout fails the test).
    pub async fn wait_for(&self, to: &str, skip: usize, within: Duration) -> Mail {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.inbox.arrived.notified();
            let found: Vec<Mail> = self
                .all()
                .into_iter()
                .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(to)))
                .collect();
            if let Some(m) = found.into_iter().nth(skip) {
                return m;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "no mail #{skip} to {to} within {within:?}; have {:?}",
                    self.all().iter().map(|m| &m.to).collect::<Vec<_>>()
                );
            }
        }
    }
}

async fn session(sock: tokio::net::TcpStream, inbox: Arc<Inbox>) -> std::io::Result<()> {
    let (r, mut w) = sock.into_split();
    let mut lines = BufReader::new(r);
    w.write_all(b"220 assent-test-smtp ESMTP\r\n").await?;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end().to_string();
        let upper = cmd.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            w.write_all(b"250-assent-test-smtp\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
                .await?;
        } else if upper.starts_with("HELO") || upper.starts_with("NOOP") {
            w.write_all(b"250 OK\r\n").await?;
        } else if upper.starts_with("MAIL FROM:") {
            from = addr_of(&cmd);
            to.clear();
            w.write_all(b"250 OK\r\n").await?;
        } else if upper.starts_with("RCPT TO:") {
            to.push(addr_of(&cmd));
            w.write_all(b"250 OK\r\n").await?;
        } else if upper == "DATA" {
            w.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
            let mut data = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
            }
            inbox
                .mail
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(Mail {
                    from: from.clone(),
                    to: to.clone(),
                    data,
                });
            inbox.arrived.notify_waiters();
            w.write_all(b"250 OK queued\r\n").await?;
        } else if upper == "RSET" {
            to.clear();
            w.write_all(b"250 OK\r\n").await?;
        } else if upper == "QUIT" {
            w.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            w.write_all(b"502 not implemented\r\n").await?;
        }
    }
}

fn addr_of(cmd: &str) -> String {
    cmd.split_once(':')
        .map(|(_, a)| {
            a.split_whitespace()
                .next()
                .unwrap_or("")
                .trim_matches(['<', '>'])
                .to_string()
        })
        .unwrap_or_default()
}
