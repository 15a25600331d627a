//! A small deterministic fuzzer for what the server parses from clients:
//! signaling messages (JSON), session descriptions and ICE candidates (the
//! codec check and the server's SDP editing, through the `rtc` crate's
//! parsers), and RTP payloads (the keyframe test). Each target starts from
//! valid inputs and mutates them (bytes flipped, inserted, deleted,
//! repeated, spliced with another input, JSON values swapped for others of
//! any type); a target must never panic. `tests/tests/fuzz.rs` runs a
//! bounded number of executions in the test suite; `fuzz_long` runs ten
//! million for docs/benchmarks.md.

use std::panic::{AssertUnwindSafe, catch_unwind};

use mediation_server::sfu::{codecs, sdp};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use signaling_proto::ClientMessage;

/// A Chromium publish offer (trimmed), the seed of the SDP targets.
pub const CHROMIUM_OFFER: &str = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
a=group:BUNDLE 0 1\r\na=extmap-allow-mixed\r\na=msid-semantic: WMS stream\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n\
a=candidate:1 1 udp 2122260223 192.168.1.20 54321 typ host generation 0 ufrag Ab3d network-id 1\r\n\
a=ice-ufrag:Ab3d\r\na=ice-pwd:0123456789abcdefghijklmn\r\na=ice-options:trickle\r\n\
a=fingerprint:sha-256 12:34:56:78:9A:BC:DE:F0:12:34:56:78:9A:BC:DE:F0:12:34:56:78:9A:BC:DE:F0:12:34:56:78:9A:BC:DE:F0\r\n\
a=setup:actpass\r\na=mid:0\r\na=sendonly\r\na=msid:stream audio\r\na=rtcp-mux\r\n\
a=rtpmap:111 opus/48000/2\r\na=rtcp-fb:111 transport-cc\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n\
a=rtpmap:0 PCMU/8000\r\na=ssrc:1001 cname:abc\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96 97 102\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n\
a=ice-ufrag:Ab3d\r\na=ice-pwd:0123456789abcdefghijklmn\r\n\
a=fingerprint:sha-256 12:34:56:78:9A:BC:DE:F0:12:34:56:78:9A:BC:DE:F0:12:34:56:78:9A:BC:DE:F0:12:34:56:78:9A:BC:DE:F0\r\n\
a=setup:actpass\r\na=mid:1\r\na=sendonly\r\na=msid:stream video\r\na=rtcp-mux\r\na=rtcp-rsize\r\n\
a=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 nack\r\na=rtcp-fb:96 nack pli\r\na=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n\
a=rtpmap:102 H264/90000\r\na=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n\
a=ssrc-group:FID 2001 2002\r\na=ssrc:2001 cname:abc\r\na=ssrc:2002 cname:abc\r\n";

/// Signaling messages of every kind, the seeds of the message target.
pub const MESSAGES: &[&str] = &[
    r#"{"type":"join","protocol_version":1,"session_id":"6a2c66ef-0f3c-4ba5-b84c-1cc2cbd8907a","request_id":"r1"}"#,
    r#"{"type":"join","protocol_version":1,"session_id":"6a2c66ef-0f3c-4ba5-b84c-1cc2cbd8907a","resume_token":"abc","new_peer_connections":true}"#,
    r#"{"type":"admit","participant_id":"0fc3a1d2-1111-4ba5-b84c-1cc2cbd8907a"}"#,
    r#"{"type":"refuse","participant_id":"0fc3a1d2-1111-4ba5-b84c-1cc2cbd8907a","reason":"not now"}"#,
    r#"{"type":"mute","participant_id":"0fc3a1d2-1111-4ba5-b84c-1cc2cbd8907a","kind":"audio"}"#,
    r#"{"type":"set_media","kind":"video","enabled":false,"request_id":"m"}"#,
    r#"{"type":"remove","participant_id":"0fc3a1d2-1111-4ba5-b84c-1cc2cbd8907a"}"#,
    r#"{"type":"lock","locked":true}"#,
    r#"{"type":"open_caucus","participant_ids":["0fc3a1d2-1111-4ba5-b84c-1cc2cbd8907a"]}"#,
    r#"{"type":"close_caucus","caucus_id":"0fc3a1d2-2222-4ba5-b84c-1cc2cbd8907a"}"#,
    r#"{"type":"chat","text":"你好，王大爷"}"#,
    r#"{"type":"parties_present","party_ids":["0fc3a1d2-3333-4ba5-b84c-1cc2cbd8907a"]}"#,
    r#"{"type":"record_consent","party_id":"0fc3a1d2-3333-4ba5-b84c-1cc2cbd8907a","decision":"consent","publicity":"public","notice_version":"2026-11-30"}"#,
    r#"{"type":"check_identity","party_id":"0fc3a1d2-3333-4ba5-b84c-1cc2cbd8907a"}"#,
    r#"{"type":"push_agreement"}"#,
    r#"{"type":"confirm_agreement","text_sha256":"ab12","party_id":"0fc3a1d2-3333-4ba5-b84c-1cc2cbd8907a"}"#,
    r#"{"type":"set_audio_only","audio_only":true}"#,
    r#"{"type":"sdp","target":"publish","description":{"type":"offer","sdp":"v=0\r\n"}}"#,
    r#"{"type":"ice_candidate","target":"subscribe","candidate":{"candidate":"candidate:1 1 udp 1 1.2.3.4 5 typ host","sdp_mid":"0","sdp_m_line_index":0}}"#,
    r#"{"type":"ping","request_id":"p"}"#,
    r#"{"type":"leave"}"#,
    r#"{"type":"end_session"}"#,
];

