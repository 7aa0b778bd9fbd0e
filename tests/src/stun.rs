//! A minimal STUN/TURN client for tests (RFC 5389 / RFC 5766): a binding request, and a TURN
//! Allocate with long-term credentials, enough to tell whether a relay accepts a credential.

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use sha1::Sha1;

const MAGIC: u32 = 0x2112_A442;
const BINDING: u16 = 0x0001;
const ALLOCATE: u16 = 0x0003;
const ATTR_USERNAME: u16 = 0x0006;
const ATTR_INTEGRITY: u16 = 0x0008;
const ATTR_ERROR: u16 = 0x0009;
const ATTR_REALM: u16 = 0x0014;
const ATTR_NONCE: u16 = 0x0015;
const ATTR_TRANSPORT: u16 = 0x0019;

/// What an Allocate came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allocation {
    /// The relay allocated: the credential works.
    Allocated,
    /// An error response with this code (401: the credential was refused).
    Refused(u16),
}

struct Msg {
    class_method: u16,
    attrs: Vec<(u16, Vec<u8>)>,
}

fn encode(
    kind: u16,
    tid: [u8; 12],
    attrs: &[(u16, Vec<u8>)],
    integrity_key: Option<&[u8]>,
) -> Vec<u8> {
    let mut body = Vec::new();
    for (t, v) in attrs {
        body.extend_from_slice(&t.to_be_bytes());
        body.extend_from_slice(&(v.len() as u16).to_be_bytes());
        body.extend_from_slice(v);
        while body.len() % 4 != 0 {
            body.push(0);
        }
    }
    let header = |len: usize| {
        let mut h = Vec::with_capacity(20);
        h.extend_from_slice(&kind.to_be_bytes());
        h.extend_from_slice(&(len as u16).to_be_bytes());
        h.extend_from_slice(&MAGIC.to_be_bytes());
        h.extend_from_slice(&tid);
        h
    };
    match integrity_key {
        None => {
            let mut m = header(body.len());
            m.extend_from_slice(&body);
            m
        }
        Some(key) => {
            // The length covers the MESSAGE-INTEGRITY attribute (24 bytes) it is computed over.
            let mut m = header(body.len() + 24);
            m.extend_from_slice(&body);
            let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(key).expect("any key length");
            mac.update(&m);
            m.extend_from_slice(&ATTR_INTEGRITY.to_be_bytes());
            m.extend_from_slice(&20u16.to_be_bytes());
            m.extend_from_slice(&mac.finalize().into_bytes());
            m
        }
    }
}

fn decode(b: &[u8]) -> Option<Msg> {
    if b.len() < 20 || u32::from_be_bytes([b[4], b[5], b[6], b[7]]) != MAGIC {
        return None;
    }
    let class_method = u16::from_be_bytes([b[0], b[1]]);
    let len = u16::from_be_bytes([b[2], b[3]]) as usize;
    let mut attrs = Vec::new();
    let mut i = 20;
    while i + 4 <= 20 + len && i + 4 <= b.len() {
        let t = u16::from_be_bytes([b[i], b[i + 1]]);
        let l = u16::from_be_bytes([b[i + 2], b[i + 3]]) as usize;
        let v = b.get(i + 4..i + 4 + l)?.to_vec();
        attrs.push((t, v));
        i += 4 + l.div_ceil(4) * 4;
    }
    Some(Msg {
        class_method,
        attrs,
    })
}

fn tid() -> [u8; 12] {
    rand::random()
}

fn exchange_on(sock: &UdpSocket, server: SocketAddr, msg: &[u8]) -> std::io::Result<Msg> {
    sock.send_to(msg, server)?;
    let mut buf = [0u8; 1500];
    let (n, _) = sock.recv_from(&mut buf)?;
    decode(&buf[..n])
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "not STUN"))
}

fn socket(wait: Duration) -> std::io::Result<UdpSocket> {
    let sock = UdpSocket::bind("127.0.0.1:0")?;
    sock.set_read_timeout(Some(wait))?;
    Ok(sock)
}

/// A STUN binding request; Ok when the server answers.
pub fn binding(server: SocketAddr, wait: Duration) -> std::io::Result<()> {
    exchange_on(&socket(wait)?, server, &encode(BINDING, tid(), &[], None)).map(|_| ())
}

fn attr(m: &Msg, t: u16) -> Option<&[u8]> {
    m.attrs
        .iter()
        .find(|(k, _)| *k == t)
        .map(|(_, v)| v.as_slice())
}

fn error_code(m: &Msg) -> u16 {
    attr(m, ATTR_ERROR)
        .filter(|v| v.len() >= 4)
        .map_or(0, |v| u16::from(v[2] & 7) * 100 + u16::from(v[3]))
}

/// TURN Allocate (UDP relay) with long-term credentials.
pub fn allocate(server: SocketAddr, username: &str, password: &str) -> std::io::Result<Allocation> {
    // Both requests from one socket: the relay binds its nonce to the client's address.
    let sock = socket(Duration::from_secs(5))?;
    let transport = (ATTR_TRANSPORT, vec![17, 0, 0, 0]);
    let first = exchange_on(
        &sock,
        server,
        &encode(ALLOCATE, tid(), std::slice::from_ref(&transport), None),
    )?;
    if first.class_method == 0x0103 {
        return Ok(Allocation::Allocated);
    }
    let (Some(realm), Some(nonce)) = (attr(&first, ATTR_REALM), attr(&first, ATTR_NONCE)) else {
        return Ok(Allocation::Refused(error_code(&first)));
    };
    let key =
        Md5::digest(format!("{username}:{}:{password}", String::from_utf8_lossy(realm)).as_bytes());
    let attrs = vec![
        transport,
        (ATTR_USERNAME, username.as_bytes().to_vec()),
        (ATTR_REALM, realm.to_vec()),
        (ATTR_NONCE, nonce.to_vec()),
    ];
    let second = exchange_on(&sock, server, &encode(ALLOCATE, tid(), &attrs, Some(&key)))?;
    Ok(if second.class_method == 0x0103 {
        Allocation::Allocated
    } else {
        Allocation::Refused(error_code(&second))
    })
}
