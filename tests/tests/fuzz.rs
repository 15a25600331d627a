//! A bounded fuzzing run in the test suite (tests/src/fuzz.rs): mutated
//! signaling messages, session descriptions, ICE candidates and RTP
//! payloads never make the server's parsers panic. `FUZZ_EXECUTIONS` sets
//! the executions per target; the long run is `fuzz_long`.

use mediation_server::sfu::{codecs, sdp};
use mediation_tests::fuzz::{self, CHROMIUM_OFFER, Target};

fn executions() -> u64 {
    std::env::var("FUZZ_EXECUTIONS").ok().and_then(|value| value.parse().ok()).unwrap_or(3_000)
}

#[test]
fn the_seeds_are_valid_inputs() {
    assert!(sdp::fingerprint(CHROMIUM_OFFER).is_some(), "the SDP seed parses");
    assert_eq!(sdp::ice_ufrag(CHROMIUM_OFFER).as_deref(), Some("Ab3d"));
    assert_eq!(codecs::unsupported_kind(CHROMIUM_OFFER), None, "Opus and VP8 are offered");
    for message in fuzz::MESSAGES {
        assert!(
            serde_json::from_str::<signaling_proto::ClientMessage>(message).is_ok(),
            "the seed {message} is a valid message"
        );
    }
    assert!(codecs::starts_keyframe("video/VP8", fuzz::PAYLOADS[0]), "the VP8 seed is a key frame");
}

#[test]
fn mutated_inputs_never_panic_the_parsers() {
    // Panics are caught and counted; keep their messages out of the output.
    std::panic::set_hook(Box::new(|_| {}));
    let mut found = Vec::new();
    for (index, target) in Target::ALL.into_iter().enumerate() {
        let (crashes, inputs) = fuzz::run(target, 0x5eed + index as u64, executions());
        if crashes > 0 {
            found.push(format!("{}: {crashes} crashes, e.g. {:?}", target.name(), String::from_utf8_lossy(&inputs[0])));
        }
    }
    let _ = std::panic::take_hook();
    assert!(found.is_empty(), "{}", found.join("\n"));
}
