//! The room-wide codec policy: Opus for audio, optionally wrapped in RED
//! (RFC 2198: each packet also carries the one before, so a packet lost on a
//! village line is heard anyway); VP8, and H.264 constrained baseline
//! (packetization-mode 1, profile-level-id 42e01f or 42001f) for video, each
//! video codec with RTX. A subscriber that takes no RED gets the Opus inside
//! it (`red_primary`). Every peer connection registers only
//! these, and a publish offer whose audio or video section offers none of
//! them is refused with a clear error instead of being answered with a
//! codec that nobody else could receive.

use std::io::Cursor;

use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_H264, MIME_TYPE_OPUS, MIME_TYPE_RTX, MIME_TYPE_VP8, MediaEngine,
};
use rtc::rtp_transceiver::rtp_sender::{RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RtpCodecKind};
use rtc::sdp::description::session::SessionDescription;

/// What the refusal names.
pub const ACCEPTED: &str = "Opus for audio; VP8 or H.264 constrained baseline (packetization-mode=1) for video";

/// RED (RFC 2198) over Opus, as browsers name it.
pub const MIME_TYPE_RED: &str = "audio/red";
/// Opus's payload type here, which RED's format line refers to.
const OPUS_PAYLOAD_TYPE: u8 = 111;
/// RED's payload type, the one browsers use.
const RED_PAYLOAD_TYPE: u8 = 63;

/// The H.264 profiles forwarded: constrained baseline and baseline, level 3.1.
const H264_PROFILES: [&str; 2] = ["42e01f", "42001f"];

/// A codec as the media engine takes it.
fn parameters(
    mime_type: &str,
    clock_rate: u32,
    channels: u16,
    sdp_fmtp_line: String,
    rtcp_feedback: Vec<RTCPFeedback>,
    payload_type: u8,
) -> RTCRtpCodecParameters {
    RTCRtpCodecParameters {
        rtp_codec: RTCRtpCodec { mime_type: mime_type.into(), clock_rate, channels, sdp_fmtp_line, rtcp_feedback },
        payload_type,
    }
}

/// Opus as registered here.
pub fn opus() -> RTCRtpCodecParameters {
    parameters(MIME_TYPE_OPUS, 48000, 2, "minptime=10;useinbandfec=1".into(), Vec::new(), OPUS_PAYLOAD_TYPE)
}

/// RED over Opus as registered here.
pub fn red() -> RTCRtpCodecParameters {
    let fmtp = format!("{OPUS_PAYLOAD_TYPE}/{OPUS_PAYLOAD_TYPE}");
    parameters(MIME_TYPE_RED, 48000, 2, fmtp, Vec::new(), RED_PAYLOAD_TYPE)
}

/// Registers the policy's codecs, with the payload types browsers use.
pub fn register(engine: &mut MediaEngine) -> Result<(), rtc::shared::error::Error> {
    let feedback: Vec<RTCPFeedback> = [("goog-remb", ""), ("ccm", "fir"), ("nack", ""), ("nack", "pli")]
        .into_iter()
        .map(|(typ, parameter)| RTCPFeedback { typ: typ.into(), parameter: parameter.into() })
        .collect();
    engine.register_codec(opus(), RtpCodecKind::Audio)?;
    engine.register_codec(red(), RtpCodecKind::Audio)?;
    let mut video = vec![(parameters(MIME_TYPE_VP8, 90000, 0, String::new(), feedback.clone(), 96), 97)];
    for (profile, (payload_type, rtx)) in H264_PROFILES.iter().zip([(102, 103), (104, 105)]) {
        let fmtp = format!("level-asymmetry-allowed=1;packetization-mode=1;profile-level-id={profile}");
        video.push((parameters(MIME_TYPE_H264, 90000, 0, fmtp, feedback.clone(), payload_type), rtx));
    }
    for (primary, rtx) in video {
        let apt = primary.payload_type;
        engine.register_codec(primary, RtpCodecKind::Video)?;
        engine.register_codec(
            parameters(MIME_TYPE_RTX, 90000, 0, format!("apt={apt}"), Vec::new(), rtx),
            RtpCodecKind::Video,
        )?;
    }
    Ok(())
}

/// Whether one `a=rtpmap`/`a=fmtp` pair names a codec of the policy.
fn accepted(kind: &str, rtpmap: &str, fmtp: Option<&str>) -> bool {
    let name = rtpmap.split('/').next().unwrap_or_default().to_ascii_lowercase();
    let parameter = |key: &str| {
        fmtp.into_iter()
            .flat_map(|line| line.split(';'))
            .find_map(|pair| pair.trim().strip_prefix(key).and_then(|rest| rest.strip_prefix('=')))
            .map(str::to_ascii_lowercase)
    };
    match (kind, name.as_str()) {
        ("audio", "opus") => true,
        // RED is forwarded only with the Opus it wraps, which passes itself.
        ("audio", "red") => false,
        ("video", "vp8") => true,
        ("video", "h264") => {
            parameter("packetization-mode").as_deref() == Some("1")
                && parameter("profile-level-id").is_some_and(|profile| H264_PROFILES.contains(&profile.as_str()))
        }
        _ => false,
    }
}

