//! Which remote ICE candidates a call may use (tests allow only loopback and their own
//! namespaces, so no packet ever leaves for another host).

use std::net::IpAddr;

/// A network policy that cannot be read, in the words of the setting it came from.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IcePolicyError {
    #[error("not a network: {0}")]
    NotANetwork(String),
    #[error("{var}: {value} is not an address")]
    NotAnAddress { var: &'static str, value: String },
    #[error("{var}: {source}")]
    Setting {
        var: &'static str,
        source: Box<IcePolicyError>,
    },
}

/// The network policy of a call outside tests' command lines: the addresses ICE may gather
/// on (`ASSENT_ICE_ADDRESS`) and the remote candidates it may use (`ASSENT_ICE_ALLOW`), both
/// comma-separated like `--ice-address` and `--ice-allow`; unset, everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IcePolicy {
    pub local_addresses: Vec<IpAddr>,
    pub candidates: CandidateFilter,
}

impl IcePolicy {
    /// The policy the environment sets.
    pub fn from_env() -> Result<IcePolicy, IcePolicyError> {
        let var = |name: &str| std::env::var(name).unwrap_or_default();
        IcePolicy::from_settings(&var(ADDRESS), &var(ALLOW))
    }

    /// The policy of the two settings' values.
    pub fn from_settings(addresses: &str, allow: &str) -> Result<IcePolicy, IcePolicyError> {
        let local_addresses = list(addresses)
            .into_iter()
            .map(|a| {
                a.parse().map_err(|_| IcePolicyError::NotAnAddress {
                    var: ADDRESS,
                    value: a,
                })
            })
            .collect::<Result<_, _>>()?;
        let candidates =
            CandidateFilter::parse(&list(allow)).map_err(|e| IcePolicyError::Setting {
                var: ALLOW,
                source: Box::new(e),
            })?;
        Ok(IcePolicy {
            local_addresses,
            candidates,
        })
    }
}

const ADDRESS: &str = "ASSENT_ICE_ADDRESS";
const ALLOW: &str = "ASSENT_ICE_ALLOW";

fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Which remote ICE candidates may be used: everything by default; in tests only loopback and
/// the test's own namespaces, so no packet ever leaves for another host.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CandidateFilter {
    allow: Vec<(IpAddr, u8)>,
}

impl CandidateFilter {
    /// Parse networks like `127.0.0.0/8` or `10.77.0.0/16` (an address alone is a /32 or /128).
    pub fn parse(networks: &[String]) -> Result<CandidateFilter, IcePolicyError> {
        let mut allow = Vec::new();
        for n in networks {
            let (addr, len) = match n.split_once('/') {
                Some((a, l)) => (a, Some(l)),
                None => (n.as_str(), None),
            };
            let bad = || IcePolicyError::NotANetwork(n.clone());
            let ip: IpAddr = addr.parse().map_err(|_| bad())?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let len = match len {
                Some(l) => l.parse::<u8>().map_err(|_| bad())?,
                None => max,
            };
            if len > max {
                return Err(bad());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_reads_both_settings() {
        let p = IcePolicy::from_settings(" 127.0.0.1, ::1 ", "127.0.0.0/8,10.77.0.0/16").unwrap();
        assert_eq!(
            p.local_addresses,
            [
                "127.0.0.1".parse::<IpAddr>().unwrap(),
                "::1".parse().unwrap()
            ]
        );
        assert!(
            p.candidates
                .allows("candidate:1 1 UDP 1 10.77.3.4 5000 typ host")
        );
        assert!(
            !p.candidates
                .allows("candidate:1 1 UDP 1 192.168.1.2 5000 typ host")
        );
        assert_eq!(
            IcePolicy::from_settings("", "").unwrap(),
            IcePolicy::default()
        );
    }

    #[test]
    fn a_bad_setting_is_named_in_the_error() {
        let e = IcePolicy::from_settings("localhost", "").unwrap_err();
        assert_eq!(
            e.to_string(),
            "ASSENT_ICE_ADDRESS: localhost is not an address"
        );
        let e = IcePolicy::from_settings("", "10.0.0.0/33").unwrap_err();
        assert_eq!(
            e.to_string(),
            "ASSENT_ICE_ALLOW: not a network: 10.0.0.0/33"
        );
    }
}
