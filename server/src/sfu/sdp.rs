//! Editing the local descriptions that leave the server, as SDP documents
//! (the `rtc` crate's SDP and ICE candidate types) rather than lines of
//! text: announcing the public address behind a 1:1 NAT, and the one public
//! port of ICE over TCP in place of each connection's loopback listener.

use std::io::Cursor;
use std::net::{IpAddr, SocketAddr};

use rtc::ice::candidate::{Candidate, unmarshal_candidate};
use rtc::ice::tcp_type::TcpType;
use rtc::sdp::description::common::Attribute;
use rtc::sdp::description::session::SessionDescription;

/// Parses, edits and writes back a description; one that does not parse is
/// passed on unchanged (the peer connection made it, so it is the source of
/// truth).
fn edit(sdp: &str, change: impl FnMut(&mut Attribute, &mut Option<String>)) -> String {
    let Ok(mut description) = SessionDescription::unmarshal(&mut Cursor::new(sdp.as_bytes())) else {
        tracing::debug!("a local description did not parse; sent unchanged");
        return sdp.to_owned();
    };
    for_each_candidate(&mut description, change);
    description.marshal()
}

/// Calls `change` with every candidate attribute of every media section and
/// the parsed candidate's address slot (`Some` to replace it).
fn for_each_candidate(
    description: &mut SessionDescription,
    mut change: impl FnMut(&mut Attribute, &mut Option<String>),
) {
    let sections = description.media_descriptions.iter_mut().map(|media| &mut media.attributes);
    for attributes in std::iter::once(&mut description.attributes).chain(sections) {
        for attribute in attributes.iter_mut().filter(|attribute| attribute.key == "candidate") {
            let mut replacement = None;
            change(attribute, &mut replacement);
            if let Some(value) = replacement {
                attribute.value = Some(value);
            }
        }
    }
}

fn candidate(attribute: &Attribute) -> Option<Candidate> {
    unmarshal_candidate(attribute.value.as_deref()?).ok()
}

/// The candidate line with its connection address (and port) replaced; the
/// grammar puts them fifth and sixth (RFC 8839, section 5.1).
fn with_address(value: &str, address: &str, port: Option<u16>) -> String {
    let mut fields: Vec<String> = value.split(' ').map(str::to_owned).collect();
    if fields.len() > 5 {
        fields[4] = address.to_owned();
        if let Some(port) = port {
            fields[5] = port.to_string();
        }
    }
    fields.join(" ")
}

/// Announces `to` wherever the description names `from`: connection lines
/// and candidates (a 1:1 NAT that webrtc-rs 0.21.1 does not apply itself).
pub fn announce_address(sdp: &str, from: IpAddr, to: IpAddr) -> String {
    let Ok(mut description) = SessionDescription::unmarshal(&mut Cursor::new(sdp.as_bytes())) else {
        return sdp.to_owned();
    };
    let (from, to) = (from.to_string(), to.to_string());
    let sections = description.media_descriptions.iter_mut().map(|media| &mut media.connection_information);
    for connection in std::iter::once(&mut description.connection_information).chain(sections).flatten() {
        if let Some(address) = connection.address.as_mut().filter(|address| address.address == from) {
            address.address = to.clone();
        }
    }
    for_each_candidate(&mut description, |attribute, replacement| {
        if candidate(attribute).is_some_and(|candidate| candidate.address() == from) {
            *replacement = attribute.value.as_deref().map(|value| with_address(value, &to, None));
        }
    });
    description.marshal()
}

/// Announces every TCP candidate at `public_ip` and the mux's `port`, and
/// returns the loopback listener of the passive one (active candidates carry
/// the placeholder port 9 and are not a route).
pub fn announce_tcp(sdp: &str, public_ip: IpAddr, port: u16) -> (String, Option<SocketAddr>) {
    let mut listener = None;
    let public_ip = public_ip.to_string();
    let sdp = edit(sdp, |attribute, replacement| {
        let Some(candidate) = candidate(attribute) else { return };
        if !candidate.network_type().is_tcp() {
            return;
        }
        if candidate.tcp_type() == TcpType::Passive {
            listener = Some(candidate.addr());
        }
        *replacement = attribute.value.as_deref().map(|value| with_address(value, &public_ip, Some(port)));
    });
    (sdp, listener)
}

