//! Clients behind a reverse proxy. The connection then comes from the proxy, and the client's own
//! address is in `X-Forwarded-For`.
//!
//! That header is trusted only when the connection comes from a configured proxy (`trusted_proxies`).
//! Anyone can send the header, so it is never believed from an untrusted address.
//!
//! Once trusted, the client's address takes the connection's place for everything that counts per
//! address: the filing and login limits, and who may read `/metrics`.

use crate::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// One trusted address or network, such as `127.0.0.1` or `10.0.0.0/8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    bits: u8,
}

impl Network {
    /// Reads `ADDRESS` or `ADDRESS/BITS`, for IPv4 or IPv6.
    pub fn parse(text: &str) -> Result<Network, String> {
        let text = text.trim();
        let (addr, bits) = match text.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (text, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| {
            format!("{text:?} is not an IP address or network (such as 10.0.0.0/8)")
        })?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            None => max,
            Some(b) => b
                .parse::<u8>()
                .ok()
                .filter(|b| *b <= max)
                .ok_or_else(|| format!("{text:?}: the prefix length must be 0–{max}"))?,
        };
        // `::ffff:a.b.c.d/n` is an IPv4 network, as clients' addresses are compared.
        if let IpAddr::V6(v6) = addr
            && let Some(v4) = v6.to_ipv4_mapped()
            && bits >= 96
        {
            return Ok(Network {
                addr: IpAddr::V4(v4),
                bits: bits - 96,
            });
        }
        Ok(Network { addr, bits })
    }

    /// Whether `ip` lies in this network (an IPv4 address also as `::ffff:a.b.c.d`).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.bits)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.bits))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// The client behind the proxies: the nearest address in `X-Forwarded-For`, read from the right,
/// that is not itself a trusted proxy. `None` when the header is missing, or when reading from the
/// right meets something that is not an address before any untrusted one (what lies further left
/// was written by the client and proves nothing).
pub fn forwarded_client(headers: &HeaderMap, trusted: &[Network]) -> Option<IpAddr> {
    let mut hops = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        hops.extend(value.to_str().unwrap_or("?").split(',').map(str::trim));
    }
    for hop in hops.into_iter().rev() {
        let ip = hop.parse::<IpAddr>().ok()?;
        if !trusted.iter().any(|n| n.contains(ip)) {
            return Some(ip);
        }
    }
    None
}

/// Middleware: behind a trusted proxy, the client's address stands in for the connection's. When
/// the proxy names no client that can be believed, the client is unknown (`0.0.0.0`): never this
/// machine, and one shared allowance for all such requests.
pub async fn real_client(
    State(state): State<Arc<AppState>>,
    mut req: Request,
    next: Next,
) -> Response {
    if !state.trusted_proxies.is_empty()
        && let Some(ConnectInfo(peer)) = req.extensions().get::<ConnectInfo<SocketAddr>>().copied()
        && state.trusted_proxies.iter().any(|n| n.contains(peer.ip()))
    {
        let client = forwarded_client(req.headers(), &state.trusted_proxies)
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::new(client, 0)));
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn networks_hold_their_addresses_and_no_others() {
        let n = Network::parse("10.0.0.0/8").unwrap();
        assert!(n.contains("10.200.1.2".parse().unwrap()));
        assert!(n.contains("::ffff:10.1.1.1".parse().unwrap()));
        assert!(!n.contains("11.0.0.1".parse().unwrap()));
        let one = Network::parse("127.0.0.1").unwrap();
        assert!(one.contains("127.0.0.1".parse().unwrap()));
        assert!(!one.contains("127.0.0.2".parse().unwrap()));
        assert!(
            Network::parse("::1")
                .unwrap()
                .contains("::1".parse().unwrap())
        );
        assert!(
            Network::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        for bad in ["10.0.0.0/33", "proxy.lan", "10.0.0/8", "::1/129", ""] {
            assert!(Network::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_client_is_the_nearest_untrusted_hop() {
        let trusted = [
            Network::parse("127.0.0.1").unwrap(),
            Network::parse("10.0.0.0/8").unwrap(),
        ];
        let mut h = HeaderMap::new();
        assert_eq!(forwarded_client(&h, &trusted), None);
        // A client may put anything on the left; only what the trusted proxies appended counts.
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("1.2.3.4, 172.16.5.6, 10.0.0.9"),
        );
        assert_eq!(
            forwarded_client(&h, &trusted),
            Some("172.16.5.6".parse().unwrap())
        );
        h.insert("x-forwarded-for", HeaderValue::from_static("10.0.0.9"));
        assert_eq!(forwarded_client(&h, &trusted), None);
        h.insert("x-forwarded-for", HeaderValue::from_static("not-an-ip"));
        assert_eq!(forwarded_client(&h, &trusted), None);
        // What the client wrote on the left cannot hide the address the proxy appended ...
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("unknown, 203.0.113.5"),
        );
        assert_eq!(
            forwarded_client(&h, &trusted),
            Some("203.0.113.5".parse().unwrap())
        );
        // ... and a proxy's entry that is no address leaves the client unknown.
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("203.0.113.5, unknown"),
        );
        assert_eq!(forwarded_client(&h, &trusted), None);
        assert!(
            Network::parse("::ffff:10.0.0.0/104")
                .unwrap()
                .contains("10.9.9.9".parse().unwrap())
        );
    }
}
