//! The town's own certificate authority, for a pilot on a network with no
//! public name (a town office's intranet, an IP address): `tls init` makes
//! an authority that may vouch only for the hosts it is made for (X.509
//! name constraints, so a kiosk that installs it trusts nothing else
//! because of it) and a server certificate it signs. Run again, it keeps
//! the authority and issues a new server certificate, so devices need not
//! install anything again; the server rereads the files by itself.

use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;
use rcgen::{
    BasicConstraints, CertificateParams, CidrSubnet, DnType, ExtendedKeyUsagePurpose, GeneralSubtree, IsCa, Issuer,
    KeyPair, KeyUsagePurpose, NameConstraints,
};
use sha2::Digest;
use time::OffsetDateTime;

/// The authority's certificate, which devices install (PEM).
pub const AUTHORITY_CERTIFICATE: &str = "ca.crt";
/// The authority's key: only `tls init` reads it.
pub const AUTHORITY_KEY: &str = "ca.key";
/// The server's chain (its certificate, then the authority's).
pub const SERVER_CHAIN: &str = "server.crt";
/// The server's key.
pub const SERVER_KEY: &str = "server.key";

/// How long the authority is valid: devices install it once.
const AUTHORITY_YEARS: i64 = 10;

/// What `init` made.
#[derive(Debug)]
pub struct Issued {
    /// Whether a new authority was made (devices must install it).
    pub new_authority: bool,
    pub chain: PathBuf,
    pub key: PathBuf,
    /// SHA-256 of the authority's certificate, as people compare it.
    pub authority_fingerprint: String,
    pub not_after: OffsetDateTime,
}

/// Makes (or keeps) the authority in `dir` and issues a server certificate
/// for `hosts` valid for `days`.
pub fn init(dir: &Path, hosts: &[String], days: u32) -> anyhow::Result<Issued> {
    anyhow::ensure!(!hosts.is_empty(), "name at least one host (--host), the name or address people open");
    let hosts: Vec<Host> = hosts.iter().map(|host| Host::parse(host)).collect::<anyhow::Result<_>>()?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("restricting {}", dir.display()))?;
    let authority_path = dir.join(AUTHORITY_CERTIFICATE);
    let authority_key_path = dir.join(AUTHORITY_KEY);
    let new_authority = !authority_path.exists();
    let (authority_pem, authority_key) = if new_authority {
        let key = KeyPair::generate().context("generating the authority's key")?;
        let certificate = authority_params(&hosts)?.self_signed(&key).context("signing the authority")?;
        write_file(&authority_key_path, key.serialize_pem().as_bytes(), 0o600)?;
        write_file(&authority_path, certificate.pem().as_bytes(), 0o644)?;
        (certificate.pem(), key)
    } else {
        let pem = std::fs::read_to_string(&authority_path)
            .with_context(|| format!("reading {}", authority_path.display()))?;
        let key_pem = std::fs::read_to_string(&authority_key_path)
            .with_context(|| format!("reading {}", authority_key_path.display()))?;
        let key =
            KeyPair::from_pem(&key_pem).with_context(|| format!("{} is not a key", authority_key_path.display()))?;
        ensure_covered(&pem, &hosts, dir)?;
        (pem, key)
    };
    let issuer = Issuer::from_ca_cert_pem(&authority_pem, &authority_key)
        .with_context(|| format!("{} is not a certificate authority", authority_path.display()))?;
    let server_key = KeyPair::generate().context("generating the server's key")?;
    let params = server_params(&hosts, days)?;
    let not_after = params.not_after;
    let server = params.signed_by(&server_key, &issuer).context("signing the server certificate")?;
    let chain = dir.join(SERVER_CHAIN);
    let key = dir.join(SERVER_KEY);
    // The key first: the server takes the pair once both are whole.
    write_file(&key, server_key.serialize_pem().as_bytes(), 0o600)?;
    write_file(&chain, format!("{}{}", server.pem(), authority_pem).as_bytes(), 0o644)?;
    Ok(Issued { new_authority, chain, key, authority_fingerprint: fingerprint_of_pem(&authority_pem)?, not_after })
}

/// The SHA-256 fingerprint of a PEM certificate, as `AB:CD:...`.
pub fn fingerprint_of_pem(pem: &str) -> anyhow::Result<String> {
    let der = der_of_pem(pem)?;
    Ok(sha2::Sha256::digest(&der).iter().map(|byte| format!("{byte:02X}")).collect::<Vec<_>>().join(":"))
}

/// The DER bytes of a PEM certificate.
pub fn der_of_pem(pem: &str) -> anyhow::Result<Vec<u8>> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    Ok(CertificateDer::from_pem_slice(pem.as_bytes()).context("not a PEM certificate")?.to_vec())
}

/// A host a certificate is for: a DNS name or an IP address.
#[derive(Debug, Clone, PartialEq)]
enum Host {
    Name(String),
    Address(IpAddr),
}