/// A VP8 key frame's first packet and an H.264 SPS, the seeds of the RTP target.
pub const PAYLOADS: &[&[u8]] = &[
    &[0x90, 0x80, 0x00, 0x10, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01],
    &[0x10, 0x00, 0x9d, 0x01, 0x2a],
    &[0x67, 0x42, 0xe0, 0x1f, 0x8c, 0x8d, 0x40],
    &[0x78, 0x00, 0x05, 0x67, 0x42, 0xe0, 0x1f, 0x8c, 0x00, 0x02, 0x68, 0xce],
    &[0x7c, 0x85, 0x88, 0x84],
];

/// What can be fuzzed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `ClientMessage` from JSON, and back to JSON and again when it parses.
    SignalingMessage,
    /// The codec check of publish offers, and the SDP editing and reading.
    SessionDescription,
    /// ICE candidate lines as trickled.
    Candidate,
    /// The keyframe test on RTP payloads.
    RtpPayload,
}

impl Target {
    pub const ALL: [Target; 4] =
        [Target::SignalingMessage, Target::SessionDescription, Target::Candidate, Target::RtpPayload];

    pub fn name(self) -> &'static str {
        match self {
            Target::SignalingMessage => "signaling message (JSON)",
            Target::SessionDescription => "session description (codec check, SDP editing)",
            Target::Candidate => "ICE candidate",
            Target::RtpPayload => "RTP payload (keyframe test)",
        }
    }

    fn seeds(self) -> Vec<Vec<u8>> {
        match self {
            Target::SignalingMessage => MESSAGES.iter().map(|m| m.as_bytes().to_vec()).collect(),
            Target::SessionDescription => vec![CHROMIUM_OFFER.as_bytes().to_vec()],
            Target::Candidate => CHROMIUM_OFFER
                .split("\r\n")
                .filter_map(|line| line.strip_prefix("a="))
                .filter(|line| line.starts_with("candidate:"))
                .map(|line| line.as_bytes().to_vec())
                .chain([b"candidate:2 1 tcp 1518280447 10.0.0.5 9 typ host tcptype active".to_vec()])
                .collect(),
            Target::RtpPayload => PAYLOADS.iter().map(|p| p.to_vec()).collect(),
        }
    }

    /// Runs the target on one input (panics are what the fuzzer looks for).
    pub fn run(self, input: &[u8]) {
        match self {
            Target::SignalingMessage => signaling_message(input),
            Target::SessionDescription => session_description(&String::from_utf8_lossy(input)),
            Target::Candidate => {
                let text = String::from_utf8_lossy(input);
                let _ = sdp::candidate_ufrag(&text);
            }
            Target::RtpPayload => {
                for mime in ["video/VP8", "video/H264", "audio/opus"] {
                    let _ = codecs::starts_keyframe(mime, input);
                }
            }
        }
    }
}

fn signaling_message(input: &[u8]) {
    let Ok(message) = serde_json::from_slice::<ClientMessage>(input) else { return };
    // What parses writes back as JSON that parses to the same message.
    let text = serde_json::to_string(&message).expect("a parsed message serializes");
    let again: ClientMessage = serde_json::from_str(&text).expect("a serialized message parses");
    assert_eq!(serde_json::to_string(&again).unwrap(), text, "the message changed on a round trip");
}

fn session_description(text: &str) {
    let _ = codecs::unsupported_kind(text);
    let _ = sdp::fingerprint(text);
    let _ = sdp::ice_ufrag(text);
    let _ = sdp::complete(text);
    let _ = sdp::announce_address(text, "127.0.0.1".parse().unwrap(), "203.0.113.7".parse().unwrap());
    let _ = sdp::announce_tcp(text, "203.0.113.7".parse().unwrap(), 8443);
}

/// Makes mutated inputs from a target's seeds, deterministically from a seed.
pub struct Mutator {
    rng: StdRng,
    seeds: Vec<Vec<u8>>,
}