/// Makes a description complete for every client: the candidates (and
/// `end-of-candidates`) repeated in every media section (webrtc-rs puts
/// them in the first only, and some clients read them from another), and
/// `a=msid-semantic:WMS *` at session level (webrtc-rs leaves it out of a
/// first offer).
pub fn complete(sdp: &str) -> String {
    let Ok(mut description) = SessionDescription::unmarshal(&mut Cursor::new(sdp.as_bytes())) else {
        return sdp.to_owned();
    };
    // (key, value) pairs: the crate's Attribute has no equality.
    let pair = |attribute: &Attribute| (attribute.key.clone(), attribute.value.clone());
    let is_ice = |attribute: &&Attribute| attribute.key == "candidate" || attribute.key == "end-of-candidates";
    let mut gathered: Vec<(String, Option<String>)> = Vec::new();
    for attribute in description.media_descriptions.iter().flat_map(|media| media.attributes.iter()).filter(is_ice) {
        if !gathered.contains(&pair(attribute)) {
            gathered.push(pair(attribute));
        }
    }
    for media in &mut description.media_descriptions {
        let present: Vec<(String, Option<String>)> = media.attributes.iter().map(pair).collect();
        let missing = gathered.iter().filter(|ice| !present.contains(ice));
        let missing: Vec<Attribute> =
            missing.map(|(key, value)| Attribute { key: key.clone(), value: value.clone() }).collect();
        media.attributes.extend(missing);
    }
    if !description.attributes.iter().any(|attribute| attribute.key == "msid-semantic") {
        description.attributes.push(Attribute { key: "msid-semantic".into(), value: Some("WMS *".into()) });
    }
    description.marshal()
}

/// The DTLS certificate fingerprint of a description: it tells one peer
/// connection from another (an ICE restart keeps it, a new connection does
/// not).
pub fn fingerprint(sdp: &str) -> Option<String> {
    let description = SessionDescription::unmarshal(&mut Cursor::new(sdp.as_bytes())).ok()?;
    let sections = description.media_descriptions.iter().flat_map(|media| media.attributes.iter());
    let mut attributes = description.attributes.iter().chain(sections);
    attributes.find(|attribute| attribute.key == "fingerprint").and_then(|attribute| attribute.value.clone())
}

/// The username fragment a trickled candidate names (`... ufrag <x>`), as
/// browsers write it; none when it names none.
pub fn candidate_ufrag(candidate: &str) -> Option<&str> {
    let mut tokens = candidate.split_whitespace();
    while let Some(token) = tokens.next() {
        if token == "ufrag" {
            return tokens.next();
        }
    }
    None
}

