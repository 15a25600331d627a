//! Answers subscribers' NACKs on the subscribe connections, in place of the
//! crate's responder (which resends every requested packet every time it is
//! asked: on a lossy village link that became a storm of resends). This one
//! resends a packet at most once per round trip, skips packets too old to
//! help (audio after 250 ms, video after 1 s), spends at most half of what
//! the stream itself sends on resends (a byte budget refilled by each
//! original packet) and, while the subscriber's link is congested, at most a
//! tenth of what it is estimated to carry on the whole connection (a link
//! that fills up loses packets in bursts, and resending them all would fill
//! it more; a link that only loses packets at random gets its resends), sends
//! them as RTX where the subscriber negotiated it, and counts NACKs, resends
//! and what it refused.
//!
//! It also sends the padding that probes a link (`LinkEstimate::request_probe`):
//! RTX copies of video packets the subscriber already has, which its
//! browser counts in its transport-wide feedback and then drops. So the
//! estimator learns whether the link carries more before a paused video is
//! let back onto it, and the probe stops the moment it builds a queue.
//!
//! The round trip comes from RTCP: the sender reports this connection sends
//! pass by on their way out (their NTP time noted), and the receiver's
//! reception reports name them back (LSR and DLSR, RFC 3550 6.4.1).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rtc::interceptor::{Attribute, AttributedPacket, Interceptor, Packet, StreamInfo, TaggedPacket};
use rtc::rtcp::receiver_report::ReceiverReport;
use rtc::rtcp::reception_report::ReceptionReport;
use rtc::rtcp::sender_report::SenderReport;
use rtc::rtcp::transport_feedbacks::transport_layer_nack::TransportLayerNack;
use rtc::rtp;
use rtc::sansio::Protocol;
use rtc::shared::TransportContext;

use super::estimate::LinkEstimate;

/// Packets kept per stream for resending (a power of two).
const BUFFER: usize = 1024;
/// Resends may spend at most this share of the bytes a stream sends.
const BUDGET_SHARE: f64 = 0.5;
/// The budget saved up at most (a burst of resends after a loss burst).
const BUDGET_CAP: f64 = 64.0 * 1024.0;
/// Resends on one connection spend at most this share of its link's estimate...
const LINK_SHARE: f64 = 0.1;
/// ...saved up for at most this long.
const LINK_SAVED: Duration = Duration::from_millis(500);
/// Until reception reports give a round trip.
const DEFAULT_RTT: Duration = Duration::from_millis(100);
/// Probe padding saved up at most (sent in bursts no longer than this).
const PADDING_BURST: Duration = Duration::from_millis(40);
/// Padding copies the newest this many packets of a video stream, in turn.
const PADDING_DEPTH: u16 = 32;

/// What one subscribe connection's resends came to. Shared with /metrics.
#[derive(Debug, Default)]
pub struct ResendCounters {
    pub nacks: AtomicU64,
    pub resent_packets: AtomicU64,
    pub resent_bytes: AtomicU64,
    /// Requests not answered: the packet was too old, resent within the
    /// round trip, no longer kept, or over the budget.
    pub refused: AtomicU64,
    /// Probe padding sent (RTX copies of packets already sent).
    pub padding_packets: AtomicU64,
    pub padding_bytes: AtomicU64,
    /// Candidates the participant trickled that were added to a connection
    /// (kept here with the other per-participant transport counters).
    pub trickled_candidates: AtomicU64,
}

struct Sent {
    packet: rtp::Packet,
    sent_at: Instant,
    resent_at: Option<Instant>,
}

struct Stream {
    kept: Vec<Option<Sent>>,
    max_age: Duration,
    /// RFC 4588: the RTX SSRC and payload type, when negotiated.
    rtx: Option<(u32, u8)>,
    rtx_sequence: u16,
    budget: f64,
    /// The newest packet kept, and when it was sent.
    newest: Option<(u16, Instant)>,
    /// Which of the newest packets padding copies next.
    padding_turn: u16,
}

impl Stream {
    fn slot(sequence: u16) -> usize {
        usize::from(sequence) % BUFFER
    }

