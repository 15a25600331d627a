//! Each subscriber's outgoing stream stays continuous: whenever forwarding
//! pauses (a caucus, a mute, audio only, a reconnect) the packets that were
//! not sent leave no gap. Sequence numbers and timestamps are rewritten per
//! (subscriber, track): while forwarding goes on, by a fixed offset (so a
//! loss upstream still shows as a gap the subscriber may NACK); after a
//! pause, re-based so the next packet follows the last one sent, with the
//! timestamp advanced by the time that passed. Video resumes on a keyframe:
//! until one arrives, packets are held back, since nothing before it could
//! be decoded. Plain code over one header at a time; the writer task owns it.

use std::time::Instant;

use rtc::rtp::header::Header;

/// What the writer does with one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send it (its header was rewritten).
    Send,
    /// Hold it back: video waits for a keyframe.
    AwaitKeyframe,
    /// Drop it: it belongs before the point where the stream was re-based.
    Stale,
}

#[derive(Debug, Clone, Copy)]
struct Mapping {
    seq_offset: u16,
    ts_offset: u32,
    /// The first incoming sequence number of this mapping.
    base_in_seq: u16,
    last_out_seq: u16,
    last_out_ts: u32,
    last_sent_at: Instant,
}

#[derive(Debug)]
pub struct Continuity {
    clock_rate: u32,
    is_video: bool,
    mapping: Option<Mapping>,
    /// Packets were skipped since the last one sent: re-base on the next.
    paused: bool,
    awaiting_keyframe: bool,
}

/// True when `a` comes after `b` in 16-bit sequence space.
fn seq_newer(a: u16, b: u16) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000
}

impl Continuity {
    pub fn new(clock_rate: u32, is_video: bool) -> Self {
        Continuity {
            clock_rate: clock_rate.max(1),
            is_video,
            mapping: None,
            paused: false,
            awaiting_keyframe: is_video,
        }
    }

    /// A packet was not forwarded (the rules held it back).
    pub fn skip(&mut self) {
        self.paused = true;
        if self.is_video {
            self.awaiting_keyframe = true;
        }
    }

    /// Whether video is held back until a keyframe.
    pub fn awaiting_keyframe(&self) -> bool {
        self.awaiting_keyframe
    }

    /// Rewrites `header` for this subscriber, or says why the packet stays.
    /// `keyframe` tells whether the packet starts a keyframe (video only).
    pub fn forward(&mut self, header: &mut Header, keyframe: bool, now: Instant) -> Verdict {
        if self.awaiting_keyframe {
            if !keyframe {
                return Verdict::AwaitKeyframe;
            }
            self.awaiting_keyframe = false;
        }
        let mapping = match self.mapping {
            None => self.start(header, now),
            Some(mapping) if self.paused => self.rebase(mapping, header, now),
            Some(mapping) => {
                if seq_newer(mapping.base_in_seq, header.sequence_number) {
                    return Verdict::Stale;
                }
                mapping
            }
        };
        self.paused = false;
        let out_seq = header.sequence_number.wrapping_add(mapping.seq_offset);
        let out_ts = header.timestamp.wrapping_add(mapping.ts_offset);
        let mut next = mapping;
        if seq_newer(out_seq, mapping.last_out_seq) || self.mapping.is_none() {
            next.last_out_seq = out_seq;
            next.last_out_ts = out_ts;
            next.last_sent_at = now;
        }
        self.mapping = Some(next);
        header.sequence_number = out_seq;
        header.timestamp = out_ts;
        Verdict::Send
    }

    /// The first packet: the publisher's numbers are kept as they are.
    fn start(&self, header: &Header, now: Instant) -> Mapping {
        Mapping {
            seq_offset: 0,
            ts_offset: 0,
            base_in_seq: header.sequence_number,
            last_out_seq: header.sequence_number,
            last_out_ts: header.timestamp,
            last_sent_at: now,
        }
    }

