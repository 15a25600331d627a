//! What a subscriber's downlink can carry: the bandwidth estimate of one
//! subscribe connection, as the allocator reads it. Two sources feed it:
//! transport-wide congestion control feedback (browsers and webrtc-rs
//! send it when the subscribe offer names `transport-cc`), run through the
//! delay- and loss-based estimator built from the GCC parts `rtc-interceptor`
//! ships (`LinkEstimator`); and REMB, for clients that send only that
//! (aiortc). The estimator runs inside the connection's interceptor chain
//! and copies each new figure into a shared cell (`LinkEstimate`) that the
//! allocator reads from outside.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rtc::interceptor::{
    ArrivalGroupAccumulator, BandwidthEstimator, EstimatorStats, InterGroupDelay, Interceptor, LossController,
    OveruseDetector, PacketReport, RateController, StreamInfo, TaggedPacket, Usage,
};
use rtc::sansio::Protocol;

/// Where the estimate starts before any feedback: high enough that on a
/// good link nothing waits for the estimate to climb, and feedback on a
/// weak one brings it down within a second or two.
pub const INITIAL_BPS: f64 = 1_500_000.0;
/// The estimator's floor and ceiling.
pub const MIN_BPS: f64 = 100_000.0;
pub const MAX_BPS: f64 = 20_000_000.0;
/// Weight of the past in the smoothed receiver-reported loss.
const RECEIVER_LOSS_SMOOTHING: f64 = 0.7;
/// Transport-wide feedback older than this says nothing about now.
const TWCC_FRESH: Duration = Duration::from_secs(2);
/// REMB is sent about once a second; older than this it is stale.
const REMB_FRESH: Duration = Duration::from_secs(5);

/// Where a figure came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EstimateSource {
    TransportFeedback,
    Remb,
}

/// The estimate at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub bits_per_second: f64,
    /// The smoothed share of packets the subscriber reported lost, when known.
    pub loss: Option<f64>,
    pub source: EstimateSource,
    /// Whether the link showed congestion lately (a standing queue, heavy
    /// loss): only then does anything pause for it. A delay trend alone is
    /// not enough, since a receiver short of CPU stamps arrivals late too.
    /// A REMB says nothing of why: its figure is taken as it is.
    pub congested: bool,
    /// Whether that congestion showed as a queue (or a probe that built
    /// one), not as loss alone: the loss receivers report lags by seconds
    /// (smoothed, once a second), and after a narrower line's queue had
    /// drained it still read over 10% for 5 s, holding back every probe.
    pub queueing: bool,
    /// What the subscriber acknowledged receiving over the last second, by
    /// arrival (transport-wide feedback only): what the link has shown it
    /// carries, as against what the estimate supposes. None also while the
    /// connection has nothing to probe the link with (no video packet sent
    /// on a stream with RTX): the allocator then goes on the estimate alone.
    pub delivered: Option<f64>,
}

/// A link that was congested this recently still counts as congested.
const CONGESTION_MEMORY: Duration = Duration::from_secs(3);

#[derive(Debug, Default)]
struct Figures {
    /// The share of packets the subscriber says it lost (RTCP receiver
    /// reports, smoothed), and when it last said so.
    receiver_loss: Option<(f64, Instant)>,
    feedback: Option<(f64, Option<f64>, Instant)>,
    congested_at: Option<Instant>,
    queueing_at: Option<Instant>,
    delivered: Option<(f64, Instant)>,
    remb: Option<(f64, Instant)>,
}

/// One subscribe connection's estimate, shared between its interceptor
/// chain (which writes) and the allocator (which reads). A std Mutex: held
/// only to copy a few numbers, never across an await.
#[derive(Debug, Default)]
pub struct LinkEstimate {
    figures: std::sync::Mutex<Figures>,
    /// Padding asked of the connection to probe the link, in bits per
    /// second (an `f64`'s bits; 0 for none): the allocator sets it, the
    /// retransmitter sends it, the estimator stops it at the first queue.
    probe_bps: AtomicU64,
    /// Whether the retransmitter has packets to make probe padding of.
    probe_source: AtomicBool,
}