/// Checks a publish offer: every audio and video section that is in use
/// offers at least one codec of the policy. Returns the first kind that does
/// not; an offer that does not parse is left to the peer connection to refuse.
pub fn unsupported_kind(offer: &str) -> Option<String> {
    let description = SessionDescription::unmarshal(&mut Cursor::new(offer.as_bytes())).ok()?;
    for media in &description.media_descriptions {
        let kind = media.media_name.media.as_str();
        if !matches!(kind, "audio" | "video") || media.media_name.port.value == 0 {
            continue;
        }
        let value = |key: &str, payload_type: &str| {
            media.attributes.iter().filter(|attribute| attribute.key == key).find_map(|attribute| {
                let value = attribute.value.as_deref()?;
                let (pt, rest) = value.split_once(' ')?;
                (pt == payload_type).then_some(rest)
            })
        };
        let any_accepted = media.media_name.formats.iter().any(|payload_type| {
            value("rtpmap", payload_type).is_some_and(|rtpmap| accepted(kind, rtpmap, value("fmtp", payload_type)))
        });
        if !any_accepted {
            return Some(kind.to_owned());
        }
    }
    None
}

/// The primary (newest) block of a RED payload (RFC 2198): after the block
/// headers (four bytes each while the F bit is set, then one) and the
/// redundant blocks they measure. `None` when the payload is cut short.
pub fn red_primary(payload: &[u8]) -> Option<std::ops::Range<usize>> {
    let mut at = 0;
    let mut redundant = 0;
    loop {
        let first = *payload.get(at)?;
        if first & 0x80 == 0 {
            at += 1;
            break;
        }
        let header = payload.get(at..at + 4)?;
        redundant += usize::from(u16::from_be_bytes([header[2], header[3]]) & 0x03ff);
        at += 4;
    }
    let start = at + redundant;
    (start <= payload.len()).then_some(start..payload.len())
}

/// Whether an RTP payload of `mime_type` starts a keyframe (a VP8 key frame
/// or an H.264 IDR access unit, SPS first as browsers send it). Audio
/// never waits for one, so this is false for it.
pub fn starts_keyframe(mime_type: &str, payload: &[u8]) -> bool {
    if mime_type.eq_ignore_ascii_case(MIME_TYPE_VP8) {
        vp8_keyframe(payload)
    } else if mime_type.eq_ignore_ascii_case(MIME_TYPE_H264) {
        h264_keyframe(payload)
    } else {
        false
    }
}

/// RFC 7741: the payload descriptor, then the VP8 frame's first byte, whose
/// lowest bit is 0 for a key frame; only the start of partition 0 counts.
fn vp8_keyframe(payload: &[u8]) -> bool {
    let Some(&first) = payload.first() else { return false };
    let (start_of_partition, partition_id) = (first & 0x10 != 0, first & 0x07);
    if !start_of_partition || partition_id != 0 {
        return false;
    }
    let mut at = 1;
    if first & 0x80 != 0 {
        let Some(&extension) = payload.get(1) else { return false };
        at = 2;
        if extension & 0x80 != 0 {
            // Picture ID: two bytes when its M bit is set.
            at += if payload.get(at).is_some_and(|byte| byte & 0x80 != 0) { 2 } else { 1 };
        }
        if extension & 0x40 != 0 {
            at += 1;
        }
        if extension & 0x30 != 0 {
            at += 1;
        }
    }
    payload.get(at).is_some_and(|frame| frame & 0x01 == 0)
}

