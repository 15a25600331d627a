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
use std::time::{Duration, Instant};

use rtc::interceptor::{
    ArrivalGroupAccumulator, BandwidthEstimator, EstimatorStats, InterGroupDelay, Interceptor, LossController,
    OveruseDetector, PacketReport, RateCalculator, RateController, StreamInfo, TaggedPacket,
};
use rtc::sansio::Protocol;

/// Where the estimate starts before any feedback: high enough that on a
/// good link nothing waits for the estimate to climb, and feedback on a
/// weak one brings it down within a second or two.
pub const INITIAL_BPS: f64 = 1_500_000.0;
/// The estimator's floor and ceiling.
pub const MIN_BPS: f64 = 100_000.0;
pub const MAX_BPS: f64 = 20_000_000.0;
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
}

#[derive(Debug, Default)]
struct Figures {
    feedback: Option<(f64, Option<f64>, Instant)>,
    remb: Option<(f64, Instant)>,
}

/// One subscribe connection's estimate, shared between its interceptor
/// chain (which writes) and the allocator (which reads). A std Mutex: held
/// only to copy a few numbers, never across an await.
#[derive(Debug, Default)]
pub struct LinkEstimate {
    figures: std::sync::Mutex<Figures>,
}

impl LinkEstimate {
    fn figures(&self) -> std::sync::MutexGuard<'_, Figures> {
        self.figures.lock().expect("link estimate poisoned")
    }

    /// A figure from transport-wide feedback.
    pub fn record_feedback(&self, bits_per_second: f64, loss: Option<f64>, at: Instant) {
        self.figures().feedback = Some((bits_per_second, loss, at));
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
            return Some(Estimate { bits_per_second, loss, source: EstimateSource::TransportFeedback });
        }
        figures.remb.filter(|&(_, at)| fresh(at, REMB_FRESH)).map(|(bits_per_second, _)| Estimate {
            bits_per_second,
            loss: None,
            source: EstimateSource::Remb,
        })
    }
}

/// The estimate reported is at most this many times what the subscriber
/// acknowledged receiving over the last `ACKED_WINDOW`...
pub const ACKED_MULTIPLE: f64 = 1.5;
/// ...plus this much: enough for one paused video to be tried again (the
/// allocator's only probe), not so much that a thin link is told it is wide.
pub const PROBE_ALLOWANCE_BPS: f64 = 300_000.0;
const ACKED_WINDOW: Duration = Duration::from_secs(1);
/// Above this smoothed loss the link is taken to be full (GCC's own
/// threshold for cutting its rate).
pub const SATURATED_LOSS: f64 = 0.10;

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
/// loss control, received-rate window) around a trendline delay filter in
/// place of its Kalman one (see `Trendline`). Each figure goes to a shared
/// `LinkEstimate`, held within reach of what the subscriber acknowledged
/// receiving: an AIMD target climbs 8% a second whatever is actually sent,
/// and from far above the link takes seconds of loss to come down.
pub struct LinkEstimator {
    groups: ArrivalGroupAccumulator,
    trend: Trendline,
    detector: OveruseDetector,
    rate: RateCalculator,
    delay_control: RateController,
    loss_control: LossController,
    target: f64,
    cell: Arc<LinkEstimate>,
    /// Bytes acknowledged as received, by the feedback that said so.
    acked: VecDeque<(Instant, usize)>,
}

impl LinkEstimator {
    pub fn new(cell: Arc<LinkEstimate>) -> Self {
        Self {
            groups: ArrivalGroupAccumulator::default(),
            trend: Trendline::default(),
            detector: OveruseDetector::new(),
            rate: RateCalculator::default(),
            delay_control: RateController::new(INITIAL_BPS, MIN_BPS, MAX_BPS),
            loss_control: LossController::new(INITIAL_BPS, MIN_BPS, MAX_BPS),
            target: INITIAL_BPS,
            cell,
            acked: VecDeque::new(),
        }
    }

    fn acked_bps(&mut self, now: Instant, reports: &[PacketReport]) -> f64 {
        let bytes: usize = reports.iter().filter(|report| report.arrived).map(|report| report.size).sum();
        self.acked.push_back((now, bytes));
        while self.acked.front().is_some_and(|(at, _)| now.saturating_duration_since(*at) > ACKED_WINDOW) {
            self.acked.pop_front();
        }
        let total: usize = self.acked.iter().map(|(_, bytes)| bytes).sum();
        total as f64 * 8.0 / ACKED_WINDOW.as_secs_f64()
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
        let mut usage = self.detector.usage();
        for report in reports {
            if report.arrived {
                self.rate.add(now, report.size);
            }
            if let Some(delay) = self.groups.accumulate(report)
                && let Some(trend) = self.trend.update(&delay)
            {
                usage = self.detector.update(delay.at, trend);
            }
        }
        let received = self.rate.rate_bits_per_second(now);
        let delay_target = self.delay_control.update(now, usage, received);
        let lost = reports.iter().filter(|report| !report.arrived).count();
        let loss_target = self.loss_control.update(now, lost, reports.len());
        self.target = delay_target.min(loss_target).clamp(MIN_BPS, MAX_BPS);

        let acked = self.acked_bps(now, reports);
        let loss = self.loss_control.average_loss();
        let mut figure = self.target.min(acked * ACKED_MULTIPLE + PROBE_ALLOWANCE_BPS);
        if loss.is_some_and(|loss| loss > SATURATED_LOSS) {
            // Losing this much, the link carries what arrives and no more.
            figure = figure.min(acked);
        }
        self.cell.record_feedback(figure.max(MIN_BPS), loss, now);
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
        estimate.record_feedback(700_000.0, Some(0.01), start);
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
}
