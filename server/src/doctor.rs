//! `mediation-server doctor`: reads the configuration as the server would
//! and checks what usually goes wrong when a town deploys it, each finding
//! in plain words with what to do about it. A failure is something that
//! would stop a session (no camera on an http page, media announced on
//! loopback, an expired certificate, a TURN server that does not answer,
//! a database out of reach); the exit code is 1 when there is one.
//! Nothing is changed: ports are bound and released at once, the database
//! is read only.

use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use crate::config::Config;
use crate::store::Backend;
use crate::store::inspect::{Inspection, inspect};

/// How long a TURN server has to answer.
const TURN_TIMEOUT: Duration = Duration::from_secs(2);
/// A certificate this close to its end is a warning.
const RENEW_WITHIN_DAYS: i64 = 21;
/// A database clock further off than this is a warning.
const CLOCK_TOLERANCE_SECS: f64 = 5.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Ok,
    Warning,
    Failure,
}

/// One check's result: what was found and, when something is wrong, what
/// to do.
#[derive(Debug)]
pub struct Finding {
    pub level: Level,
    /// What was checked, as the configuration names it.
    pub topic: &'static str,
    pub text: String,
    pub fix: Option<String>,
}

impl Finding {
    fn ok(topic: &'static str, text: impl Into<String>) -> Self {
        Finding { level: Level::Ok, topic, text: text.into(), fix: None }
    }

    fn warning(topic: &'static str, text: impl Into<String>, fix: impl Into<String>) -> Self {
        Finding { level: Level::Warning, topic, text: text.into(), fix: Some(fix.into()) }
    }

    fn failure(topic: &'static str, text: impl Into<String>, fix: impl Into<String>) -> Self {
        Finding { level: Level::Failure, topic, text: text.into(), fix: Some(fix.into()) }
    }
}

/// Runs every check.
pub async fn examine(config: &Config) -> Vec<Finding> {
    let public = PublicUrl::parse(&config.public_url());
    let mut findings = Vec::new();
    findings.extend(check_public_url(config, &public));
    findings.extend(check_certificate(config, &public));
    findings.extend(check_media_address(config, &public));
    findings.extend(check_media_ports(config));
    findings.extend(check_turn(config).await);
    findings.extend(check_database(config).await);
    findings.extend(check_files(config));
    findings.extend(check_clock());
    findings
}

/// Prints the findings and returns whether none is a failure.
pub fn report(findings: &[Finding]) -> bool {
    let failures = findings.iter().filter(|finding| finding.level == Level::Failure).count();
    let warnings = findings.iter().filter(|finding| finding.level == Level::Warning).count();
    for finding in findings {
        let mark = match finding.level {
            Level::Ok => "ok     ",
            Level::Warning => "WARNING",
            Level::Failure => "FAILURE",
        };
        println!("{mark} {}: {}", finding.topic, finding.text);
        if let Some(fix) = &finding.fix {
            println!("        what to do: {fix}");
        }
    }
    println!();
    println!("{} checks: {failures} failures, {warnings} warnings", findings.len());
    if failures > 0 {
        println!("a failure stops sessions from working: fix it before people rely on this server.");
    }
    failures == 0
}

/// The public URL's parts the checks need.
#[derive(Debug)]
struct PublicUrl {
    text: String,
    https: bool,
    host: String,
}

impl PublicUrl {
    fn parse(text: &str) -> PublicUrl {
        let (https, rest) = match text.split_once("://") {
            Some((scheme, rest)) => (scheme.eq_ignore_ascii_case("https"), rest),
            None => (false, text),
        };
        let authority = rest.split('/').next().unwrap_or_default();
        let host = if let Some(bracketed) = authority.strip_prefix('[') {
            bracketed.split(']').next().unwrap_or_default().to_owned()
        } else {
            authority.rsplit_once(':').map_or(authority, |(host, _)| host).to_owned()
        };
        PublicUrl { text: text.to_owned(), https, host: host.to_ascii_lowercase() }
    }

    fn address(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }

    /// Whether only this machine opens it (a trial on one computer).
    fn is_local(&self) -> bool {
        self.host == "localhost" || self.address().is_some_and(|address| address.is_loopback())
    }
}