/// RFC 6184: a single IDR or SPS unit, a STAP-A holding one, or the first
/// fragment (FU-A) of an IDR unit.
fn h264_keyframe(payload: &[u8]) -> bool {
    const IDR: u8 = 5;
    const SPS: u8 = 7;
    let Some(&first) = payload.first() else { return false };
    match first & 0x1f {
        IDR | SPS => true,
        24 => {
            let mut at = 1;
            while let (Some(&high), Some(&low)) = (payload.get(at), payload.get(at + 1)) {
                let size = usize::from(u16::from_be_bytes([high, low]));
                if payload.get(at + 2).is_some_and(|unit| matches!(unit & 0x1f, IDR | SPS)) {
                    return true;
                }
                at += 2 + size;
            }
            false
        }
        28 => payload.get(1).is_some_and(|header| header & 0x80 != 0 && header & 0x1f == IDR),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(sections: &str) -> String {
        format!("v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n{sections}")
    }

    #[test]
    fn opus_vp8_and_constrained_baseline_h264_pass() {
        let browser = offer(
            "m=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:0 PCMU/8000\r\n\
             m=video 9 UDP/TLS/RTP/SAVPF 96 102\r\na=rtpmap:96 VP8/90000\r\na=rtpmap:102 H264/90000\r\n\
             a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n",
        );
        assert_eq!(unsupported_kind(&browser), None);
        let safari = offer(
            "m=video 9 UDP/TLS/RTP/SAVPF 102\r\na=rtpmap:102 H264/90000\r\n\
             a=fmtp:102 packetization-mode=1;profile-level-id=42001f\r\n",
        );
        assert_eq!(unsupported_kind(&safari), None);
    }

    #[test]
    fn g711_only_and_other_h264_profiles_are_refused() {
        let g711 = offer("m=audio 9 UDP/TLS/RTP/SAVPF 0 8\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n");
        assert_eq!(unsupported_kind(&g711).as_deref(), Some("audio"));
        let high = offer(
            "m=video 9 UDP/TLS/RTP/SAVPF 102\r\na=rtpmap:102 H264/90000\r\n\
             a=fmtp:102 packetization-mode=1;profile-level-id=640c1f\r\n",
        );
        assert_eq!(unsupported_kind(&high).as_deref(), Some("video"));
        let single_nal = offer(
            "m=video 9 UDP/TLS/RTP/SAVPF 102\r\na=rtpmap:102 H264/90000\r\na=fmtp:102 profile-level-id=42e01f\r\n",
        );
        assert_eq!(unsupported_kind(&single_nal).as_deref(), Some("video"));
        let rejected = offer("m=audio 0 UDP/TLS/RTP/SAVPF 0\r\na=rtpmap:0 PCMU/8000\r\n");
        assert_eq!(unsupported_kind(&rejected), None, "a section not in use is not looked at");
    }

    #[test]
    fn keyframes_are_recognised() {
        // VP8: S=1, PID 0, no extension, then a key frame (P bit 0) or not.
        assert!(starts_keyframe("video/VP8", &[0x10, 0x50, 0x00, 0x00]));
        assert!(!starts_keyframe("video/VP8", &[0x10, 0x51, 0x00, 0x00]), "an inter frame");
        assert!(!starts_keyframe("video/VP8", &[0x00, 0x50]), "not the start of a partition");
        // With X, I (two-byte picture id), L and T: four descriptor bytes more.
        assert!(starts_keyframe("video/vp8", &[0x90, 0xe0, 0x81, 0x02, 0x03, 0x04, 0x50]));
        assert!(!starts_keyframe("video/vp8", &[0x90, 0xe0, 0x81, 0x02, 0x03, 0x04, 0x51]));
        // H.264: an IDR, an SPS, a STAP-A with SPS, an FU-A start of an IDR.
        assert!(starts_keyframe("video/H264", &[0x65, 0x88]));
        assert!(starts_keyframe("video/H264", &[0x67, 0x42]));
        assert!(starts_keyframe("video/H264", &[0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x01, 0x68]));
        assert!(starts_keyframe("video/H264", &[0x7c, 0x85, 0x00]));
        assert!(!starts_keyframe("video/H264", &[0x7c, 0x05, 0x00]), "a later fragment");
        assert!(!starts_keyframe("video/H264", &[0x41, 0x9a]), "a non-IDR slice");
        assert!(!starts_keyframe("audio/opus", &[0x00]));
    }

    #[test]
    fn the_primary_block_of_red_is_found() {
        // One redundant block of 3 bytes (PT 111, offset 960), then primary PT 111.
        let one = [0xef, 0x0f, 0x00, 0x03, 0x6f, 1, 2, 3, 9, 8];
        assert_eq!(red_primary(&one).map(|r| &one[r]), Some(&[9u8, 8][..]));
        // No redundancy at all: the primary right after its one-byte header.
        let none = [0x6f, 7, 7];
        assert_eq!(red_primary(&none).map(|r| &none[r]), Some(&[7u8, 7][..]));
        // Two redundant blocks (2 and 1 bytes).
        let two = [0xef, 0x1e, 0x00, 0x02, 0xef, 0x0f, 0x00, 0x01, 0x6f, 1, 1, 2, 5];
        assert_eq!(red_primary(&two).map(|r| &two[r]), Some(&[5u8][..]));
        // Cut short: a block header, or a redundant block longer than the payload.
        assert_eq!(red_primary(&[0xef, 0x0f]), None);
        assert_eq!(red_primary(&[0xef, 0x0f, 0x00, 0x09, 0x6f, 1]), None);
        assert_eq!(red_primary(&[]), None);
    }

    #[test]
    fn red_passes_only_beside_opus() {
        let both = offer(
            "m=audio 9 UDP/TLS/RTP/SAVPF 63 111\r\na=rtpmap:63 red/48000/2\r\na=fmtp:63 111/111\r\n\
             a=rtpmap:111 opus/48000/2\r\n",
        );
        assert_eq!(unsupported_kind(&both), None);
        let alone = offer("m=audio 9 UDP/TLS/RTP/SAVPF 63\r\na=rtpmap:63 red/48000/2\r\na=fmtp:63 111/111\r\n");
        assert_eq!(unsupported_kind(&alone).as_deref(), Some("audio"));
    }

    #[test]
    fn the_engine_takes_the_policy() {
        let mut engine = MediaEngine::default();
        register(&mut engine).unwrap();
    }
}