impl LinkEstimate {
    fn figures(&self) -> std::sync::MutexGuard<'_, Figures> {
        self.figures.lock().expect("link estimate poisoned")
    }

    /// A figure from transport-wide feedback; `congested` when the link
    /// has a standing queue or loses much.
    pub fn record_feedback(&self, bits_per_second: f64, loss: Option<f64>, congested: bool, at: Instant) {
        let mut figures = self.figures();
        figures.feedback = Some((bits_per_second, loss, at));
        if congested {
            figures.congested_at = Some(at);
        }
    }

    /// What the subscriber acknowledged receiving lately (bits per second).
    pub fn record_delivered(&self, bits_per_second: f64, at: Instant) {
        self.figures().delivered = Some((bits_per_second, at));
    }

    /// The link showed a queue (its congestion is not loss alone).
    pub fn record_queueing(&self, at: Instant) {
        self.figures().queueing_at = Some(at);
    }

    /// Asks the connection for this much probe padding (0 stops it).
    pub fn request_probe(&self, bits_per_second: f64) {
        self.probe_bps.store(bits_per_second.max(0.0).to_bits(), Ordering::Relaxed);
    }

    /// The retransmitter has a video packet with RTX to copy as padding.
    pub fn mark_probe_source(&self) {
        self.probe_source.store(true, Ordering::Relaxed);
    }

    /// The probe padding asked for now, in bits per second.
    pub fn probe_bps(&self) -> f64 {
        f64::from_bits(self.probe_bps.load(Ordering::Relaxed))
    }

    /// A receiver report's loss for one stream (`fraction_lost` of 256).
    pub fn record_receiver_loss(&self, fraction_lost: u8, at: Instant) {
        let sample = f64::from(fraction_lost) / 256.0;
        let mut figures = self.figures();
        let smoothed = match figures.receiver_loss {
            Some((previous, _)) => RECEIVER_LOSS_SMOOTHING * previous + (1.0 - RECEIVER_LOSS_SMOOTHING) * sample,
            None => sample,
        };
        figures.receiver_loss = Some((smoothed, at));
    }

    /// The loss the subscriber reported lately, when it did.
    fn receiver_loss(&self, now: Instant) -> Option<f64> {
        self.figures()
            .receiver_loss
            .filter(|(_, at)| now.saturating_duration_since(*at) <= REMB_FRESH)
            .map(|(loss, _)| loss)
    }

    /// A REMB the subscriber sent.
    pub fn record_remb(&self, bits_per_second: f64, at: Instant) {
        if bits_per_second.is_finite() && bits_per_second > 0.0 {
            self.figures().remb = Some((bits_per_second, at));
        }
    }

    /// The freshest figure: transport-wide feedback when it is recent,
    /// else a recent REMB, else none (nothing is known about this link).
    pub fn current(&self, now: Instant) -> Option<Estimate> {
        let figures = self.figures();
        let fresh = |at: Instant, within: Duration| now.saturating_duration_since(at) <= within;
        if let Some((bits_per_second, loss, at)) = figures.feedback
            && fresh(at, TWCC_FRESH)
        {
            let congested = figures.congested_at.is_some_and(|at| fresh(at, CONGESTION_MEMORY));
            let queueing = figures.queueing_at.is_some_and(|at| fresh(at, CONGESTION_MEMORY));
            let probe_source = self.probe_source.load(Ordering::Relaxed);
            let delivered =
                figures.delivered.filter(|&(_, at)| probe_source && fresh(at, TWCC_FRESH)).map(|(bps, _)| bps);
            return Some(Estimate {
                bits_per_second,
                loss,
                source: EstimateSource::TransportFeedback,
                congested,
                queueing,
                delivered,
            });
        }
        figures.remb.filter(|&(_, at)| fresh(at, REMB_FRESH)).map(|(bits_per_second, _)| Estimate {
            bits_per_second,
            loss: None,
            source: EstimateSource::Remb,
            congested: true,
            queueing: true,
            delivered: None,
        })
    }
}

