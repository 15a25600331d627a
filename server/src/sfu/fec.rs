//! Audio protection for lossy downlinks. A publisher's Opus encoder adds
//! in-band FEC (each packet carries a coarse copy of the one before) when
//! the receiver reports loss; but the receiver it hears from is the server,
//! whose link from the publisher loses nothing, while a village station
//! behind a lossy line loses packets of that audio downstream. So the
//! server reports to each audio publisher the worst loss any of its
//! subscribers reported (what LiveKit does too): a station that loses 2%
//! then gets audio it can repair, instead of concealing every lost packet.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rtc::interceptor::{Interceptor, Packet, StreamInfo, TaggedPacket};
use rtc::rtcp::receiver_report::ReceiverReport;
use rtc::sansio::Protocol;

/// The slot: wire-ward of the receiver report generator (10,000), so its
/// reports pass here on their way out.
pub const SLOT: usize = 9_500;
/// A subscriber's report older than this no longer counts.
const FRESH: Duration = Duration::from_secs(5);

/// The loss subscribers report for each stream a publish connection
/// receives, by that stream's SSRC. A std Mutex: held only to read or write
/// a few numbers, never across an await.
#[derive(Debug, Default)]
pub struct DownstreamLoss {
    worst: std::sync::Mutex<HashMap<u32, (u8, Instant)>>,
}

impl DownstreamLoss {
    /// A subscriber reported `fraction_lost` (of 256) of the stream `ssrc`.
    pub fn note(&self, ssrc: u32, fraction_lost: u8, now: Instant) {
        let mut worst = self.worst.lock().expect("downstream loss poisoned");
        let entry = worst.entry(ssrc).or_insert((0, now));
        // The worst fresh report wins; a stale worst gives way to any news.
        if fraction_lost >= entry.0 || now.saturating_duration_since(entry.1) > FRESH {
            *entry = (fraction_lost, now);
        }
    }

    fn worst(&self, ssrc: u32, now: Instant) -> Option<u8> {
        let worst = self.worst.lock().expect("downstream loss poisoned");
        worst.get(&ssrc).filter(|(_, at)| now.saturating_duration_since(*at) <= FRESH).map(|(lost, _)| *lost)
    }
}

/// On a publish connection: raises the loss in each outgoing receiver
/// report to the worst its subscribers reported for that stream.
pub struct ReportWorstLoss {
    loss: Arc<DownstreamLoss>,
    inbound: VecDeque<TaggedPacket>,
    outbound: VecDeque<TaggedPacket>,
}

impl ReportWorstLoss {
    pub fn new(loss: Arc<DownstreamLoss>) -> Self {
        Self { loss, inbound: VecDeque::new(), outbound: VecDeque::new() }
    }
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for ReportWorstLoss {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, message: TaggedPacket) -> Result<(), Self::Error> {
        self.inbound.push_back(message);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<Self::Rout> {
        self.inbound.pop_front()
    }

    fn handle_write(&mut self, mut message: TaggedPacket) -> Result<(), Self::Error> {
        if let Packet::Rtcp(packets) = &mut message.message.packet {
            for packet in packets.iter_mut() {
                let Some(report) = packet.as_any().downcast_ref::<ReceiverReport>() else { continue };
                let mut raised = report.clone();
                let mut changed = false;
                for block in &mut raised.reports {
                    if let Some(worst) = self.loss.worst(block.ssrc, message.now)
                        && worst > block.fraction_lost
                    {
                        block.fraction_lost = worst;
                        changed = true;
                    }
                }
                if changed {
                    tracing::trace!(reports = raised.reports.len(), "receiver report raised to the loss downstream");
                    *packet = Box::new(raised);
                }
            }
        }
        self.outbound.push_back(message);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<Self::Wout> {
        self.outbound.pop_front()
    }
}

impl Interceptor for ReportWorstLoss {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_fresh_report_counts_and_a_stale_one_gives_way() {
        let loss = DownstreamLoss::default();
        let start = Instant::now();
        loss.note(7, 5, start);
        loss.note(7, 2, start + Duration::from_secs(1));
        assert_eq!(loss.worst(7, start + Duration::from_secs(1)), Some(5));
        assert_eq!(loss.worst(8, start), None);
        let later = start + FRESH + Duration::from_secs(1);
        assert_eq!(loss.worst(7, later), None, "stale");
        loss.note(7, 1, later);
        assert_eq!(loss.worst(7, later), Some(1));
    }
}
