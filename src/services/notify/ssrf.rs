//! The SSRF guard's rule: which addresses a webhook may not reach unless
//! `SUPPORTDESK_WEBHOOK_ALLOW_PRIVATE=true`. It is applied to every address a target's name
//! resolves to (after DNS, so a public name pointing inside is refused too), and the delivery
//! connects to the address that was checked.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether `ip` is private, loopback, link-local (cloud metadata lives there), unspecified,
/// shared (CGNAT), multicast or otherwise not a public unicast address.
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => forbidden_v4(v4),
            None => forbidden_v6(v6),
        },
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        // 100.64.0.0/10, shared address space (carrier-grade NAT, some clouds' internals).
        || (a == 100 && (64..128).contains(&b))
        // 192.0.0.0/24, protocol assignments; 198.18.0.0/15, benchmarking; 240/4, reserved.
        || (a == 192 && b == 0 && ip.octets()[2] == 0)
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240
}

fn forbidden_v6(ip: Ipv6Addr) -> bool {
    let seg = ip.segments();
    let first = seg[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // ::/96, IPv4-compatible (`::a.b.c.d`, deprecated, no public use): some stacks still
        // route it to the IPv4 address, so all of it is refused.
        || seg[..6] == [0; 6]
        // ::ffff:0:0/96, IPv4-translated (`::ffff:0:a.b.c.d`, SIIT): refused whole likewise.
        || seg[..6] == [0, 0, 0, 0, 0xffff, 0]
        // fc00::/7 unique local, fe80::/10 link-local, fec0::/10 site-local (deprecated,
        // still routed inside some networks).
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first & 0xffc0) == 0xfec0
        // 64:ff9b::/96 NAT64 could reach any IPv4 address, the forbidden ones included; so
        // could 64:ff9b:1::/48, the local-use NAT64 prefix.
        || (first == 0x0064 && seg[1] == 0xff9b && seg[2..6] == [0; 4])
        || (first == 0x0064 && seg[1] == 0xff9b && seg[2] == 0x0001)
        // 2002::/16 6to4 carries an IPv4 address in bits 16..48: refused when that one is.
        || (first == 0x2002 && {
            let [_, _, a, b, c, d, ..] = ip.octets();
            forbidden_v4(Ipv4Addr::new(a, b, c, d))
        })
        // 2001:db8::/32 documentation.
        || (first == 0x2001 && seg[1] == 0x0db8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inside_addresses_are_forbidden_and_public_ones_are_not() {
        for inside in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::808:808",
            "64:ff9b:1::a00:1",
            "64:ff9b:1:abcd::1",
        ] {
            let ip: IpAddr = inside.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
            assert!(is_forbidden(ip), "{inside}");
        }
        for public in [
            "93.184.215.14",
            "1.1.1.1",
            "2606:4700::1111",
            "100.128.0.1",
            // 6to4 of a public address, and a public address next to the 6to4 prefix.
            "2002:0808:0808::1",
            "2003::1",
        ] {
            let ip: IpAddr = public.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
            assert!(!is_forbidden(ip), "{public}");
        }
    }

    fn refused(text: &str) -> bool {
        is_forbidden(text.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)))
    }

    #[test]
    fn ipv4_compatible_addresses_are_refused() {
        assert!(refused("::127.0.0.1"));
        assert!(refused("::10.0.0.1"));
        assert!(refused("::169.254.169.254"));
        // Deprecated and never a public target: refused even around a public address.
        assert!(refused("::8.8.8.8"));
    }

    #[test]
    fn ipv4_translated_addresses_are_refused() {
        assert!(refused("::ffff:0:127.0.0.1"));
        assert!(refused("::ffff:0:10.1.2.3"));
        assert!(refused("::ffff:0:8.8.8.8"));
    }

    #[test]
    fn six_to_four_wrapping_an_inside_address_is_refused() {
        assert!(refused("2002:7f00:0001::1"), "127.0.0.1");
        assert!(refused("2002:0a00:0001::"), "10.0.0.1");
        assert!(refused("2002:a9fe:a9fe::1"), "169.254.169.254");
        assert!(refused("2002:c0a8:0101:1::1"), "192.168.1.1");
        assert!(refused("2002::"), "0.0.0.0");
        assert!(!refused("2002:0808:0808::1"), "8.8.8.8 is public");
    }

    #[test]
    fn nat64_prefixes_are_refused() {
        assert!(refused("64:ff9b::7f00:1"));
        assert!(
            refused("64:ff9b::1.1.1.1"),
            "the well-known prefix reaches anything"
        );
        assert!(refused("64:ff9b:1::10.0.0.1"));
        assert!(refused("64:ff9b:1:ffff::1"));
        assert!(!refused("64:ff9c::1"), "outside both prefixes");
    }

    #[test]
    fn site_local_addresses_are_refused() {
        assert!(refused("fec0::1"));
        assert!(refused("feff:ffff::1"));
        assert!(
            !refused("fe00::1") && !refused("fbff::1"),
            "around it, not inside"
        );
    }
}