/// What each packet takes on the line beyond its RTP bytes (which is what
/// feedback reports count): IPv4 and UDP headers and the SRTP tag. The
/// streams' costs count headers too (`peer::PACKET_OVERHEAD`), so estimate
/// and costs are in the same bytes.
const BELOW_RTP: usize = 20 + 8 + 10;
/// What the subscriber acknowledged receiving is measured over this window.
const ACKED_WINDOW: Duration = Duration::from_secs(1);
/// Loss a village line has of its own, which the loss controller ignores.
pub const TOLERATED_LOSS: f64 = 0.03;
/// Above this smoothed loss the link is taken to be full (GCC's own
/// threshold for cutting its rate).
pub const SATURATED_LOSS: f64 = 0.10;

/// Queueing beyond this means the link is full: a village router's buffer
/// holds a few hundred milliseconds, and a trend filter sees only its growth,
/// not a buffer that stays full.
pub const SATURATED_QUEUE: Duration = Duration::from_millis(100);
/// After congestion the estimate may grow by this factor a second.
pub const CEILING_GROWTH: f64 = 1.1;
/// A queue standing this long is congestion: what is sent no longer all
/// fits, though the link still carries what arrives (`SATURATED_QUEUE`).
pub const CONGESTED_QUEUE: Duration = Duration::from_millis(30);
/// The loss half's figure is at least this share of what the link delivers.
pub const LOSS_FLOOR_OF_DELIVERED: f64 = 0.85;
/// A probe whose packets queue this long has found the link's limit.
pub const PROBE_QUEUE: Duration = Duration::from_millis(40);
/// The one-way delay with no queue is the least seen over this window.
const BASE_DELAY_WINDOW: Duration = Duration::from_secs(10);

/// How long packets wait in the path's queues and keep waiting: their
/// one-way delay (arrival on the receiver's clock minus departure on ours,
/// an unknown but fixed offset) above the least seen recently, and the
/// least of that over `STANDING` (a keyframe's burst queues for a moment; a
/// full link's queue stands).
#[derive(Debug, Default)]
struct QueueDelay {
    epoch: Option<Instant>,
    /// The least one-way delay of each second, in ms (offset included).
    lows: VecDeque<(Instant, f64)>,
    /// Each feedback batch's mean one-way delay, in ms (offset included).
    recent: VecDeque<(Instant, f64)>,
}

/// What `QueueDelay` makes of one batch of feedback.
struct Queued {
    standing: Option<Duration>,
    latest: Option<Duration>,
}

/// A queue counts as standing when it lasted this long.
const STANDING: Duration = Duration::from_millis(500);