/// The ICE username fragment of a description (the server uses one per
/// connection): the session-level attribute or the first section's.
pub fn ice_ufrag(sdp: &str) -> Option<String> {
    let description = SessionDescription::unmarshal(&mut Cursor::new(sdp.as_bytes())).ok()?;
    let sections = description.media_descriptions.iter().flat_map(|media| media.attributes.iter());
    let mut attributes = description.attributes.iter().chain(sections);
    attributes.find(|attribute| attribute.key == "ice-ufrag").and_then(|attribute| attribute.value.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DESCRIPTION: &str = "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n\
        a=group:BUNDLE 0\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 10.0.0.5\r\na=mid:0\r\na=ice-ufrag:AbCd\r\n\
        a=candidate:1 1 udp 2130706431 10.0.0.5 50001 typ host\r\n\
        a=candidate:2 1 tcp 1671430143 127.0.0.1 41234 typ host tcptype passive\r\n\
        a=candidate:3 1 tcp 1675624447 127.0.0.1 9 typ host tcptype active\r\n\
        a=rtpmap:111 opus/48000/2\r\n";

    #[test]
    fn a_description_survives_the_round_trip_unchanged() {
        assert_eq!(edit(DESCRIPTION, |_, _| {}), DESCRIPTION);
    }

    #[test]
    fn announces_the_public_address_behind_nat() {
        let public: IpAddr = "203.0.113.7".parse().unwrap();
        let rewritten = announce_address(DESCRIPTION, "10.0.0.5".parse().unwrap(), public);
        assert!(rewritten.contains("c=IN IP4 203.0.113.7\r\n"));
        assert!(rewritten.contains("a=candidate:1 1 udp 2130706431 203.0.113.7 50001 typ host\r\n"));
        assert!(rewritten.contains("127.0.0.1 41234"), "other addresses stay");
    }

    #[test]
    fn announces_tcp_candidates_at_the_public_port_and_finds_the_listener() {
        let public: IpAddr = "203.0.113.7".parse().unwrap();
        let (announced, listener) = announce_tcp(DESCRIPTION, public, 3478);
        assert!(announced.contains("a=candidate:2 1 tcp 1671430143 203.0.113.7 3478 typ host tcptype passive\r\n"));
        assert!(announced.contains("a=candidate:3 1 tcp 1675624447 203.0.113.7 3478 typ host tcptype active\r\n"));
        assert!(announced.contains("udp 2130706431 10.0.0.5 50001"), "UDP candidates are left alone");
        assert_eq!(listener, Some("127.0.0.1:41234".parse().unwrap()), "the passive one is the route");
        assert_eq!(ice_ufrag(DESCRIPTION).as_deref(), Some("AbCd"));
        assert_eq!(fingerprint(DESCRIPTION), None);
        let with_fingerprint = DESCRIPTION.replace("a=mid:0\r\n", "a=mid:0\r\na=fingerprint:sha-256 AB:CD\r\n");
        assert_eq!(fingerprint(&with_fingerprint).as_deref(), Some("sha-256 AB:CD"));
    }

    #[test]
    fn candidates_stand_in_every_section_and_msid_semantic_is_declared() {
        let two_sections = format!(
            "{DESCRIPTION}m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 10.0.0.5\r\na=mid:1\r\na=rtpmap:96 VP8/90000\r\n"
        );
        let completed = complete(&two_sections);
        let video = &completed[completed.find("m=video").unwrap()..];
        assert!(video.contains("a=candidate:1 1 udp 2130706431 10.0.0.5 50001 typ host\r\n"), "{completed}");
        assert!(video.contains("tcptype passive") && video.contains("tcptype active"));
        let audio = &completed[completed.find("m=audio").unwrap()..completed.find("m=video").unwrap()];
        assert_eq!(audio.matches("a=candidate:").count(), 3, "nothing doubled where it was");
        assert!(completed[..completed.find("m=audio").unwrap()].contains("a=msid-semantic:WMS *\r\n"));
        assert_eq!(complete(&completed), completed, "completing twice changes nothing");
    }

    #[test]
    fn a_trickled_candidate_names_its_ufrag() {
        let chrome = "candidate:1 1 udp 2122260223 192.0.2.5 54400 typ host generation 0 ufrag Hx3k network-id 1";
        assert_eq!(candidate_ufrag(chrome), Some("Hx3k"));
        assert_eq!(candidate_ufrag("candidate:1 1 udp 2122260223 192.0.2.5 54400 typ host"), None);
    }

    #[test]
    fn a_description_that_does_not_parse_is_passed_on() {
        assert_eq!(announce_tcp("not sdp", "203.0.113.7".parse().unwrap(), 1).0, "not sdp");
        assert_eq!(ice_ufrag("not sdp"), None);
    }
}