    fn keep(&mut self, packet: rtp::Packet, now: Instant) {
        self.budget = (self.budget + packet.payload.len() as f64 * BUDGET_SHARE).min(BUDGET_CAP);
        let sequence = packet.header.sequence_number;
        if self.newest.is_none_or(|(newest, _)| sequence.wrapping_sub(newest) < 0x8000) {
            self.newest = Some((sequence, now));
        }
        self.kept[Self::slot(sequence)] = Some(Sent { packet, sent_at: now, resent_at: None });
    }

    /// The next packet probe padding copies: one of the newest the
    /// subscriber was sent, in turn, as RTX (none without RTX).
    fn padding(&mut self) -> Option<rtp::Packet> {
        let (newest, _) = self.newest?;
        self.rtx?;
        for _ in 0..PADDING_DEPTH {
            let sequence = newest.wrapping_sub(self.padding_turn % PADDING_DEPTH);
            self.padding_turn = self.padding_turn.wrapping_add(1);
            let kept = self.kept[Self::slot(sequence)].as_ref().map(|sent| &sent.packet);
            if let Some(original) = kept.filter(|packet| packet.header.sequence_number == sequence) {
                let original = original.clone();
                return Some(self.as_rtx(&original));
            }
        }
        None
    }

    /// `original` as an RTX packet (RFC 4588): its sequence number first,
    /// then its payload, on the RTX stream. Unchanged without RTX.
    fn as_rtx(&mut self, original: &rtp::Packet) -> rtp::Packet {
        let Some((ssrc, payload_type)) = self.rtx else { return original.clone() };
        let mut payload = Vec::with_capacity(2 + original.payload.len());
        payload.extend_from_slice(&original.header.sequence_number.to_be_bytes());
        payload.extend_from_slice(&original.payload);
        let sequence_number = self.rtx_sequence;
        self.rtx_sequence = self.rtx_sequence.wrapping_add(1);
        let header = rtp::header::Header {
            version: 2,
            ssrc,
            payload_type,
            sequence_number,
            timestamp: original.header.timestamp,
            marker: original.header.marker,
            ..Default::default()
        };
        rtp::Packet { header, payload: payload.into() }
    }

    /// The packet to send again for `sequence`, if it may be, within the
    /// stream's budget and the connection's `allowance` (bytes).
    fn resend(&mut self, sequence: u16, now: Instant, rtt: Duration, allowance: &mut f64) -> Option<rtp::Packet> {
        let sent = self.kept[Self::slot(sequence)].as_mut()?;
        if sent.packet.header.sequence_number != sequence || now.duration_since(sent.sent_at) > self.max_age {
            return None;
        }
        if sent.resent_at.is_some_and(|at| now.duration_since(at) < rtt) {
            return None;
        }
        let size = sent.packet.payload.len() as f64;
        if size > self.budget || size > *allowance {
            return None;
        }
        self.budget -= size;
        *allowance -= size;
        sent.resent_at = Some(now);
        let original = sent.packet.clone();
        Some(self.as_rtx(&original))
    }
}

/// The interceptor, one per subscribe connection.
pub struct Retransmitter {
    streams: HashMap<u32, Stream>,
    /// The middle 32 bits of recent sender reports' NTP time, and when they left.
    reports_sent: VecDeque<(u32, Instant)>,
    rtt: Duration,
    counters: Arc<ResendCounters>,
    /// The subscriber's link, and the bytes resends may still spend on it
    /// (refilled at `LINK_SHARE` of its estimate), as of when.
    link: Arc<LinkEstimate>,
    allowance: (f64, Option<Instant>),
    /// Probe padding owed, in bytes, as of when.
    padding: (f64, Option<Instant>),
    inbound: VecDeque<TaggedPacket>,
    outbound: VecDeque<TaggedPacket>,
}

impl Retransmitter {
    pub fn new(counters: Arc<ResendCounters>, link: Arc<LinkEstimate>) -> Self {
        Retransmitter {
            streams: HashMap::new(),
            reports_sent: VecDeque::new(),
            rtt: DEFAULT_RTT,
            counters,
            link,
            allowance: (0.0, None),
            padding: (0.0, None),
            inbound: VecDeque::new(),
            outbound: VecDeque::new(),
        }
    }