impl QueueDelay {
    /// The standing queue (see above) and this batch's own queue, when known.
    fn update(&mut self, now: Instant, reports: &[PacketReport]) -> Queued {
        let mut sum = 0.0;
        let mut count = 0u32;
        for report in reports {
            let Some(arrival) = report.arrival.filter(|_| report.arrived) else { continue };
            let epoch = *self.epoch.get_or_insert(report.departure);
            let departure_ms = report.departure.saturating_duration_since(epoch).as_secs_f64() * 1000.0;
            let one_way = arrival.as_secs_f64() * 1000.0 - departure_ms;
            sum += one_way;
            count += 1;
            match self.lows.back_mut() {
                Some((second, low)) if now.saturating_duration_since(*second) < Duration::from_secs(1) => {
                    *low = low.min(one_way);
                }
                _ => self.lows.push_back((now, one_way)),
            }
        }
        while self.lows.front().is_some_and(|(second, _)| now.saturating_duration_since(*second) > BASE_DELAY_WINDOW) {
            self.lows.pop_front();
        }
        if count > 0 {
            self.recent.push_back((now, sum / f64::from(count)));
        }
        while self.recent.front().is_some_and(|(at, _)| now.saturating_duration_since(*at) > STANDING) {
            self.recent.pop_front();
        }
        let base = self.lows.iter().map(|(_, low)| *low).fold(f64::INFINITY, f64::min);
        let standing = self.recent.iter().map(|(_, delay)| *delay).fold(f64::INFINITY, f64::min);
        let above_base = |delay: f64| Duration::from_secs_f64((delay - base).max(0.0) / 1000.0);
        // Judged only once the window is (nearly) covered by feedback.
        let covered = self.recent.front().is_some_and(|(at, _)| now.saturating_duration_since(*at) >= STANDING / 2);
        Queued {
            standing: (covered && base.is_finite() && standing.is_finite()).then(|| above_base(standing)),
            latest: (count > 0 && base.is_finite()).then(|| above_base(sum / f64::from(count))),
        }
    }
}

/// The delay trend over the last groups of packets: a least-squares line
/// through the smoothed accumulated queueing delay, scaled as GCC's
/// trendline filter does so that a gentle, steady queue growth crosses the
/// overuse threshold. The crate's own detector (a Kalman-filtered per-group
/// gradient against a 6-12 ms threshold) missed both cases that matter on a
/// village link: a 9% overload (about 2 ms per group) never crossed it, and
/// a threefold overload filled a 300 ms queue in five groups, before the
/// filter moved; only loss ever lowered its estimate.
#[derive(Debug, Default)]
struct Trendline {
    accumulated_ms: f64,
    smoothed_ms: f64,
    /// (departure ms since the first group, smoothed accumulated delay ms).
    points: VecDeque<(f64, f64)>,
    first: Option<Instant>,
    groups: u32,
}

/// Groups in the regression window.
const TREND_WINDOW: usize = 20;
/// Smoothing of the accumulated delay.
const TREND_SMOOTHING: f64 = 0.9;
/// Scale from slope to the detector's units (GCC's threshold gain).
const TREND_GAIN: f64 = 4.0;
/// At most this many groups count towards the scale.
const TREND_MAX_GROUPS: u32 = 60;

impl Trendline {
    /// One inter-group delay; the modified trend once the window is full.
    fn update(&mut self, delay: &InterGroupDelay) -> Option<f64> {
        let first = *self.first.get_or_insert(delay.at);
        self.groups = (self.groups + 1).min(TREND_MAX_GROUPS);
        self.accumulated_ms += delay.delta_ms;
        self.smoothed_ms = TREND_SMOOTHING * self.smoothed_ms + (1.0 - TREND_SMOOTHING) * self.accumulated_ms;
        let x = delay.at.saturating_duration_since(first).as_secs_f64() * 1000.0;
        self.points.push_back((x, self.smoothed_ms));
        if self.points.len() > TREND_WINDOW {
            self.points.pop_front();
        }
        if self.points.len() < TREND_WINDOW {
            return None;
        }
        let n = self.points.len() as f64;
        let mean_x = self.points.iter().map(|(x, _)| x).sum::<f64>() / n;
        let mean_y = self.points.iter().map(|(_, y)| y).sum::<f64>() / n;
        let (mut covariance, mut variance) = (0.0, 0.0);
        for (x, y) in &self.points {
            covariance += (x - mean_x) * (y - mean_y);
            variance += (x - mean_x) * (x - mean_x);
        }
        if variance == 0.0 {
            return None;
        }
        Some(covariance / variance * f64::from(self.groups) * TREND_GAIN)
    }
}