/// Values a JSON field may be swapped for.
fn json_value(rng: &mut StdRng) -> Value {
    match rng.gen_range(0..10) {
        0 => Value::Null,
        1 => Value::Bool(rng.r#gen()),
        2 => serde_json::json!(rng.r#gen::<i64>()),
        3 => serde_json::json!(rng.r#gen::<f64>() * 1e12),
        4 => serde_json::json!(""),
        5 => serde_json::json!("\u{0000}\u{202e}x".repeat(rng.gen_range(1..50))),
        6 => serde_json::json!([]),
        7 => serde_json::json!({}),
        8 => serde_json::json!(uuid::Uuid::new_v4().to_string()),
        _ => serde_json::json!("长".repeat(rng.gen_range(0..3_000))),
    }
}

impl Mutator {
    pub fn new(target: Target, seed: u64) -> Self {
        Mutator { rng: StdRng::seed_from_u64(seed), seeds: target.seeds() }
    }

    /// A well-formed signaling message of any kind but `join`, `leave` and
    /// `end_session`, one field swapped for a value of any type or for one
    /// of `ids` (people in the room): what reaches the room's handling.
    pub fn room_message(&mut self, ids: &[uuid::Uuid]) -> String {
        let seeds: Vec<&str> = MESSAGES
            .iter()
            .copied()
            .filter(|m| !m.contains("\"join\"") && !m.contains("\"leave\"") && !m.contains("\"end_session\""))
            .collect();
        let mut message: Value = serde_json::from_str(seeds[self.rng.gen_range(0..seeds.len())]).unwrap();
        let object = message.as_object_mut().unwrap();
        let keys: Vec<String> = object.keys().filter(|key| *key != "type").cloned().collect();
        if let Some(key) = keys.get(self.rng.gen_range(0..keys.len().max(1))) {
            let value = match self.rng.gen_range(0..3) {
                0 if !ids.is_empty() => serde_json::json!(ids[self.rng.gen_range(0..ids.len())]),
                1 if !ids.is_empty() => serde_json::json!([ids[self.rng.gen_range(0..ids.len())]]),
                _ => json_value(&mut self.rng),
            };
            object.insert(key.clone(), value);
        }
        message.to_string()
    }

    pub fn next_input(&mut self) -> Vec<u8> {
        let mut input = self.seeds[self.rng.gen_range(0..self.seeds.len())].clone();
        if let Ok(Value::Object(mut object)) = serde_json::from_slice::<Value>(&input)
            && self.rng.gen_bool(0.5)
        {
            let keys: Vec<String> = object.keys().cloned().collect();
            let key =
                if self.rng.gen_bool(0.8) { keys[self.rng.gen_range(0..keys.len())].clone() } else { "extra".into() };
            object.insert(key, json_value(&mut self.rng));
            return serde_json::to_vec(&object).unwrap();
        }
        for _ in 0..self.rng.gen_range(1..8) {
            self.mutate(&mut input);
        }
        input
    }

    fn mutate(&mut self, input: &mut Vec<u8>) {
        let at = |rng: &mut StdRng, len: usize| if len == 0 { 0 } else { rng.gen_range(0..len) };
        match self.rng.gen_range(0..7) {
            0 if !input.is_empty() => {
                let i = at(&mut self.rng, input.len());
                input[i] ^= 1 << self.rng.gen_range(0..8);
            }
            1 => {
                let i = at(&mut self.rng, input.len() + 1).min(input.len());
                let byte = *b"\r\n: {}[]\",0-9aZ\x00\xff".get(self.rng.gen_range(0..19)).unwrap_or(&b'x');
                input.insert(i, byte);
            }
            2 if !input.is_empty() => {
                let start = at(&mut self.rng, input.len());
                let end = (start + self.rng.gen_range(1..64)).min(input.len());
                input.drain(start..end);
            }
            3 if !input.is_empty() => {
                let start = at(&mut self.rng, input.len());
                let end = (start + self.rng.gen_range(1..32)).min(input.len());
                let piece = input[start..end].to_vec();
                for _ in 0..self.rng.gen_range(1..20) {
                    input.splice(start..start, piece.iter().copied());
                }
            }
            4 => {
                let other = &self.seeds[self.rng.gen_range(0..self.seeds.len())];
                let (cut, from) = (at(&mut self.rng, input.len()), at(&mut self.rng, other.len()));
                input.truncate(cut);
                input.extend_from_slice(&other[from..]);
            }
            5 if !input.is_empty() => {
                let i = at(&mut self.rng, input.len());
                input[i] = self.rng.r#gen();
            }
            _ => {
                let i = at(&mut self.rng, input.len() + 1).min(input.len());
                let number = self.rng.r#gen::<u64>().to_string();
                input.splice(i..i, number.bytes());
            }
        }
    }
}

/// Runs `executions` mutated inputs through `target`; the inputs that
/// panicked (at most ten kept), and how many did.
pub fn run(target: Target, seed: u64, executions: u64) -> (u64, Vec<Vec<u8>>) {
    let mut mutator = Mutator::new(target, seed);
    let mut crashes = 0;
    let mut kept = Vec::new();
    for _ in 0..executions {
        let input = mutator.next_input();
        if catch_unwind(AssertUnwindSafe(|| target.run(&input))).is_err() {
            crashes += 1;
            if kept.len() < 10 {
                kept.push(input);
            }
        }
    }
    (crashes, kept)
}
