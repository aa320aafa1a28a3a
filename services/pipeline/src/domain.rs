//! Host and registrable domain of a page URL.
//!
//! The paper's 10% rule (arXiv 2402.03300 §2.1) groups pages by "domain"; here that domain is the
//! **host** (`math.stackexchange.com`), lowercased and without a leading `www.`. The
//! **registrable domain** (`stackexchange.com`, from the public-suffix list) is kept as a roll-up.

/// Host and registrable domain of one URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostDomain {
    /// Lowercased host without a leading `www.`: the domain of the 10% rule.
    pub host: String,
    /// Registrable domain (public suffix + one label) of the host; the host itself for IP
    /// addresses and hosts the public-suffix list does not cover.
    pub domain: String,
}

/// Splits `url` into [`HostDomain`]. Returns `None` when the URL does not parse or has no host
/// (the caller counts such a page under `bad_url`).
pub fn host_domain(url: &str) -> Option<HostDomain> {
    let parsed = url::Url::parse(url.trim()).ok()?;
    let raw = match parsed.host()? {
        url::Host::Domain(d) => d.trim_end_matches('.').to_ascii_lowercase(),
        url::Host::Ipv4(ip) => return Some(same(ip.to_string())),
        url::Host::Ipv6(ip) => return Some(same(format!("[{ip}]"))),
    };
    let host = raw.strip_prefix("www.").filter(|h| h.contains('.')).unwrap_or(&raw).to_string();
    let domain = psl::domain_str(&host).unwrap_or(&host).to_string();
    Some(HostDomain { host, domain })
}

fn same(host: String) -> HostDomain {
    HostDomain { domain: host.clone(), host }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_drops_www_and_case_and_keeps_subdomains() {
        let hd = host_domain("https://Math.StackExchange.com/questions/458323/x?y=1").unwrap();
        assert_eq!(hd.host, "math.stackexchange.com");
        assert_eq!(hd.domain, "stackexchange.com");
        let hd = host_domain("http://www.mathoverflow.net/questions").unwrap();
        assert_eq!(hd.host, "mathoverflow.net");
        assert_eq!(hd.domain, "mathoverflow.net");
    }

    #[test]
    fn public_suffixes_with_two_labels_roll_up_correctly() {
        let hd = host_domain("http://www.bbc.co.uk/news").unwrap();
        assert_eq!(hd.host, "bbc.co.uk");
        assert_eq!(hd.domain, "bbc.co.uk");
        let hd = host_domain("https://user.github.io/page").unwrap();
        assert_eq!(hd.host, "user.github.io");
        assert_eq!(hd.domain, "user.github.io");
    }

    #[test]
    fn ip_hosts_and_bad_urls() {
        assert_eq!(host_domain("http://127.0.0.1:8080/a").unwrap().domain, "127.0.0.1");
        assert!(host_domain("not a url").is_none());
        assert!(host_domain("mailto:x@y.z").is_none());
    }
}