/// A subscriber link's estimator, built from the crate's GCC parts (arrival
/// groups, overuse detector with its adaptive threshold, AIMD rate control,
/// loss control) around a trendline delay filter in place of its Kalman one
/// (see `Trendline`) and a received rate measured by when packets were sent. Each figure goes to a shared
/// `LinkEstimate`. An AIMD target climbs 8% a second whatever is actually
/// sent, and from far above a narrowing link its loss half took seconds of
/// heavy loss to come down; so a link that queues long (`SATURATED_QUEUE`:
/// overuse, whatever the trend says) or loses much (`SATURATED_LOSS`) is
/// reported to carry what arrives, at once.
pub struct LinkEstimator {
    groups: ArrivalGroupAccumulator,
    trend: Trendline,
    detector: OveruseDetector,
    delay_control: RateController,
    loss_control: LossController,
    target: f64,
    cell: Arc<LinkEstimate>,
    /// Bytes acknowledged as received, by when they arrived (receiver's clock).
    acked: VecDeque<(Duration, usize)>,
    queue: QueueDelay,
    /// What the link delivered when it was last full, and when.
    ceiling: Option<(f64, Instant)>,
}

impl LinkEstimator {
    pub fn new(cell: Arc<LinkEstimate>) -> Self {
        Self {
            groups: ArrivalGroupAccumulator::default(),
            trend: Trendline::default(),
            detector: OveruseDetector::new(),
            delay_control: RateController::new(INITIAL_BPS, MIN_BPS, MAX_BPS),
            loss_control: LossController::new(INITIAL_BPS, MIN_BPS, MAX_BPS),
            target: INITIAL_BPS,
            cell,
            acked: VecDeque::new(),
            queue: QueueDelay::default(),
            ceiling: None,
        }
    }

    /// What reaches the subscriber, by when it arrived on its clock over the
    /// last `ACKED_WINDOW` of arrivals: on a full link that is the link's
    /// rate (by when packets were sent, a queue filling up would read as
    /// capacity), and late feedback does not read as a burst.
    fn acked_bps(&mut self, reports: &[PacketReport]) -> f64 {
        for report in reports.iter().filter(|report| report.arrived) {
            if let Some(arrival) = report.arrival {
                self.acked.push_back((arrival, report.size + BELOW_RTP));
            }
        }
        let Some(newest) = self.acked.iter().map(|(arrived, _)| *arrived).max() else { return 0.0 };
        while self.acked.front().is_some_and(|(arrived, _)| newest.saturating_sub(*arrived) > ACKED_WINDOW) {
            self.acked.pop_front();
        }
        let total: usize = self.acked.iter().map(|(_, bytes)| bytes).sum();
        total as f64 * 8.0 / ACKED_WINDOW.as_secs_f64()
    }

    /// Where the estimate climbs back from. What a full link delivers is
    /// its rate (counted by arrival; once streams pause and its queue
    /// drains, less arrives, which says nothing of the link). Loss alone
    /// with no queue is a lossy line, not a full one: after video paused on
    /// a 256 kbit/s line, its sound alone set the ceiling at 110 kbit/s, and
    /// video took 28 s to come back once the line was wide again. A link
    /// that carries more than it did when last full, with no queue (a
    /// probe's padding, or the line widened), climbs from there.
    fn move_ceiling(&mut self, now: Instant, acked: f64, saturated_queue: bool, congested: bool) {
        if saturated_queue {
            self.ceiling = Some((acked.max(MIN_BPS), now));
        } else if !congested
            && let Some((ceiling, since)) = self.ceiling
            && acked > ceiling * CEILING_GROWTH.powf(now.saturating_duration_since(since).as_secs_f64())
        {
            self.ceiling = Some((acked, now));
        }
    }