fn check_public_url(config: &Config, public: &PublicUrl) -> Vec<Finding> {
    const TOPIC: &str = "public-url";
    if public.host.is_empty() || public.address().is_some_and(|address| address.is_unspecified()) {
        return vec![Finding::failure(
            TOPIC,
            format!("{} is not an address people can open", public.text),
            "set public-url to the https address people type, e.g. https://192.168.10.5 or https://tiaojie.example.gov.cn",
        )];
    }
    if public.https {
        let served = if config.serves_tls() {
            "by this server (tls-cert)"
        } else {
            "by a reverse proxy in front (deploy/nginx.conf)"
        };
        return vec![Finding::ok(TOPIC, format!("{} is https, served {served}", public.text))];
    }
    if public.is_local() {
        return vec![Finding::warning(
            TOPIC,
            format!("{} is plain http: fine on this machine, but no other device gets a camera from it", public.text),
            "for a town: `mediation-server tls init --host <address>`, then set tls-cert, tls-key and an https public-url",
        )];
    }
    vec![Finding::failure(
        TOPIC,
        format!(
            "{} is plain http: browsers open the camera and microphone only on https pages, so parties' phones and \
             village kiosks would join without them",
            public.text
        ),
        "serve HTTPS: `mediation-server tls init --host <address>` (or certificates of a public authority) with \
         tls-cert and tls-key, or the nginx of deploy/; then set public-url to the https address",
    )]
}

fn check_certificate(config: &Config, public: &PublicUrl) -> Vec<Finding> {
    const TOPIC: &str = "tls-cert";
    let Some(chain) = &config.tls_cert else { return Vec::new() };
    let pem = match std::fs::read(chain) {
        Ok(pem) => pem,
        Err(error) => {
            return vec![Finding::failure(
                TOPIC,
                format!("{} cannot be read: {error}", chain.display()),
                "check the path and that the service's user (mediation) may read it",
            )];
        }
    };
    let Some(leaf) = first_certificate(&pem) else {
        return vec![Finding::failure(
            TOPIC,
            format!("{} holds no PEM certificate", chain.display()),
            "point tls-cert at the PEM chain",
        )];
    };
    let Ok((_, certificate)) = x509_parser::parse_x509_certificate(&leaf) else {
        return vec![Finding::failure(
            TOPIC,
            format!("{} is not a readable certificate", chain.display()),
            "point tls-cert at the PEM chain",
        )];
    };
    let mut findings = Vec::new();
    let not_after = certificate.validity().not_after.timestamp();
    let now = chrono::Utc::now().timestamp();
    let days_left = (not_after - now).div_euclid(86_400);
    let until =
        chrono::DateTime::from_timestamp(not_after, 0).map(|at| at.format("%Y-%m-%d").to_string()).unwrap_or_default();
    let renew = "run `mediation-server tls init --host <the same hosts>` again (the authority is kept), or renew with \
                 your certificate authority; the server takes the new files by itself";
    findings.push(if not_after <= now {
        Finding::failure(TOPIC, format!("the certificate expired on {until}: every browser refuses the site"), renew)
    } else if days_left < RENEW_WITHIN_DAYS {
        Finding::warning(TOPIC, format!("the certificate expires on {until}, in {days_left} days"), renew)
    } else {
        Finding::ok(TOPIC, format!("the certificate is valid until {until} ({days_left} days)"))
    });
    let names = certificate_names(&certificate);
    if public.https && !names.iter().any(|name| name_matches(name, &public.host)) {
        findings.push(Finding::failure(
            TOPIC,
            format!("the certificate is for {} but people open {}: browsers refuse it", names.join(", "), public.host),
            "issue the certificate for the public-url's host (`tls init --host <host>`), or set public-url to a host it names",
        ));
    }
    findings
}

fn first_certificate(pem: &[u8]) -> Option<Vec<u8>> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    CertificateDer::pem_slice_iter(pem).next()?.ok().map(|der| der.to_vec())
}