impl Host {
    fn parse(text: &str) -> anyhow::Result<Host> {
        let text = text.trim().trim_end_matches('.');
        if let Ok(address) = text.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
            return Ok(Host::Address(address));
        }
        let valid_label = |label: &str| {
            !label.is_empty()
                && label.len() <= 63
                && label.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        };
        anyhow::ensure!(
            text.len() <= 253 && text.split('.').all(valid_label),
            "`{text}` is neither an IP address nor a host name (letters, digits and hyphens between dots; \
             a Chinese name is given in its xn-- form)"
        );
        Ok(Host::Name(text.to_ascii_lowercase()))
    }

    fn subtree(&self) -> GeneralSubtree {
        match self {
            Host::Name(name) => GeneralSubtree::DnsName(name.clone()),
            Host::Address(address) => GeneralSubtree::IpAddress(CidrSubnet::from_addr_prefix(
                *address,
                if address.is_ipv4() { 32 } else { 128 },
            )),
        }
    }

    fn text(&self) -> String {
        match self {
            Host::Name(name) => name.clone(),
            Host::Address(address) => address.to_string(),
        }
    }
}

fn authority_params(hosts: &[Host]) -> anyhow::Result<CertificateParams> {
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::OrganizationName, "人民调解视频服务");
    params.distinguished_name.push(DnType::CommonName, format!("本地证书颁发机构 {}", hosts[0].text()));
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    params.name_constraints = Some(NameConstraints {
        permitted_subtrees: hosts.iter().map(Host::subtree).collect(),
        excluded_subtrees: Vec::new(),
    });
    let now = OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(365 * AUTHORITY_YEARS);
    Ok(params)
}

fn server_params(hosts: &[Host], days: u32) -> anyhow::Result<CertificateParams> {
    let mut params = CertificateParams::new(hosts.iter().map(Host::text).collect::<Vec<_>>())
        .context("the hosts of the server certificate")?;
    params.distinguished_name.push(DnType::CommonName, hosts[0].text());
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    let now = OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(i64::from(days));
    Ok(params)
}

/// Refuses hosts the existing authority may not vouch for: a certificate
/// for them would be rejected by every browser.
fn ensure_covered(authority_pem: &str, hosts: &[Host], dir: &Path) -> anyhow::Result<()> {
    let der = der_of_pem(authority_pem)?;
    let (_, certificate) = x509_parser::parse_x509_certificate(&der).context("parsing the authority's certificate")?;
    let Ok(Some(constraints)) = certificate.name_constraints() else { return Ok(()) };
    let permitted = constraints.value.permitted_subtrees.as_deref().unwrap_or_default();
    let covers = |host: &Host| {
        permitted.iter().any(|subtree| match (&subtree.base, host) {
            (x509_parser::extensions::GeneralName::DNSName(allowed), Host::Name(name)) => {
                let allowed = allowed.trim_start_matches('.').to_ascii_lowercase();
                *name == allowed || name.ends_with(&format!(".{allowed}"))
            }
            (x509_parser::extensions::GeneralName::IPAddress(bytes), Host::Address(address)) => {
                let octets = match address {
                    IpAddr::V4(v4) => v4.octets().to_vec(),
                    IpAddr::V6(v6) => v6.octets().to_vec(),
                };
                bytes.len() == octets.len() * 2
                    && octets
                        .iter()
                        .zip(&bytes[..octets.len()])
                        .zip(&bytes[octets.len()..])
                        .all(|((octet, network), mask)| octet & mask == network & mask)
            }
            _ => false,
        })
    };
    let outside: Vec<String> = hosts.iter().filter(|host| !covers(host)).map(Host::text).collect();
    anyhow::ensure!(
        outside.is_empty(),
        "the certificate authority in {} may not vouch for {}: it was made for other hosts. To make a new one, \
         move {AUTHORITY_CERTIFICATE} and {AUTHORITY_KEY} away and run tls init again (every device must then \
         install the new authority)",
        dir.display(),
        outside.join(", ")
    );
    Ok(())
}

/// Writes a file whole (a temporary file renamed over it) with `mode`.
fn write_file(path: &Path, contents: &[u8], mode: u32) -> anyhow::Result<()> {
    let temporary = path.with_extension("new");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&temporary)
        .with_context(|| format!("creating {}", temporary.display()))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", temporary.display()))?;
    std::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(mode))?;
    std::fs::rename(&temporary, path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(list: &[&str]) -> Vec<String> {
        list.iter().map(|host| (*host).to_owned()).collect()
    }

    #[test]
    fn a_renewal_keeps_the_authority_and_refuses_other_hosts() {
        let dir = tempfile::tempdir().unwrap();
        let first = init(dir.path(), &hosts(&["192.168.10.5", "tiaojie.xiawa.local"]), 30).unwrap();
        assert!(first.new_authority);
        let mode = std::fs::metadata(dir.path().join(AUTHORITY_KEY)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let second = init(dir.path(), &hosts(&["192.168.10.5"]), 30).unwrap();
        assert!(!second.new_authority);
        assert_eq!(first.authority_fingerprint, second.authority_fingerprint);
        let error = init(dir.path(), &hosts(&["10.0.0.1"]), 30).unwrap_err().to_string();
        assert!(error.contains("may not vouch for 10.0.0.1"), "{error}");
    }

    #[test]
    fn hosts_are_names_or_addresses() {
        assert_eq!(Host::parse("[::1]").unwrap(), Host::Address("::1".parse().unwrap()));
        assert_eq!(Host::parse("Tiaojie.Example.cn.").unwrap(), Host::Name("tiaojie.example.cn".into()));
        assert!(Host::parse("调解.local").is_err());
        assert!(Host::parse("a..b").is_err());
        assert!(Host::parse("-a.b").is_err());
    }
}