    /// The loss-based half's figure. The loss controller (GCC's: climbs
    /// under 2% lost, holds to 10%) sees only loss beyond what a lossy line
    /// loses anyway: on a line losing 2%, which RED, FEC and resends repair,
    /// it held whatever it had fallen to during congestion, and video did
    /// not come back. And loss never takes the estimate below what the link
    /// is seen to deliver (less the delay half's backoff): at the onset of a
    /// narrower line its queue overflowed, the loss the receiver reports
    /// (once a second, smoothed) stayed high for seconds after, and the loss
    /// half, cutting all the while, left a 512 kbit/s line estimated at
    /// 100 kbit/s with the first video paused.
    fn loss_based(
        &mut self,
        now: Instant,
        reports: &[PacketReport],
        receiver_loss: Option<f64>,
        delivered: Option<f64>,
    ) -> f64 {
        let lost_share = match receiver_loss {
            Some(loss) => loss,
            None => reports.iter().filter(|report| !report.arrived).count() as f64 / reports.len() as f64,
        };
        let lost = ((lost_share - TOLERATED_LOSS).max(0.0) * reports.len() as f64).round() as usize;
        let target = self.loss_control.update(now, lost.min(reports.len()), reports.len());
        match delivered {
            Some(delivered) => target.max(delivered * LOSS_FLOOR_OF_DELIVERED),
            None => target,
        }
    }

    /// The delay-based half's target.
    pub fn delay_based_bitrate(&self) -> f64 {
        self.delay_control.target()
    }
}

impl BandwidthEstimator for LinkEstimator {
    fn on_reports(&mut self, now: Instant, reports: &[PacketReport]) {
        if reports.is_empty() {
            return;
        }
        // What arrives, by arrival: the crate's own window (half a second,
        // by when feedback came) swung with every late batch of feedback.
        let acked = self.acked_bps(reports);
        // Loss as the subscriber reports it (RTCP receiver reports): the
        // packets transport-wide feedback left unacknowledged read 10-25%
        // lost on a link where the browser itself counted under 2%.
        let receiver_loss = self.cell.receiver_loss(now);
        let Queued { standing: queued, latest } = self.queue.update(now, reports);
        let standing_queue = queued.is_some_and(|queued| queued > CONGESTED_QUEUE);
        // A probe stops at the first queue it builds: the link carries no
        // more than it has, and the videos going must not stall for it.
        let probe_failed = self.cell.probe_bps() > 0.0 && latest.is_some_and(|latest| latest > PROBE_QUEUE);
        if probe_failed {
            tracing::debug!(?latest, "probe stopped at a queue");
            self.cell.request_probe(0.0);
        }
        let saturated_queue = queued.is_some_and(|queued| queued > SATURATED_QUEUE);
        let saturated = receiver_loss.is_some_and(|loss| loss > SATURATED_LOSS) || saturated_queue;
        let congested = saturated || standing_queue || probe_failed;
        if saturated_queue || standing_queue || probe_failed {
            self.cell.record_queueing(now);
        }
        tracing::trace!(?queued, ?latest, ?receiver_loss, acked_kbps = acked / 1000.0, congested, "link feedback");
        self.move_ceiling(now, acked, saturated_queue, congested);
        self.cell.record_delivered(acked, now);
        let delivered = acked;

        let mut usage = self.detector.usage();
        for report in reports {
            if let Some(delay) = self.groups.accumulate(report)
                && let Some(trend) = self.trend.update(&delay)
            {
                usage = self.detector.update(delay.at, trend);
            }
        }
        if saturated_queue {
            // A queue this long is overuse whatever its trend: back off from
            // what the link delivers, and climb again carefully from there.
            usage = Usage::Over;
        } else if usage == Usage::Over && !standing_queue {
            // A rising trend with no queue standing behind it: a keyframe's
            // burst, or a receiver short of CPU stamping arrivals late.
            // Backing off from what arrives then (little, after a pause)
            // would throw away the link; hold instead.
            usage = Usage::Under;
        }
        let received = (self.acked.len() > 1).then_some(delivered);
        let delay_target = self.delay_control.update(now, usage, received);
        let loss_target = self.loss_based(now, reports, receiver_loss, received);
        self.target = delay_target.min(loss_target).clamp(MIN_BPS, MAX_BPS);
        // Since the link last congested, the estimate climbs back from what
        // it delivered then at `CEILING_GROWTH` a second, not at the AIMD's
        // pace (which left a 512 kbit/s link estimated at 800).
        if let Some((ceiling, since)) = self.ceiling {
            let grown = ceiling * CEILING_GROWTH.powf(now.saturating_duration_since(since).as_secs_f64());
            self.target = self.target.min(grown.max(MIN_BPS));
        }
        let loss = receiver_loss.or(self.loss_control.average_loss());
        let mut figure = self.target;
        if saturated {
            // Losing this much, or queueing this long, the link carries what
            // it delivers and no more.
            tracing::trace!(
                ?loss,
                ?queued,
                delivered_kbps = delivered / 1000.0,
                target_kbps = self.target / 1000.0,
                "link saturated"
            );
            figure = figure.min(delivered);
        }
        self.cell.record_feedback(figure.max(MIN_BPS), loss, congested, now);
    }

