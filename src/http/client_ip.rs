//! The client's address behind a load balancer. A connection's peer is the client, unless the
//! peer is one of `SUPPORTDESK_TRUSTED_PROXIES`: then the client is read from the `Forwarded`
//! (RFC 7239) or `X-Forwarded-For` header the proxy appended to. Headers from any other peer
//! are ignored, so a client cannot choose the address its rate limits and sign-in throttle
//! count against by sending one.

use std::net::IpAddr;
use std::str::FromStr;

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The networks whose connections may tell us who the client is.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Vec<IpNet>);

/// The client's address for rate limits, the sign-in throttle and logs: the peer's, or the one
/// a trusted proxy reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl FromStr for TrustedProxies {
    type Err = String;

    /// Comma-separated CIDRs; a bare address means that address alone.
    fn from_str(text: &str) -> Result<Self, String> {
        let mut nets = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let net = match part.parse::<IpNet>() {
                Ok(net) => net,
                Err(_) => part
                    .parse::<IpAddr>()
                    .map(IpNet::from)
                    .map_err(|_| format!("not a CIDR or address: {part:?}"))?,
            };
            nets.push(net);
        }
        Ok(Self(nets))
    }
}

impl TrustedProxies {
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client of a request that arrived from `peer`. From a trusted peer, the hops the
    /// proxies recorded are walked from the nearest (rightmost) back: the first address that is
    /// not itself a trusted proxy is the client. Anything earlier was written by whoever sent
    /// the request and proves nothing. An entry that is not an address (`unknown`, an
    /// obfuscated name, garbage) stops the walk at the last trusted hop before it.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let hops = forwarded_hops(headers);
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Some(ip) = hop else {
                break;
            };
            client = canonical(*ip);
            if !self.trusts(client) {
                break;
            }
        }
        client
    }
}

/// An IPv4 address that arrived as IPv6 (`::ffff:1.2.3.4`, on a dual-stack socket) is the IPv4
/// address: one client, one count.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The hops of `Forwarded` when present (the standard), else of `X-Forwarded-For`, in order,
/// over all lines of the header; `None` for an entry that is not an address.
fn forwarded_hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let forwarded: Vec<&str> = headers
        .get_all("forwarded")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if !forwarded.is_empty() {
        return forwarded
            .iter()
            .flat_map(|line| line.split(','))
            .map(|element| {
                element
                    .split(';')
                    .filter_map(|pair| pair.split_once('='))
                    .find(|(name, _)| name.trim().eq_ignore_ascii_case("for"))
                    .and_then(|(_, value)| parse_node(value))
            })
            .collect();
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|v| v.to_str().ok().into_iter().flat_map(|s| s.split(',')))
        .map(parse_node)
        .collect()
}

/// `1.2.3.4`, `"[2001:db8::1]:4711"`, `1.2.3.4:80`, `2001:db8::1`.
fn parse_node(text: &str) -> Option<IpAddr> {
    let text = text.trim().trim_matches('"');
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(rest) = text.strip_prefix('[') {
        return rest.split_once(']').and_then(|(ip, _)| ip.parse().ok());
    }
    text.rsplit_once(':').and_then(|(ip, port)| {
        port.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| ip.parse().ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            if let Ok(value) = value.parse() {
                map.append(*name, value);
            }
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    #[test]
    fn headers_from_an_untrusted_peer_change_nothing() -> Result<(), String> {
        let trusted: TrustedProxies = "10.0.0.0/8".parse()?;
        let spoofed = headers(&[("x-forwarded-for", "1.2.3.4"), ("forwarded", "for=5.6.7.8")]);
        assert_eq!(
            trusted.client(ip("203.0.113.9"), &spoofed),
            ip("203.0.113.9")
        );
        let none = TrustedProxies::default();
        assert_eq!(none.client(ip("127.0.0.1"), &spoofed), ip("127.0.0.1"));
        Ok(())
    }

    #[test]
    fn the_client_is_the_first_untrusted_hop_from_the_right() -> Result<(), String> {
        let trusted: TrustedProxies = "10.0.0.0/8, 192.168.1.1".parse()?;
        // The client forged the first entry; the proxies appended the rest.
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.1.1.1")]);
        assert_eq!(trusted.client(ip("192.168.1.1"), &h), ip("198.51.100.7"));
        let h = headers(&[
            ("forwarded", "for=6.6.6.6"),
            (
                "forwarded",
                "for=\"[2001:db8::7]:4711\";proto=https, for=10.0.0.2",
            ),
        ]);
        assert_eq!(trusted.client(ip("10.0.0.1"), &h), ip("2001:db8::7"));
        Ok(())
    }

    #[test]
    fn garbage_stops_the_walk_at_the_last_trusted_hop() -> Result<(), String> {
        let trusted: TrustedProxies = "10.0.0.0/8".parse()?;
        let h = headers(&[("x-forwarded-for", "1.2.3.4, unknown, 10.0.0.9")]);
        assert_eq!(trusted.client(ip("10.0.0.1"), &h), ip("10.0.0.9"));
        // No header at all: the proxy itself.
        assert_eq!(
            trusted.client(ip("10.0.0.1"), &HeaderMap::new()),
            ip("10.0.0.1")
        );
        Ok(())
    }

    #[test]
    fn ipv4_mapped_peers_count_as_ipv4() -> Result<(), String> {
        let trusted: TrustedProxies = "127.0.0.1/32".parse()?;
        let h = headers(&[("x-forwarded-for", "198.51.100.7")]);
        assert_eq!(
            trusted.client(ip("::ffff:127.0.0.1"), &h),
            ip("198.51.100.7")
        );
        Ok(())
    }

    #[test]
    fn bad_settings_are_refused() {
        assert!("10.0.0.0/33".parse::<TrustedProxies>().is_err());
        assert!("nginx".parse::<TrustedProxies>().is_err());
        assert!("".parse::<TrustedProxies>().is_ok_and(|t| t.0.is_empty()));
    }
}