    /// What resends may spend on the link now, in bytes: unlimited while
    /// its capacity is not known or it is not congested.
    fn link_allowance(&mut self, now: Instant) -> f64 {
        let Some(estimate) = self.link.current(now).filter(|estimate| estimate.congested) else {
            self.allowance = (0.0, None);
            return f64::INFINITY;
        };
        let rate = estimate.bits_per_second * LINK_SHARE / 8.0;
        let (saved, since) = self.allowance;
        let earned = since.map_or(f64::INFINITY, |since| now.saturating_duration_since(since).as_secs_f64() * rate);
        let allowance = (saved + earned).min(rate * LINK_SAVED.as_secs_f64());
        self.allowance = (allowance, Some(now));
        allowance
    }

    /// Sends the probe padding asked for (`LinkEstimate::probe_bps`) that
    /// is due by `now`, copying the video stream sent most recently.
    fn pad(&mut self, now: Instant) {
        let rate = self.link.probe_bps() / 8.0;
        if rate <= 0.0 {
            self.padding = (0.0, None);
            return;
        }
        let (owed, since) = self.padding;
        let earned = since.map_or(0.0, |since| now.saturating_duration_since(since).as_secs_f64() * rate);
        let mut owed = (owed + earned).min(rate * PADDING_BURST.as_secs_f64());
        let newest = self
            .streams
            .values_mut()
            .filter(|stream| stream.rtx.is_some())
            .max_by_key(|stream| stream.newest.map(|(_, at)| at));
        if let Some(stream) = newest {
            while owed > 0.0 {
                let Some(packet) = stream.padding() else { break };
                let size = packet.payload.len();
                owed -= size as f64;
                self.counters.padding_packets.fetch_add(1, Ordering::Relaxed);
                self.counters.padding_bytes.fetch_add(size as u64, Ordering::Relaxed);
                let message = AttributedPacket::new(Packet::Rtp(packet)).with(Attribute::Retransmission);
                self.outbound.push_back(TaggedPacket { now, transport: TransportContext::default(), message });
            }
        }
        self.padding = (owed, Some(now));
    }

    /// The round trip as last measured (or the default).
    pub fn rtt(&self) -> Duration {
        self.rtt
    }

