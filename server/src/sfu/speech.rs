//! Who is speaking. Each publisher's browser marks every audio packet with
//! the level of its microphone (the audio level header extension, RFC 6464,
//! negotiated on the publish connection); the track's reader counts the
//! packets and the loud ones among them (`LevelCounter`), and each round of
//! the allocation loop turns the counts into the room's speaker
//! (`Speakers`: plain code over counts and instants, unit-tested without
//! media). The speaker's video goes first on a narrow link, and clients are
//! told who it is (`speaker`), to mark their tile.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use uuid::Uuid;

/// The audio level header extension (RFC 6464).
pub const AUDIO_LEVEL_URI: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";
/// A packet at least this loud is counted as sound: the level is in -dBov,
/// 0 the loudest and 127 silence; speech near a microphone reads 20-45,
/// a quiet room 60 and more.
pub const LOUD_LEVEL: u8 = 50;
/// Weight of the past in each publisher's activity, per round (half a
/// second): a second and a half of speech makes a speaker.
const SMOOTHING: f64 = 0.6;
/// The activity (share of loud packets, smoothed) that counts as speaking.
pub const SPEAKING: f64 = 0.3;
/// Someone else becomes the speaker after being more active than the
/// current one for this long, so a cough or a word in between does not
/// move the picture.
pub const TAKE_OVER: Duration = Duration::from_millis(1500);

/// One publisher's audio packets and the loud ones since the last round;
/// written by the track's reader, read and reset by the allocation loop.
#[derive(Debug, Default)]
pub struct LevelCounter {
    heard: AtomicU32,
    loud: AtomicU32,
}

impl LevelCounter {
    /// Counts one packet from its audio level extension's payload (the
    /// level in the low seven bits of the first byte).
    pub fn hear(&self, extension: &[u8]) {
        let Some(first) = extension.first() else { return };
        self.heard.fetch_add(1, Ordering::Relaxed);
        if first & 0x7f <= LOUD_LEVEL {
            self.loud.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The packets heard and the loud ones since the last call.
    pub fn take(&self) -> (u32, u32) {
        (self.heard.swap(0, Ordering::Relaxed), self.loud.swap(0, Ordering::Relaxed))
    }
}

/// The id under which an SDP (the server's publish answer) carries the
/// audio level extension, when it was negotiated.
pub fn audio_level_id(sdp: &str) -> Option<u8> {
    sdp.lines().find_map(|line| {
        let (id, uri) = line.trim_end().strip_prefix("a=extmap:")?.split_once(' ')?;
        // The id may carry a direction (`3/recvonly`).
        let id = id.split('/').next()?.parse::<u8>().ok()?;
        (uri.split_whitespace().next() == Some(AUDIO_LEVEL_URI)).then_some(id)
    })
}

/// The room's speaker: the most active publisher that is speaking, kept
/// until another has been more active for `TAKE_OVER` (the last speaker
/// stays the speaker through silence).
#[derive(Debug, Default)]
pub struct Speakers {
    activity: HashMap<Uuid, f64>,
    current: Option<Uuid>,
    challenger: Option<(Uuid, Instant)>,
}

impl Speakers {
    /// One round: each audio publisher's packets heard and loud ones since
    /// the last. Publishers not named are gone. Returns the speaker.
    pub fn update(&mut self, now: Instant, counts: &[(Uuid, u32, u32)]) -> Option<Uuid> {
        self.activity.retain(|from, _| counts.iter().any(|(named, _, _)| named == from));
        for &(from, heard, loud) in counts {
            let share = if heard == 0 { 0.0 } else { f64::from(loud) / f64::from(heard) };
            let activity = self.activity.entry(from).or_insert(0.0);
            *activity = SMOOTHING * *activity + (1.0 - SMOOTHING) * share;
        }
        if self.current.is_some_and(|current| !self.activity.contains_key(&current)) {
            self.current = None;
        }
        let leader = self
            .activity
            .iter()
            .filter(|(_, activity)| **activity >= SPEAKING)
            .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(a.0)))
            .map(|(from, _)| *from);
        match (self.current, leader) {
            (None, Some(leader)) => {
                self.current = Some(leader);
                self.challenger = None;
            }
            (Some(current), Some(leader)) if leader != current => {
                let since = match self.challenger {
                    Some((challenger, since)) if challenger == leader => since,
                    _ => now,
                };
                self.challenger = Some((leader, since));
                if now.saturating_duration_since(since) >= TAKE_OVER {
                    self.current = Some(leader);
                    self.challenger = None;
                }
            }
            _ => self.challenger = None,
        }
        self.current
    }