    /// After a pause: the next sequence number, and a timestamp advanced by
    /// the wall-clock time since the last packet sent (at least one tick).
    fn rebase(&self, last: Mapping, header: &Header, now: Instant) -> Mapping {
        let out_seq = last.last_out_seq.wrapping_add(1);
        let elapsed = now.saturating_duration_since(last.last_sent_at);
        let ticks = (elapsed.as_secs_f64() * f64::from(self.clock_rate)).round() as u64;
        let out_ts = last.last_out_ts.wrapping_add(ticks.clamp(1, u64::from(u32::MAX / 2)) as u32);
        Mapping {
            seq_offset: out_seq.wrapping_sub(header.sequence_number),
            ts_offset: out_ts.wrapping_sub(header.timestamp),
            base_in_seq: header.sequence_number,
            last_out_seq: last.last_out_seq,
            last_out_ts: last.last_out_ts,
            last_sent_at: last.last_sent_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn packet(seq: u16, ts: u32) -> Header {
        Header { sequence_number: seq, timestamp: ts, ..Default::default() }
    }

    /// Sends in-sequence packets `seqs` 20 ms apart; returns the rewritten
    /// (seq, ts) of those sent.
    fn run(stream: &mut Continuity, seqs: std::ops::Range<u16>, start: Instant, keyframe: bool) -> Vec<(u16, u32)> {
        let mut out = Vec::new();
        for seq in seqs {
            let now = start + Duration::from_millis(20 * u64::from(seq));
            let mut header = packet(seq, u32::from(seq) * 960);
            if stream.forward(&mut header, keyframe, now) == Verdict::Send {
                out.push((header.sequence_number, header.timestamp));
            }
        }
        out
    }

    #[test]
    fn a_pause_leaves_no_gap_and_time_moves_on() {
        let start = Instant::now();
        let mut audio = Continuity::new(48_000, false);
        let before = run(&mut audio, 100..150, start, false);
        assert_eq!(before.last(), Some(&(149, 149 * 960)), "numbers kept while nothing pauses");
        for _ in 150..350 {
            audio.skip(); // 4 s of caucus
        }
        let after = run(&mut audio, 350..360, start, false);
        assert_eq!(after[0].0, 150, "the next number after the last one sent");
        assert_eq!(after[9].0, 159);
        let advanced = after[0].1.wrapping_sub(149 * 960);
        assert_eq!(advanced, 201 * 960, "the timestamp advanced by the 4.02 s that passed");
        assert_eq!(after[1].1 - after[0].1, 960, "and runs on at the publisher's pace");
    }

    #[test]
    fn upstream_loss_stays_visible_and_late_packets_from_before_a_pause_are_dropped() {
        let start = Instant::now();
        let mut audio = Continuity::new(48_000, false);
        run(&mut audio, 1..10, start, false);
        let mut lost_upstream = packet(12, 12 * 960);
        assert_eq!(audio.forward(&mut lost_upstream, false, start), Verdict::Send);
        assert_eq!(lost_upstream.sequence_number, 12, "a gap the publisher made is the subscriber's to NACK");
        audio.skip();
        let mut resumed = packet(40, 40 * 960);
        assert_eq!(audio.forward(&mut resumed, false, start + Duration::from_secs(1)), Verdict::Send);
        assert_eq!(resumed.sequence_number, 13);
        let mut late = packet(11, 11 * 960);
        assert_eq!(audio.forward(&mut late, false, start), Verdict::Stale);
    }

    #[test]
    fn video_waits_for_a_keyframe_at_the_start_and_after_a_pause() {
        let start = Instant::now();
        let mut video = Continuity::new(90_000, true);
        assert!(run(&mut video, 1..5, start, false).is_empty(), "nothing before the first keyframe");
        assert_eq!(run(&mut video, 5..6, start, true), vec![(5, 5 * 960)]);
        assert_eq!(run(&mut video, 6..8, start, false).len(), 2, "then everything");
        video.skip();
        assert!(video.awaiting_keyframe());
        assert!(run(&mut video, 20..25, start, false).is_empty(), "deltas after a pause are held back");
        let resumed = run(&mut video, 25..26, start, true);
        assert_eq!(resumed[0].0, 8, "and the keyframe follows the last packet sent");
    }

    #[test]
    fn sequence_numbers_wrap() {
        let start = Instant::now();
        let mut audio = Continuity::new(48_000, false);
        let mut header = packet(65_534, 0);
        audio.forward(&mut header, false, start);
        audio.skip();
        let mut header = packet(300, 0);
        audio.forward(&mut header, false, start + Duration::from_millis(20));
        assert_eq!(header.sequence_number, 65_535);
        let mut header = packet(301, 0);
        audio.forward(&mut header, false, start + Duration::from_millis(40));
        assert_eq!(header.sequence_number, 0);
    }
}