    fn target_bitrate(&self) -> f64 {
        self.target
    }

    fn stats(&self) -> EstimatorStats {
        let mut stats = EstimatorStats::default();
        stats.delay_based_bitrate = Some(self.delay_control.target());
        stats.loss_based_bitrate = Some(self.loss_control.target());
        stats.packet_loss = self.loss_control.average_loss();
        stats
    }
}

/// Stands in the pacer's slot of a subscribe connection and passes every
/// packet straight through. Forwarded media is already paced by its
/// publishers, and the crate's pacer (one queue per connection, at the
/// estimate) would hold audio behind video. (The crate's no-op interceptor
/// will not do here: it ends inbound RTCP, NACKs and keyframe requests too.)
#[derive(Default)]
pub struct Unpaced {
    inbound: VecDeque<TaggedPacket>,
    outbound: VecDeque<TaggedPacket>,
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for Unpaced {
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

    fn handle_write(&mut self, message: TaggedPacket) -> Result<(), Self::Error> {
        self.outbound.push_back(message);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<Self::Wout> {
        self.outbound.pop_front()
    }
}

impl Interceptor for Unpaced {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feedback_wins_while_fresh_then_remb_then_nothing() {
        let estimate = LinkEstimate::default();
        let start = Instant::now();
        assert_eq!(estimate.current(start), None, "nothing is known before any feedback");
        estimate.record_remb(400_000.0, start);
        estimate.record_feedback(700_000.0, Some(0.01), false, start);
        let now = estimate.current(start + Duration::from_secs(1)).expect("fresh");
        assert_eq!((now.bits_per_second, now.source), (700_000.0, EstimateSource::TransportFeedback));
        let later = estimate.current(start + Duration::from_secs(3)).expect("remb still fresh");
        assert_eq!((later.bits_per_second, later.source), (400_000.0, EstimateSource::Remb));
        assert_eq!(estimate.current(start + Duration::from_secs(6)), None);
    }

    #[test]
    fn a_remb_of_nothing_is_ignored() {
        let estimate = LinkEstimate::default();
        let now = Instant::now();
        estimate.record_remb(0.0, now);
        estimate.record_remb(f64::NAN, now);
        assert_eq!(estimate.current(now), None);
    }

    #[test]
    fn what_was_delivered_counts_once_the_link_can_be_probed() {
        let estimate = LinkEstimate::default();
        let now = Instant::now();
        estimate.record_feedback(700_000.0, None, false, now);
        estimate.record_delivered(300_000.0, now);
        assert_eq!(estimate.current(now).expect("fresh").delivered, None, "nothing to probe with yet");
        estimate.mark_probe_source();
        assert_eq!(estimate.current(now).expect("fresh").delivered, Some(300_000.0));
        let stale = estimate.current(now + Duration::from_secs(3));
        assert_eq!(stale.map(|e| e.delivered), None, "stale with the feedback");
    }
}