    pub fn current(&self) -> Option<Uuid> {
        self.current
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Uuid = Uuid::from_u128(1);
    const B: Uuid = Uuid::from_u128(2);

    /// Half-second rounds of 25 packets each, `a` and `b` of them loud.
    fn rounds(speakers: &mut Speakers, at: &mut Instant, count: usize, a: u32, b: u32) -> Vec<Option<Uuid>> {
        (0..count)
            .map(|_| {
                *at += Duration::from_millis(500);
                speakers.update(*at, &[(A, 25, a), (B, 25, b)])
            })
            .collect()
    }

    #[test]
    fn the_level_extension_is_read_and_counted() {
        let counter = LevelCounter::default();
        counter.hear(&[0x80 | 30]); // voice, loud
        counter.hear(&[LOUD_LEVEL]);
        counter.hear(&[90]); // quiet
        counter.hear(&[127]); // silence
        counter.hear(&[]); // malformed: not counted
        assert_eq!(counter.take(), (4, 2));
        assert_eq!(counter.take(), (0, 0), "taken resets");
    }

    #[test]
    fn the_extension_id_is_found_in_the_answer() {
        let sdp = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=extmap:3 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n\
                   a=extmap:1/sendrecv urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n";
        assert_eq!(audio_level_id(sdp), Some(1));
        assert_eq!(audio_level_id("v=0\r\na=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"), None);
    }

    #[test]
    fn a_speaker_is_chosen_and_kept_through_pauses_and_short_interruptions() {
        let mut speakers = Speakers::default();
        let mut at = Instant::now();
        assert!(rounds(&mut speakers, &mut at, 4, 0, 0).iter().all(Option::is_none), "nobody speaks yet");
        let talking = rounds(&mut speakers, &mut at, 4, 20, 0);
        assert_eq!(talking.last(), Some(&Some(A)));
        // Silence, then B says one word: A stays the speaker.
        assert!(rounds(&mut speakers, &mut at, 6, 0, 0).iter().all(|s| *s == Some(A)));
        assert!(rounds(&mut speakers, &mut at, 2, 0, 25).iter().all(|s| *s == Some(A)));
        assert!(rounds(&mut speakers, &mut at, 2, 0, 0).iter().all(|s| *s == Some(A)));
        // B talks on: the speaker once more active for TAKE_OVER (three
        // rounds after the first, each half a second).
        let taking = rounds(&mut speakers, &mut at, 8, 0, 22);
        let turned = taking.iter().position(|s| *s == Some(B)).expect("B becomes the speaker");
        assert_eq!(turned, 3, "after {TAKE_OVER:?}: {taking:?}");
        assert!(taking[turned..].iter().all(|s| *s == Some(B)), "{taking:?}");
    }

    #[test]
    fn a_speaker_who_leaves_is_forgotten() {
        let mut speakers = Speakers::default();
        let at = Instant::now();
        for step in 1..5 {
            speakers.update(at + Duration::from_millis(500 * step), &[(A, 25, 25)]);
        }
        assert_eq!(speakers.current(), Some(A));
        assert_eq!(speakers.update(at + Duration::from_secs(3), &[(B, 25, 0)]), None);
    }
}
