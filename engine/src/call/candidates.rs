//! Which remote ICE candidates a call may use (tests allow only loopback and their own
//! namespaces, so no packet ever leaves for another host).

use std::net::IpAddr;

/// Which remote ICE candidates may be used: everything by default; in tests only loopback and
/// the test's own namespaces, so no packet ever leaves for another host.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CandidateFilter {
    allow: Vec<(IpAddr, u8)>,
}

impl CandidateFilter {
    /// Parse networks like `127.0.0.0/8` or `10.77.0.0/16` (an address alone is a /32 or /128).
    pub fn parse(networks: &[String]) -> Result<CandidateFilter, String> {
        let mut allow = Vec::new();
        for n in networks {
            let (addr, len) = match n.split_once('/') {
                Some((a, l)) => (a, Some(l)),
                None => (n.as_str(), None),
            };
            let ip: IpAddr = addr.parse().map_err(|_| format!("not a network: {n}"))?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let len = match len {
                Some(l) => l.parse::<u8>().map_err(|_| format!("not a network: {n}"))?,
                None => max,
            };
            if len > max {
                return Err(format!("not a network: {n}"));
            }
            allow.push((ip, len));
        }
        Ok(CandidateFilter { allow })
    }

    pub fn is_open(&self) -> bool {
        self.allow.is_empty()
    }

    fn allows_ip(&self, ip: IpAddr) -> bool {
        self.allow.iter().any(|&(net, len)| match (net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        })
    }

    /// Whether an SDP candidate line (`candidate:… <ip> <port> typ …`) may be used.
    pub fn allows(&self, candidate: &str) -> bool {
        if self.is_open() {
            return true;
        }
        let line = candidate.strip_prefix("a=").unwrap_or(candidate);
        // foundation component transport priority address port "typ" type …
        line.split_whitespace()
            .nth(4)
            .and_then(|a| a.parse::<IpAddr>().ok())
            .is_some_and(|ip| self.allows_ip(ip))
    }
}