/// The DNS names and addresses a certificate is for.
fn certificate_names(certificate: &x509_parser::certificate::X509Certificate<'_>) -> Vec<String> {
    use x509_parser::extensions::GeneralName;
    let Ok(Some(names)) = certificate.subject_alternative_name() else { return Vec::new() };
    names
        .value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(dns) => Some(dns.to_ascii_lowercase()),
            GeneralName::IPAddress(bytes) => match bytes.len() {
                4 => Some(IpAddr::from(<[u8; 4]>::try_from(*bytes).ok()?).to_string()),
                16 => Some(IpAddr::from(<[u8; 16]>::try_from(*bytes).ok()?).to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

fn name_matches(name: &str, host: &str) -> bool {
    match name.strip_prefix("*.") {
        Some(parent) => host.split_once('.').is_some_and(|(_, rest)| rest == parent),
        None => name == host,
    }
}

fn check_media_address(config: &Config, public: &PublicUrl) -> Vec<Finding> {
    const TOPIC: &str = "rtc-ip";
    let rtc_ip = config.rtc_public_ip.unwrap_or(config.rtc_ip);
    if config.rtc_ip.is_unspecified() {
        return vec![Finding::failure(
            TOPIC,
            format!("{} is not one address: media must be announced on a concrete one", config.rtc_ip),
            "set rtc-ip to this machine's address on the network the stations reach",
        )];
    }
    if rtc_ip.is_loopback() && !public.is_local() {
        return vec![Finding::failure(
            TOPIC,
            format!(
                "media is announced on {rtc_ip}, this machine's loopback, but people open {}: no other device can \
                 send or receive sound and video",
                public.text
            ),
            "set rtc-ip to this machine's address on the town's network (and rtc-public-ip behind a 1:1 NAT)",
        )];
    }
    match std::net::UdpSocket::bind(SocketAddr::new(config.rtc_ip, 0)) {
        Ok(_) => vec![Finding::ok(TOPIC, format!("media is announced on {rtc_ip}"))],
        Err(error) => vec![Finding::failure(
            TOPIC,
            format!("{} cannot be bound ({error}): it is not an address of this machine", config.rtc_ip),
            "set rtc-ip to one of this machine's addresses (`ip -brief address`)",
        )],
    }
}

fn check_media_ports(config: &Config) -> Vec<Finding> {
    let mut findings = Vec::new();
    match &config.rtc_udp_ports {
        Some(range) => {
            let total = usize::from(range.end() - range.start()) + 1;
            let free = range
                .clone()
                .filter(|port| std::net::UdpSocket::bind(SocketAddr::new(config.rtc_ip, *port)).is_ok())
                .count();
            let text = format!("{free} of the {total} UDP ports {}-{} can be bound", range.start(), range.end());
            findings.push(if free == 0 {
                Finding::failure("rtc-udp-ports", text, "choose a free range, or stop what holds it (`ss -ulpn`)")
            } else if free < total {
                Finding::warning(
                    "rtc-udp-ports",
                    format!("{text}: the others are in use (by a running mediation-server, two per participant?)"),
                    "nothing, if the server is running; else find what holds them with `ss -ulpn`",
                )
            } else {
                Finding::ok("rtc-udp-ports", format!("{text}: open them for UDP in the firewall"))
            });
        }
        None => findings.push(Finding::warning(
            "rtc-udp-ports",
            "media may use any UDP port: a firewall cannot be opened for it",
            "set rtc-udp-ports (e.g. 50000-50999, two per participant) and open that range for UDP",
        )),
    }
    match config.rtc_tcp_port {
        Some(port) => {
            let address = SocketAddr::new(config.rtc_ip, port);
            findings.push(match std::net::TcpListener::bind(address) {
                Ok(_) => Finding::ok(
                    "rtc-tcp-port",
                    format!("{address} is free for media over TCP: open it in the firewall"),
                ),
                Err(error) => Finding::warning(
                    "rtc-tcp-port",
                    format!("{address} cannot be bound now ({error})"),
                    "nothing, if the server is running; else choose another port or stop what holds it (`ss -tlpn`)",
                ),
            });
        }
        None if config.turn_urls.is_empty() => findings.push(Finding::warning(
            "rtc-tcp-port",
            "no TCP fallback and no TURN: a station whose firewall blocks UDP gets no media",
            "set rtc-tcp-port (e.g. 8443), or TURN (turn-urls, turn-secret)",
        )),
        None => {}
    }
    findings
}

async fn check_turn(config: &Config) -> Vec<Finding> {
    const TOPIC: &str = "turn-urls";
    if config.turn_urls.is_empty() {
        return Vec::new();
    }
    let mut findings = Vec::new();
    if config.turn_secret.as_deref().is_none_or(str::is_empty) {
        findings.push(Finding::failure(
            "turn-secret",
            "TURN servers are listed but no secret: clients get no TURN credentials",
            "set turn-secret to coturn's static-auth-secret",
        ));
    }
    for url in &config.turn_urls {
        findings.push(check_turn_server(url).await);
    }
    let private_media = match config.rtc_ip {
        IpAddr::V4(v4) => v4.is_private(),
        IpAddr::V6(_) => false,
    };
    if private_media {
        findings.push(Finding::warning(
            TOPIC,
            format!(
                "media is on the private address {}: coturn refuses to relay to private addresses unless allowed",
                config.rtc_ip
            ),
            format!("in coturn.conf, add `allowed-peer-ip={}` (deploy/coturn.conf says how)", config.rtc_ip),
        ));
    }
    findings
}

/// One TURN URL: a STUN binding request over UDP, or a TCP connection for
/// `?transport=tcp` and `turns:`.
async fn check_turn_server(url: &str) -> Finding {
    const TOPIC: &str = "turn-urls";
    let Some((secure, host, port, tcp)) = parse_turn_url(url) else {
        return Finding::failure(
            TOPIC,
            format!("{url} is not a TURN URL"),
            "write turn:<host>:<port>[?transport=tcp] or turns:<host>:<port>",
        );
    };
    let address = match tokio::net::lookup_host((host.as_str(), port)).await.ok().and_then(|mut found| found.next()) {
        Some(address) => address,
        None => {
            return Finding::failure(
                TOPIC,
                format!("{host} in {url} does not resolve"),
                "check the name, or use an address",
            );
        }
    };
    let answered = if tcp || secure {
        tokio::time::timeout(TURN_TIMEOUT, tokio::net::TcpStream::connect(address))
            .await
            .is_ok_and(|connected| connected.is_ok())
    } else {
        stun_binding(address).await
    };
    if answered {
        let how = if tcp || secure { "accepts TCP connections" } else { "answers a STUN binding request" };
        Finding::ok(TOPIC, format!("{url} ({address}) {how}"))
    } else {
        Finding::failure(
            TOPIC,
            format!("{url} ({address}) does not answer: stations behind strict firewalls will get no media"),
            "start coturn (`systemctl status coturn`), open its ports in the firewall, or correct turn-urls",
        )
    }
}

/// `(secure, host, port, tcp)` of `turn:host:port?transport=tcp`.
fn parse_turn_url(url: &str) -> Option<(bool, String, u16, bool)> {
    let (scheme, rest) = url.split_once(':')?;
    let secure = match scheme {
        "turn" | "stun" => false,
        "turns" | "stuns" => true,
        _ => return None,
    };
    let (address, query) = rest.split_once('?').unwrap_or((rest, ""));
    let tcp = query.split('&').any(|pair| pair.eq_ignore_ascii_case("transport=tcp"));
    let default_port = if secure { 5349 } else { 3478 };
    let (host, port) = match address.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || host.starts_with('[') => (host, port.parse().ok()?),
        _ => (address, default_port),
    };
    Some((secure, host.trim_start_matches('[').trim_end_matches(']').to_owned(), port, tcp))
}

/// Whether a STUN server at `address` answers a binding request (RFC 8489:
/// a 20-byte header with the magic cookie; the answer echoes the
/// transaction id) within `TURN_TIMEOUT`, asking up to three times.
async fn stun_binding(address: SocketAddr) -> bool {
    let local: SocketAddr = if address.is_ipv4() {
        "0.0.0.0:0".parse().expect("an address")
    } else {
        "[::]:0".parse().expect("an address")
    };
    let Ok(socket) = tokio::net::UdpSocket::bind(local).await else { return false };
    let transaction: [u8; 12] = rand::random();
    let mut request = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42];
    request.extend_from_slice(&transaction);
    let deadline = tokio::time::Instant::now() + TURN_TIMEOUT;
    let mut answer = [0u8; 1500];
    for _ in 0..3 {
        if socket.send_to(&request, address).await.is_err() {
            return false;
        }
        let wait = tokio::time::Instant::now() + TURN_TIMEOUT / 3;
        while let Ok(Ok((length, from))) =
            tokio::time::timeout_at(wait.min(deadline), socket.recv_from(&mut answer)).await
        {
            if from == address && length >= 20 && answer[0..2] == [0x01, 0x01] && answer[8..20] == transaction {
                return true;
            }
        }
    }
    false
}

async fn check_database(config: &Config) -> Vec<Finding> {
    const TOPIC: &str = "database-url";
    let url = config.database_url();
    match inspect(&url).await {
        Err(error) => vec![Finding::failure(
            TOPIC,
            format!("the database cannot be reached: {error:#}"),
            "check database-url (host, port, user, password, database), that PostgreSQL runs, and that it lets this user in",
        )],
        Ok(None) => vec![Finding::ok(TOPIC, "SQLite: the file is made in data-dir at the first start")],
        Ok(Some(inspection)) => describe_database(&inspection),
    }
}

fn describe_database(inspection: &Inspection) -> Vec<Finding> {
    const TOPIC: &str = "database-url";
    let kind = match inspection.backend {
        Backend::Postgres => "PostgreSQL",
        Backend::Sqlite => "SQLite",
    };
    let mut findings = vec![match inspection.applied {
        None => Finding::ok(
            TOPIC,
            format!("{kind} {} answers; an empty database, set up at the first start", inspection.server_version),
        ),
        Some(applied) if applied == inspection.latest => {
            Finding::ok(TOPIC, format!("{kind} {} answers; its schema is current", inspection.server_version))
        }
        Some(applied) if applied < inspection.latest => Finding::warning(
            TOPIC,
            format!(
                "{kind} {}: its schema is older than this version (it is brought up to date at the next start)",
                inspection.server_version
            ),
            "make a backup first (`mediation-server backup <file>`)",
        ),
        Some(_) => Finding::failure(
            TOPIC,
            format!("{kind} {}: its schema is newer than this version of the server", inspection.server_version),
            "run the version of mediation-server that wrote it (a downgrade is not supported)",
        ),
    }];
    if let Some(offset) = inspection.clock_offset_secs.filter(|offset| offset.abs() > CLOCK_TOLERANCE_SECS) {
        findings.push(Finding::warning(
            "clock",
            format!("this machine's clock is {offset:+.0} s off the database server's: record times disagree"),
            "synchronise both clocks (chrony or systemd-timesyncd with the town's time server)",
        ));
    }
    findings
}

fn check_files(config: &Config) -> Vec<Finding> {
    const TOPIC: &str = "data-dir";
    let dir = &config.data_dir;
    let Ok(metadata) = std::fs::metadata(dir) else {
        return vec![Finding::ok(
            TOPIC,
            format!("{} does not exist yet: it is made at the first start", dir.display()),
        )];
    };
    if !metadata.is_dir() {
        return vec![Finding::failure(
            TOPIC,
            format!("{} is not a directory", dir.display()),
            "point data-dir at a directory",
        )];
    }
    let mut findings = Vec::new();
    if metadata.permissions().mode() & 0o007 != 0 {
        findings.push(Finding::failure(
            TOPIC,
            format!("{} is open to every user of this machine: it holds the records' keys", dir.display()),
            format!("chmod 700 {}", dir.display()),
        ));
    } else {
        findings.push(Finding::ok(TOPIC, format!("{} is closed to other users", dir.display())));
    }
    let mut secrets = vec![
        dir.join("jwt-secret"),
        dir.join("id-number-key"),
        config.tls_dir().join(crate::tls::authority::AUTHORITY_KEY),
        config.tls_dir().join(crate::tls::authority::SERVER_KEY),
    ];
    secrets.extend(config.tls_key.clone());
    for secret in secrets.iter().filter(|path| path.exists()) {
        findings.extend(check_secret_file(secret));
    }
    findings
}

fn check_secret_file(path: &Path) -> Option<Finding> {
    let metadata = std::fs::metadata(path).ok()?;
    let mode = metadata.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then(|| {
        Finding::failure(
            "data-dir",
            format!(
                "{} (a secret) has mode {mode:o}: others may read it (owner uid {})",
                path.display(),
                metadata.uid()
            ),
            format!("chmod 600 {}", path.display()),
        )
    })
}

fn check_clock() -> Vec<Finding> {
    let now = chrono::Utc::now();
    // The year this version was written: a clock before it is surely wrong.
    if now.format("%Y").to_string().parse::<i32>().unwrap_or(0) < 2026 {
        return vec![Finding::failure(
            "clock",
            format!(
                "this machine's clock says {}: certificates and sign-ins will fail",
                now.format("%Y-%m-%d %H:%M UTC")
            ),
            "set the clock, and keep it synchronised (chrony or systemd-timesyncd)",
        )];
    }
    vec![Finding::ok("clock", format!("this machine's clock says {}", now.format("%Y-%m-%d %H:%M UTC")))]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_urls_and_turn_urls_are_read_as_people_write_them() {
        let url = PublicUrl::parse("https://[::1]:8443/");
        assert!(url.https && url.is_local());
        let url = PublicUrl::parse("http://Tiaojie.example.cn");
        assert!(!url.https && !url.is_local());
        assert_eq!(url.host, "tiaojie.example.cn");
        assert_eq!(
            parse_turn_url("turn:turn.example.cn:3478?transport=tcp"),
            Some((false, "turn.example.cn".into(), 3478, true))
        );
        assert_eq!(parse_turn_url("turns:10.0.0.2"), Some((true, "10.0.0.2".into(), 5349, false)));
        assert_eq!(parse_turn_url("http://x"), None);
    }

    #[test]
    fn certificate_names_match_hosts() {
        assert!(name_matches("*.example.cn", "tiaojie.example.cn"));
        assert!(!name_matches("*.example.cn", "a.b.example.cn"));
        assert!(name_matches("192.168.10.5", "192.168.10.5"));
    }
}