    fn on_nack(&mut self, nack: &TransportLayerNack, now: Instant) {
        self.counters.nacks.fetch_add(1, Ordering::Relaxed);
        let rtt = self.rtt;
        let mut allowance = self.link_allowance(now);
        let Some(stream) = self.streams.get_mut(&nack.media_ssrc) else { return };
        for pair in &nack.nacks {
            for sequence in pair.packet_list() {
                match stream.resend(sequence, now, rtt, &mut allowance) {
                    Some(packet) => {
                        self.counters.resent_packets.fetch_add(1, Ordering::Relaxed);
                        self.counters.resent_bytes.fetch_add(packet.payload.len() as u64, Ordering::Relaxed);
                        let message = AttributedPacket::new(Packet::Rtp(packet)).with(Attribute::Retransmission);
                        self.outbound.push_back(TaggedPacket { now, transport: TransportContext::default(), message });
                    }
                    None => {
                        self.counters.refused.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
        if self.allowance.1.is_some() {
            self.allowance.0 = allowance;
        }
    }

    /// A reception report naming one of our sender reports gives the round trip.
    fn on_report(&mut self, report: &ReceptionReport, now: Instant) {
        if report.last_sender_report == 0 || !self.streams.contains_key(&report.ssrc) {
            return;
        }
        let Some(&(_, sent_at)) = self.reports_sent.iter().find(|(ntp, _)| *ntp == report.last_sender_report) else {
            return;
        };
        let held = Duration::from_secs_f64(f64::from(report.delay) / 65536.0);
        let rtt = now.saturating_duration_since(sent_at).saturating_sub(held);
        self.rtt = rtt.clamp(Duration::from_millis(10), Duration::from_secs(1));
    }
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for Retransmitter {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, message: TaggedPacket) -> Result<(), Self::Error> {
        if let Packet::Rtcp(packets) = &message.message.packet {
            for packet in packets {
                let any = packet.as_any();
                if let Some(nack) = any.downcast_ref::<TransportLayerNack>() {
                    self.on_nack(nack, message.now);
                }
                let reports = match (any.downcast_ref::<ReceiverReport>(), any.downcast_ref::<SenderReport>()) {
                    (Some(receiver), _) => receiver.reports.as_slice(),
                    (_, Some(sender)) => sender.reports.as_slice(),
                    _ => &[],
                };
                for report in reports {
                    self.on_report(report, message.now);
                }
            }
        }
        self.inbound.push_back(message);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<Self::Rout> {
        self.inbound.pop_front()
    }

    fn handle_write(&mut self, message: TaggedPacket) -> Result<(), Self::Error> {
        match &message.message.packet {
            Packet::Rtp(packet) => {
                if let Some(stream) = self.streams.get_mut(&packet.header.ssrc) {
                    stream.keep(packet.clone(), message.now);
                    if stream.rtx.is_some() {
                        self.link.mark_probe_source();
                    }
                }
            }
            Packet::Rtcp(packets) => {
                for report in packets.iter().filter_map(|p| p.as_any().downcast_ref::<SenderReport>()) {
                    let middle = ((report.ntp_time >> 16) & 0xffff_ffff) as u32;
                    self.reports_sent.push_back((middle, message.now));
                    if self.reports_sent.len() > 16 {
                        self.reports_sent.pop_front();
                    }
                }
            }
            _ => {}
        }
        let now = message.now;
        let media = matches!(message.message.packet, Packet::Rtp(_));
        self.outbound.push_back(message);
        if media {
            self.pad(now);
        }
        Ok(())
    }

    fn poll_write(&mut self) -> Option<Self::Wout> {
        self.outbound.pop_front()
    }
}

impl Interceptor for Retransmitter {
    fn bind_local_stream(&mut self, info: &StreamInfo) {
        let nack = info.rtcp_feedback.iter().any(|feedback| feedback.typ == "nack" && feedback.parameter.is_empty());
        if !nack {
            return;
        }
        let audio = info.mime_type.to_ascii_lowercase().starts_with("audio/");
        let stream = Stream {
            kept: std::iter::repeat_with(|| None).take(BUFFER).collect(),
            max_age: if audio { Duration::from_millis(250) } else { Duration::from_secs(1) },
            rtx: info.ssrc_rtx.zip(info.payload_type_rtx),
            rtx_sequence: rand::random(),
            budget: 0.0,
            newest: None,
            padding_turn: 0,
        };
        self.streams.insert(info.ssrc, stream);
    }

    fn unbind_local_stream(&mut self, info: &StreamInfo) {
        self.streams.remove(&info.ssrc);
    }

    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}

    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

#[cfg(test)]
mod tests {
    use rtc::rtcp::transport_feedbacks::transport_layer_nack::NackPair;

    use super::*;

    const SSRC: u32 = 7;

    fn video(rtx: bool) -> (Retransmitter, Arc<ResendCounters>) {
        on_link(rtx, Arc::new(LinkEstimate::default()))
    }

    fn on_link(rtx: bool, link: Arc<LinkEstimate>) -> (Retransmitter, Arc<ResendCounters>) {
        let counters = Arc::new(ResendCounters::default());
        let mut retransmitter = Retransmitter::new(counters.clone(), link);
        let info = StreamInfo {
            ssrc: SSRC,
            ssrc_rtx: rtx.then_some(8),
            payload_type: 96,
            payload_type_rtx: rtx.then_some(97),
            mime_type: "video/VP8".into(),
            rtcp_feedback: vec![rtc::interceptor::RTCPFeedback { typ: "nack".into(), parameter: String::new() }],
            ..Default::default()
        };
        retransmitter.bind_local_stream(&info);
        (retransmitter, counters)
    }

    fn rtp(sequence: u16, at: Instant) -> TaggedPacket {
        let header = rtp::header::Header { version: 2, ssrc: SSRC, sequence_number: sequence, ..Default::default() };
        let packet = rtp::Packet { header, payload: vec![0u8; 1000].into() };
        TaggedPacket {
            now: at,
            transport: TransportContext::default(),
            message: AttributedPacket::new(Packet::Rtp(packet)),
        }
    }

    fn nack(sequences: &[u16], at: Instant) -> TaggedPacket {
        let nacks = sequences.iter().map(|&packet_id| NackPair { packet_id, lost_packets: 0 }).collect();
        let packet = TransportLayerNack { sender_ssrc: 1, media_ssrc: SSRC, nacks };
        TaggedPacket {
            now: at,
            transport: TransportContext::default(),
            message: AttributedPacket::new(Packet::Rtcp(vec![Box::new(packet)])),
        }
    }

    /// Sends `count` packets from `first`, 10 ms apart, draining the queue.
    fn send(retransmitter: &mut Retransmitter, first: u16, count: u16, start: Instant) {
        for offset in 0..count {
            retransmitter
                .handle_write(rtp(first + offset, start + Duration::from_millis(10 * u64::from(offset))))
                .unwrap();
        }
        while retransmitter.poll_write().is_some() {}
    }

    fn resent(retransmitter: &mut Retransmitter) -> Vec<rtp::Packet> {
        std::iter::from_fn(|| retransmitter.poll_write())
            .filter_map(|message| match message.message.packet {
                Packet::Rtp(packet) => Some(packet),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_packet_is_resent_once_per_round_trip_however_often_it_is_asked_for() {
        let start = Instant::now();
        let (mut retransmitter, counters) = video(false);
        send(&mut retransmitter, 100, 20, start);
        let now = start + Duration::from_millis(200);
        for _ in 0..5 {
            retransmitter.handle_read(nack(&[105], now)).unwrap();
        }
        let once = resent(&mut retransmitter);
        assert_eq!(once.len(), 1, "five NACKs within a round trip, one resend");
        assert_eq!(once[0].header.sequence_number, 105);
        retransmitter.handle_read(nack(&[105], now + Duration::from_millis(150))).unwrap();
        assert_eq!(resent(&mut retransmitter).len(), 1, "asked again a round trip later: resent again");
        assert_eq!(counters.nacks.load(Ordering::Relaxed), 6);
        assert_eq!(counters.resent_packets.load(Ordering::Relaxed), 2);
        assert_eq!(counters.refused.load(Ordering::Relaxed), 4);
    }

    #[test]
    fn too_old_or_forgotten_packets_are_not_resent() {
        let start = Instant::now();
        let (mut retransmitter, counters) = video(false);
        send(&mut retransmitter, 100, 20, start);
        retransmitter.handle_read(nack(&[100, 5000], start + Duration::from_millis(1500))).unwrap();
        assert!(resent(&mut retransmitter).is_empty(), "older than a second, and never sent");
        assert_eq!(counters.refused.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn resends_spend_at_most_half_of_what_the_stream_sends() {
        let start = Instant::now();
        let (mut retransmitter, _) = video(false);
        send(&mut retransmitter, 0, 100, start);
        let every: Vec<u16> = (0..100).collect();
        retransmitter.handle_read(nack(&every, start + Duration::from_millis(990))).unwrap();
        assert_eq!(resent(&mut retransmitter).len(), 50, "100 packets sent buy 50 resends");
    }

    #[test]
    fn resends_spend_at_most_a_tenth_of_the_link() {
        let start = Instant::now();
        let link = Arc::new(LinkEstimate::default());
        let (mut retransmitter, counters) = on_link(false, link.clone());
        send(&mut retransmitter, 0, 100, start);
        // 400 kbit/s: resends may take 40 kbit/s, 2,500 bytes saved at most.
        let asked = start + Duration::from_millis(990);
        link.record_feedback(400_000.0, None, true, asked);
        let every: Vec<u16> = (0..100).collect();
        retransmitter.handle_read(nack(&every, asked)).unwrap();
        assert_eq!(resent(&mut retransmitter).len(), 2, "two packets of 1,000 bytes fit in 2,500");
        // 50 ms later, 250 bytes more: 750, not enough for one more packet.
        let later = asked + Duration::from_millis(50);
        link.record_feedback(400_000.0, None, true, later);
        retransmitter.handle_read(nack(&[50], later)).unwrap();
        assert!(resent(&mut retransmitter).is_empty());
        // Half a second later the allowance is full again.
        let then = later + Duration::from_millis(500);
        link.record_feedback(400_000.0, None, true, then);
        retransmitter.handle_read(nack(&[60, 61, 62], then)).unwrap();
        assert_eq!(resent(&mut retransmitter).len(), 2);
        assert_eq!(counters.resent_packets.load(Ordering::Relaxed), 4);
    }

    #[test]
    fn a_link_that_is_not_congested_gets_its_resends() {
        let start = Instant::now();
        let link = Arc::new(LinkEstimate::default());
        let (mut retransmitter, _) = on_link(false, link.clone());
        send(&mut retransmitter, 0, 100, start);
        let asked = start + Duration::from_millis(990);
        link.record_feedback(400_000.0, Some(0.05), false, asked);
        let every: Vec<u16> = (0..100).collect();
        retransmitter.handle_read(nack(&every, asked)).unwrap();
        assert_eq!(resent(&mut retransmitter).len(), 50, "the stream's own budget only");
    }

    #[test]
    fn resends_go_as_rtx_where_negotiated() {
        let start = Instant::now();
        let (mut retransmitter, _) = video(true);
        send(&mut retransmitter, 300, 10, start);
        retransmitter.handle_read(nack(&[305], start + Duration::from_millis(120))).unwrap();
        let rtx = resent(&mut retransmitter);
        assert_eq!((rtx[0].header.ssrc, rtx[0].header.payload_type), (8, 97));
        assert_eq!(&rtx[0].payload[..2], &305u16.to_be_bytes(), "the original sequence number first (RFC 4588)");
    }

    #[test]
    fn reception_reports_give_the_round_trip() {
        let start = Instant::now();
        let (mut retransmitter, _) = video(false);
        let report = SenderReport { ssrc: SSRC, ntp_time: 0x0000_1234_5678_0000, ..Default::default() };
        let outgoing = TaggedPacket {
            now: start,
            transport: TransportContext::default(),
            message: AttributedPacket::new(Packet::Rtcp(vec![Box::new(report)])),
        };
        retransmitter.handle_write(outgoing).unwrap();
        let block =
            ReceptionReport { ssrc: SSRC, last_sender_report: 0x1234_5678, delay: 65536 / 10, ..Default::default() };
        let receiver = ReceiverReport { ssrc: 1, reports: vec![block], ..Default::default() };
        let incoming = TaggedPacket {
            now: start + Duration::from_millis(250),
            transport: TransportContext::default(),
            message: AttributedPacket::new(Packet::Rtcp(vec![Box::new(receiver)])),
        };
        retransmitter.handle_read(incoming).unwrap();
        let rtt = retransmitter.rtt();
        assert!(
            rtt > Duration::from_millis(148) && rtt < Duration::from_millis(152),
            "250 ms less 100 ms held: {rtt:?}"
        );
    }

    #[test]
    fn probe_padding_copies_sent_packets_as_rtx_at_the_rate_asked() {
        let link = Arc::new(LinkEstimate::default());
        let (mut retransmitter, counters) = on_link(true, link.clone());
        let start = Instant::now();
        send(&mut retransmitter, 100, 10, start);
        assert_eq!(counters.padding_bytes.load(Ordering::Relaxed), 0, "no padding unless asked");
        // 400 kbit/s asked for one second, while 100 packets go out.
        link.request_probe(400_000.0);
        let mut padding = Vec::new();
        for offset in 0..100u16 {
            let at = start + Duration::from_millis(100 + 10 * u64::from(offset));
            retransmitter.handle_write(rtp(110 + offset, at)).unwrap();
            padding.extend(resent(&mut retransmitter).into_iter().filter(|packet| packet.header.ssrc == 8));
        }
        let bytes: usize = padding.iter().map(|packet| packet.payload.len()).sum();
        assert!((40_000..=56_000).contains(&bytes), "{bytes} bytes of padding for 50,000 asked");
        assert_eq!(counters.padding_bytes.load(Ordering::Relaxed), bytes as u64);
        for packet in &padding {
            let original = u16::from_be_bytes([packet.payload[0], packet.payload[1]]);
            assert!((100..210).contains(&original), "a copy of a packet already sent, not {original}");
            assert_eq!(packet.header.payload_type, 97);
        }
        // Stopped: nothing more.
        link.request_probe(0.0);
        retransmitter.handle_write(rtp(210, start + Duration::from_secs(2))).unwrap();
        assert!(resent(&mut retransmitter).iter().all(|packet| packet.header.ssrc == SSRC));
    }

    #[test]
    fn a_stream_without_rtx_is_not_padded() {
        let link = Arc::new(LinkEstimate::default());
        let (mut retransmitter, counters) = on_link(false, link.clone());
        link.request_probe(400_000.0);
        send(&mut retransmitter, 100, 50, Instant::now());
        assert_eq!(counters.padding_packets.load(Ordering::Relaxed), 0);
    }
}
