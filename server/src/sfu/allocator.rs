//! Which videos one subscriber's link carries. Plain code over numbers (no
//! tokio, no clock of its own: every instant is a parameter), so recorded
//! feedback can be replayed through it in tests.
//!
//! Audio always goes: it is counted first, with headroom kept for it (the
//! connection has one send queue, so audio cannot jump a queue of video).
//! Resends are counted against the same budget. Then videos, highest
//! priority first, each counted at what it sends but no more than the floor
//! its publisher may be asked to come down to (all it sends when its
//! publisher does not follow what it is asked). A video that has
//! not fitted for `PAUSE_AFTER` pauses for this subscriber only (the lowest
//! priority one first, one at a time). A paused video comes back when the
//! budget carries it and the others with a margin for `hold`, a hold that
//! doubles each time a video relapses soon after coming back.
//!
//! Each forwarded video gets an equal share of what is left after audio and
//! resends: the room asks each publisher for no more than the smallest
//! share any of its receivers has (`sfu::links`).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use signaling_proto::MediaKind;
use uuid::Uuid;

/// Of the estimate, this much is planned for; the rest absorbs keyframes,
/// estimate error and the signaling that shares the link.
pub const HEADROOM: f64 = 0.85;
/// The least a publisher is asked to send its video at. A receiver that
/// cannot take this much pauses the video instead.
pub const VIDEO_FLOOR_BPS: f64 = 150_000.0;
/// The most a publisher is asked for (640x480 at 20-30 fps looks good here).
pub const VIDEO_CEILING_BPS: f64 = 1_500_000.0;
/// What an audio stream is counted as at least, until it is measured (Opus
/// at about 30 kbit/s with its packet headers).
pub const AUDIO_ALLOWANCE_BPS: f64 = 40_000.0;
/// Below this share a forwarded video looks poor: the link is "fair".
pub const COMFORTABLE_VIDEO_BPS: f64 = 300_000.0;
/// How long a video may not fit before it pauses: long enough for its
/// publisher to come down to a new target.
pub const PAUSE_AFTER: Duration = Duration::from_secs(2);
/// A paused video comes back when the budget carries it and the videos
/// already going this much over.
pub const RESUME_MARGIN: f64 = 1.3;
/// How long the budget must carry a paused video before it comes back.
pub const RESUME_HOLD: Duration = Duration::from_secs(2);
/// The hold doubles up to this after relapses.
pub const RESUME_HOLD_MAX: Duration = Duration::from_secs(6);
/// A video that came back this recently and does not fit pauses after
/// `RELAPSE_PAUSE_AFTER` instead of `PAUSE_AFTER`.
pub const RELAPSE_PAUSE_AFTER: Duration = Duration::from_millis(500);
/// A link that delivers less than this share of what goes to it is
/// overfull beyond doubt (a receiver short of CPU stamps arrivals late, but
/// still acknowledges what arrives): its videos may pause while the
/// connection starts, and when none of them fits, after
/// `RELAPSE_PAUSE_AFTER` rather than `PAUSE_AFTER`.
pub const OVERFULL_SHARE: f64 = 0.75;
/// A publisher is asked for at most this many times what it sends now.
pub const RAMP: f64 = 1.25;
/// For this long after the first estimate nothing is paused: a connection's
/// media is still climbing to its rate, and so is the estimate.
pub const STARTUP: Duration = Duration::from_secs(4);
/// The allocator plans on the lower quartile of the estimates of this window.
pub const ESTIMATE_WINDOW: Duration = Duration::from_secs(5);
/// A publisher sending more than this many times its share...
pub const OVER_SHARE: f64 = 1.5;
/// ...for this long does not follow targets: its video is counted at what
/// it sends.
pub const DEAF_AFTER: Duration = Duration::from_secs(3);
/// A video this recently back is a probe of the link: judged on the
/// estimate alone, and paused after `RELAPSE_PAUSE_AFTER`.
pub const PROBE_WINDOW: Duration = Duration::from_secs(4);
/// After a video pauses, the queue it built drains and the estimate
/// recovers from the dip the full queue caused: for this long no other
/// video pauses, and the estimates read meanwhile are not planned on (a
/// failed probe of one video, or the first seconds of a narrower line, took
/// the mediator's video down with it).
pub const PAUSE_RECOVERY: Duration = Duration::from_secs(3);
/// A paused video whose publisher sends more than this many times the floor
/// does not come back at once: its publisher is first asked for the floor,
/// so that the video returns at what the link was judged to carry, not at
/// the rate other receivers take (on a 256 kbit/s line, a video coming back
/// at 1 Mbit/s filled it for the second its publisher took to follow)...
pub const RESUME_RATE: f64 = 1.3;
/// ...waiting at most this long (a publisher that does not follow comes
/// back anyway, and is then judged as one that does not follow). It is
/// asked this long before the hold ends, so the two overlap.
pub const RESUME_WAIT: Duration = Duration::from_secs(3);
/// A pause this soon after a resume is a relapse (the next hold doubles).
pub const RELAPSE_WINDOW: Duration = Duration::from_secs(20);
/// A paused video comes back only once the link has shown, this recently
/// and with no queue, that it delivers...
pub const CARRIED_MEMORY: Duration = Duration::from_secs(3);
/// ...this share of what would be sent with it back. An estimate climbing
/// with nothing on the link to test it is a guess: on a 512 kbit/s line it
/// let the second video back, and the first stalled each time. The link is
/// shown to carry more by probing it with padding (`Allocation::probe_bps`).
pub const CARRIED_SHARE: f64 = 0.9;
/// After a probe that found the link full, the next waits this long,
/// doubling up to `PROBE_BACKOFF_MAX`...
pub const PROBE_BACKOFF: Duration = Duration::from_secs(2);
/// ...(a failed probe costs a queue of about 100 ms for a moment, so a line
/// that stays narrow is probed every few seconds, and one that widens is
/// found within this and the few seconds a probe and a hold take).
pub const PROBE_BACKOFF_MAX: Duration = Duration::from_secs(6);
/// A probe asks for this much more than the link must be seen to carry.
pub const PROBE_OVER: f64 = 1.1;
/// A probe that has not brought a video back in this long stops (and backs off).
pub const PROBE_LONGEST: Duration = Duration::from_secs(12);

/// What is known of a subscriber's link this round.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Link {
    /// The estimate of what it carries.
    pub bits_per_second: f64,
    /// The share of packets it loses, when known.
    pub loss: Option<f64>,
    /// Whether it showed congestion lately: only then does video pause.
    pub congested: bool,
    /// Whether that congestion showed as a queue: only then is probing
    /// held back (loss as receivers report it lags the line by seconds).
    pub queueing: bool,
    /// What the subscriber acknowledged receiving lately, when known
    /// (transport-wide feedback): what the link has shown it carries.
    pub delivered: Option<f64>,
}

/// One stream the room's rules let flow to this subscriber.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Offered {
    pub from: Uuid,
    pub kind: MediaKind,
    /// Higher goes first (the mediator's video before others').
    pub priority: u8,
    /// What its publisher sends now (headers included).
    pub bits_per_second: f64,
}

/// How the link is doing, as people are told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Quality {
    /// Every video goes, each with room to look good.
    Good,
    /// Every video goes, but squeezed, or packets are being lost.
    Fair,
    /// Some video is paused for this link.
    Poor,
}

/// One allocation round's outcome for one subscriber.
#[derive(Debug, Clone, PartialEq)]
pub struct Allocation {
    /// Videos paused for this subscriber's link, by publisher.
    pub paused: Vec<Uuid>,
    /// Forwarded videos (and paused ones about to come back, at the floor)
    /// and the most this link can give each (none when the link's capacity
    /// is not known: no limit from this subscriber).
    pub shares: Vec<(Uuid, Option<f64>)>,
    pub quality: Quality,
    /// Padding to send on this link, in bits per second, to show whether
    /// it carries a paused video (0: none).
    pub probe_bps: f64,
}

#[derive(Debug, Clone)]
struct VideoState {
    paused: bool,
    /// Since when a forwarded video has not fitted.
    short_since: Option<Instant>,
    /// Since when a paused video has fitted with the margin.
    fits_since: Option<Instant>,
    resumed_at: Option<Instant>,
    hold: Duration,
    last_offered: Instant,
    /// The share given last round, and since when the publisher has sent
    /// well over it (a client that does not follow targets).
    share: Option<f64>,
    over_share_since: Option<Instant>,
    /// Since when a paused video that fits waits for its publisher to come
    /// down to the floor (`RESUME_RATE`).
    coming_back_since: Option<Instant>,
}

impl VideoState {
    fn new(now: Instant) -> Self {
        Self {
            paused: false,
            short_since: None,
            fits_since: None,
            resumed_at: None,
            hold: RESUME_HOLD,
            last_offered: now,
            share: None,
            over_share_since: None,
            coming_back_since: None,
        }
    }

    /// Whether it came back so recently that it is a probe of the link.
    fn probing(&self, now: Instant) -> bool {
        self.resumed_at.is_some_and(|at| now.saturating_duration_since(at) < PROBE_WINDOW)
    }

    /// What a video is counted as: what it sends, but no more than the
    /// floor, since its publisher is asked to come down to what it is given
    /// (all it sends when its publisher has not followed its share for
    /// `DEAF_AFTER`); the floor when it sends nothing yet (a paused or
    /// switched-off camera that would come back).
    fn cost(&self, video: &Offered, now: Instant) -> f64 {
        let deaf = self.over_share_since.is_some_and(|since| now.saturating_duration_since(since) >= DEAF_AFTER);
        if deaf {
            video.bits_per_second.max(VIDEO_FLOOR_BPS)
        } else if video.bits_per_second > 0.0 {
            video.bits_per_second.min(VIDEO_FLOOR_BPS)
        } else {
            VIDEO_FLOOR_BPS
        }
    }
}

/// A video not offered for this long is forgotten (its pause with it).
const FORGET_AFTER: Duration = Duration::from_secs(60);

/// One subscriber's allocator: remembers which videos it paused and when.
#[derive(Debug, Default)]
pub struct Allocator {
    videos: HashMap<Uuid, VideoState>,
    /// Recent estimates: the allocator plans on their lowest.
    estimates: VecDeque<(Instant, f64)>,
    first_estimate: Option<Instant>,
    /// When a video last paused (`PAUSE_RECOVERY`).
    paused_at: Option<Instant>,
    /// What the link delivered in recent rounds without a queue.
    delivered: VecDeque<(Instant, f64)>,
    probe: Probe,
}

/// The probing of one subscriber's link.
#[derive(Debug, Default)]
struct Probe {
    /// Since when padding has been asked for.
    since: Option<Instant>,
    /// No probe before this (after one failed).
    not_before: Option<Instant>,
    backoff: Option<Duration>,
}

impl Probe {
    /// A probe ended without bringing video back: the next waits longer.
    fn failed(&mut self, now: Instant) {
        let backoff = self.backoff.map_or(PROBE_BACKOFF, |backoff| (backoff * 2).min(PROBE_BACKOFF_MAX));
        self.backoff = Some(backoff);
        self.not_before = Some(now + backoff);
        self.since = None;
    }

    /// Whether a probe may run now, and for how long it has.
    fn may_run(&mut self, now: Instant) -> bool {
        if self.since.is_some_and(|since| now.saturating_duration_since(since) >= PROBE_LONGEST) {
            self.failed(now);
        }
        self.not_before.is_none_or(|at| now >= at)
    }
}

impl Allocator {
    /// Allocates the link for one round. `estimate` is the link's capacity
    /// in bits per second when known, `loss` the share of packets it loses,
    /// `resend_bps` what resends to this subscriber take now.
    pub fn allocate(&mut self, now: Instant, link: Option<Link>, resend_bps: f64, offered: &[Offered]) -> Allocation {
        let loss = link.and_then(|link| link.loss);
        let congested = link.is_some_and(|link| link.congested);
        let mut videos: Vec<&Offered> = offered.iter().filter(|o| o.kind == MediaKind::Video).collect();
        videos.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.from.cmp(&b.from)));
        self.note_offered(now, &videos);
        let Some(estimate) = self.planned_estimate(now, link.map(|link| link.bits_per_second)) else {
            // Nothing new is known: keep what was decided, pause nothing more.
            let paused: Vec<Uuid> = videos.iter().map(|v| v.from).filter(|from| self.videos[from].paused).collect();
            let shares = videos.iter().filter(|v| !self.videos[&v.from].paused).map(|v| (v.from, None)).collect();
            let quality = if paused.is_empty() { Quality::Good } else { Quality::Poor };
            self.probe.since = None;
            return Allocation { paused, shares, quality, probe_bps: 0.0 };
        };
        let starting = self.first_estimate.is_none_or(|first| now.saturating_duration_since(first) < STARTUP);
        let audio: f64 = offered
            .iter()
            .filter(|o| o.kind == MediaKind::Audio)
            .map(|o| o.bits_per_second.max(AUDIO_ALLOWANCE_BPS))
            .sum();
        let budget = estimate * HEADROOM - audio - resend_bps;
        // A video pauses only when neither the estimate nor what the link
        // is seen to deliver carries it: at the onset of a narrower line the
        // estimate dips under what the line delivers for seconds (loss
        // reported late, feedback lost on a full uplink), and the first
        // video paused with the second on a 512 kbit/s line.
        let delivered = link.and_then(|link| link.delivered);
        let pause_budget = delivered.map_or(budget, |delivered| budget.max(delivered * HEADROOM - audio - resend_bps));
        let overfull = delivered.is_some_and(|d| d < self.sending(&videos, audio + resend_bps) * OVERFULL_SHARE);
        let link_state = LinkState { congested, starting, overfull };
        let (mut used, short) = self.pause_what_does_not_fit(now, &videos, pause_budget, link_state);
        let carried = self.carried(now, link);
        let sending = self.sending(&videos, audio + resend_bps);
        let mut wanted = None;
        if short.is_empty() {
            let link = Carrying { budget, fixed: audio + resend_bps, sending, carried };
            wanted = self.resume_what_fits(now, &videos, link, &mut used);
        } else {
            self.videos.values_mut().for_each(|state| {
                state.fits_since = None;
                state.coming_back_since = None;
            });
        }
        let queueing = link.is_some_and(|link| link.queueing);
        let probe_bps = self.probe_for(now, wanted, sending, queueing || starting || self.recovering(now));
        Allocation { probe_bps, ..self.share_out(&videos, budget, loss) }
    }

    /// What goes to the subscriber: `fixed` (audio and resends) and the
    /// videos not paused.
    fn sending(&self, videos: &[&Offered], fixed: f64) -> f64 {
        fixed + videos.iter().filter(|v| !self.videos[&v.from].paused).map(|v| v.bits_per_second).sum::<f64>()
    }

    /// The most the link delivered without a queue in the last
    /// `CARRIED_MEMORY` (unbounded when it is not known: a client that
    /// sends only REMB is not probed, and its videos come back on the
    /// estimate alone).
    fn carried(&mut self, now: Instant, link: Option<Link>) -> f64 {
        let Some(link) = link else { return f64::INFINITY };
        let Some(delivered) = link.delivered else { return f64::INFINITY };
        if !link.queueing {
            self.delivered.push_back((now, delivered));
        }
        while self.delivered.front().is_some_and(|(at, _)| now.saturating_duration_since(*at) > CARRIED_MEMORY) {
            self.delivered.pop_front();
        }
        self.delivered.iter().map(|(_, delivered)| *delivered).fold(0.0, f64::max)
    }

    /// The padding to ask for: enough to bring what is sent up to `wanted`
    /// (what the link must carry for a paused video to come back), unless
    /// the link shows a queue, is starting or recovering, or a probe failed
    /// lately. A probe that ends in a queue failed (the estimator stops the
    /// padding itself at the first one, `estimate::PROBE_QUEUE`).
    fn probe_for(&mut self, now: Instant, wanted: Option<f64>, sending: f64, unsettled: bool) -> f64 {
        if unsettled {
            if self.probe.since.is_some() {
                self.probe.failed(now);
            }
            return 0.0;
        }
        let Some(wanted) = wanted.filter(|_| self.probe.may_run(now)) else {
            if wanted.is_none() {
                // Nothing waits to come back (or it came back): probing went well.
                self.probe.since = None;
                self.probe.backoff = None;
            }
            return 0.0;
        };
        self.probe.since.get_or_insert(now);
        (wanted - sending).max(0.0)
    }

    /// Remembers which videos are offered, and which publishers send well
    /// over the share they were given.
    fn note_offered(&mut self, now: Instant, videos: &[&Offered]) {
        self.videos.retain(|_, state| now.saturating_duration_since(state.last_offered) < FORGET_AFTER);
        for video in videos {
            let state = self.videos.entry(video.from).or_insert_with(|| VideoState::new(now));
            state.last_offered = now;
            let over = state.share.is_some_and(|share| video.bits_per_second > share * OVER_SHARE);
            if !over || state.paused {
                state.over_share_since = None;
            } else {
                state.over_share_since.get_or_insert(now);
            }
        }
    }

    /// Whether a video paused so recently that the link is still recovering.
    fn recovering(&self, now: Instant) -> bool {
        self.paused_at.is_some_and(|at| now.saturating_duration_since(at) < PAUSE_RECOVERY)
    }

    /// What to plan on: an estimator probing upwards overshoots and falls
    /// back in a sawtooth, so the lower quartile of the recent estimates, not
    /// their peaks, but following the estimate down at once.
    fn planned_estimate(&mut self, now: Instant, estimate: Option<f64>) -> Option<f64> {
        if let Some(estimate) = estimate {
            let first = *self.first_estimate.get_or_insert(now);
            if now.saturating_duration_since(first) < STARTUP || self.recovering(now) {
                // While the connection starts, what is sent (and so what is
                // acknowledged) is still climbing; while a link recovers
                // from a pause, its queue is still draining: only the
                // latest counts.
                self.estimates.clear();
            }
            self.estimates.push_back((now, estimate));
        }
        while self.estimates.front().is_some_and(|(at, _)| now.saturating_duration_since(*at) > ESTIMATE_WINDOW) {
            self.estimates.pop_front();
        }
        estimate.map(|current| {
            let mut recent: Vec<f64> = self.estimates.iter().map(|(_, e)| *e).collect();
            recent.sort_by(f64::total_cmp);
            recent[(recent.len() - 1) / 4].min(current)
        })
    }

    /// Which forwarded videos fit, highest priority first; pauses the
    /// lowest-priority one that has not fitted for long enough (one per
    /// round, so the others are judged on what is freed), or every one that
    /// has not when none fits at all (freeing one would free too little).
    /// A video's shortage on a congested link is counted from while the
    /// connection starts, but nothing pauses before `STARTUP` has passed.
    /// Returns what the fitting ones use and those that do not fit.
    fn pause_what_does_not_fit(
        &mut self,
        now: Instant,
        videos: &[&Offered],
        budget: f64,
        link: LinkState,
    ) -> (f64, Vec<Uuid>) {
        let LinkState { congested, starting, overfull } = link;
        let mut used = 0.0;
        let mut short = Vec::new();
        for video in videos {
            let state = &self.videos[&video.from];
            if state.paused {
                continue;
            }
            let cost = state.cost(video, now);
            if used + cost <= budget {
                used += cost;
            } else {
                short.push(video.from);
            }
        }
        let recovering = self.recovering(now);
        for video in videos {
            let state = self.videos.get_mut(&video.from).expect("state made above");
            // Nothing pauses on a link that shows no congestion, whatever
            // the estimate says: an estimate near what is sent (when the
            // room sends little) is no sign the link is full. A video that
            // just came back is the exception: the estimate falling as it
            // returns is the probe failing.
            let probing = state.probing(now);
            if state.paused || (recovering && !probing) || !(congested || probing) || !short.contains(&video.from) {
                state.short_since = None;
            } else {
                state.short_since.get_or_insert(now);
            }
        }
        if starting && !overfull {
            return (used, short);
        }
        let is_due = |from: &&Uuid| {
            let state = &self.videos[*from];
            // A video that has just come back and does not fit after all
            // goes again sooner: the probe failed. So do all on a link far
            // too full for any (no publisher coming down to the floor would
            // make one fit).
            let soon = state.probing(now) || (overfull && used == 0.0);
            let after = if soon { RELAPSE_PAUSE_AFTER } else { PAUSE_AFTER };
            state.short_since.is_some_and(|since| now - since >= after)
        };
        // On a line too thin for any video (a station joining on 256
        // kbit/s), pausing one at a time left the line overfull for seconds
        // more, and its sound broke up meanwhile.
        let due: Vec<Uuid> = if used == 0.0 {
            short.iter().filter(is_due).copied().collect()
        } else {
            short.iter().rev().find(is_due).copied().into_iter().collect()
        };
        for from in &due {
            let state = self.videos.get_mut(from).expect("state made above");
            state.paused = true;
            state.short_since = None;
            state.fits_since = None;
            let relapsed = state.resumed_at.is_some_and(|at| now.saturating_duration_since(at) < RELAPSE_WINDOW);
            state.hold = if relapsed { (state.hold * 2).min(RESUME_HOLD_MAX) } else { RESUME_HOLD };
        }
        if !due.is_empty() {
            // The others are judged again on what is freed once the link
            // has recovered (`PAUSE_RECOVERY`).
            self.paused_at = Some(now);
            for other in short.iter().filter(|other| !due.contains(other)) {
                self.videos.get_mut(other).expect("state made above").short_since = None;
            }
        }
        (used, short)
    }

    /// Paused videos come back, highest priority first, one at a time (none
    /// while another is still a probe or waiting for its publisher), when
    /// what is left carries them with the margin for their hold, and once
    /// their publisher sends no more than the floor (`RESUME_RATE`). A
    /// paused video that outranks forwarded ones (the speaker's, when
    /// someone else starts speaking) takes their place when it fits in
    /// what they use: they pause as it comes back.
    /// Returns what the link must be shown to carry for the first paused
    /// video that waits on that alone (see `probe_for`).
    fn resume_what_fits(&mut self, now: Instant, videos: &[&Offered], link: Carrying, used: &mut f64) -> Option<f64> {
        let mut resumed_one = self
            .videos
            .values()
            .any(|state| (!state.paused && state.probing(now)) || state.coming_back_since.is_some());
        // Only the next video to come back is probed for, and not while one
        // that just came back is still on trial.
        let on_trial = self.videos.values().any(|state| !state.paused && state.probing(now));
        let mut wanted = None;
        let mut next = !on_trial;
        for video in videos {
            if !self.videos[&video.from].paused {
                continue;
            }
            let cost = self.videos[&video.from].cost(video, now);
            // The margin covers every video that would go, not the new one
            // alone: on a 512 kbit/s line two videos at the floor fitted by
            // a hair, and each probe of the second stalled the first.
            // What the link has carried counts as much as the estimate: a
            // probe that went through need not wait for the estimate (and
            // the window it is planned on) to climb after it.
            let budget = match link.carried {
                carried if carried.is_finite() => link.budget.max(carried * HEADROOM - link.fixed),
                _ => link.budget,
            };
            let fits = |used: f64| (used + cost) * RESUME_MARGIN <= budget;
            let mut yielding = Vec::new();
            let mut left = *used;
            let mut after = link.sending + cost;
            // Those it outranks give way, the lowest first, until it fits.
            for lower in videos.iter().rev().filter(|v| v.priority < video.priority) {
                if fits(left) {
                    break;
                }
                let state = &self.videos[&lower.from];
                if !state.paused {
                    left -= state.cost(lower, now);
                    after -= lower.bits_per_second;
                    yielding.push(lower.from);
                }
            }
            // Taking the place of others, it sends no more than goes now,
            // which the link carries (nothing going is short): it needs no
            // probe, and is none. (Under CPU load the station's browser
            // stamps arrivals late, the link reads as queueing for seconds
            // on end and nothing is seen carried: the speaker's video came
            // back 17 s after they began to speak.)
            let swap = !yielding.is_empty() && after <= link.sending;
            let shown = swap || link.carried >= after * CARRIED_SHARE;
            let state = self.videos.get_mut(&video.from).expect("state made above");
            let probed_for = std::mem::take(&mut next) && !swap;
            if probed_for {
                // What the link must be seen to carry for it to fit, until
                // it is back (a little over, so that what arrives reaches it).
                wanted = Some(((left + cost) * RESUME_MARGIN + link.fixed) / HEADROOM * PROBE_OVER);
            }
            if !fits(left) || !shown {
                state.fits_since = None;
                state.coming_back_since = None;
                continue;
            }
            let since = *state.fits_since.get_or_insert(now);
            let waiting = state.coming_back_since.is_some();
            let held = now - since;
            // Its publisher is asked for the floor `RESUME_WAIT` before the
            // hold ends, so that it is down by then (coming down took 1-3 s
            // more after the hold on the way back from a 256 kbit/s line).
            if (waiting || !resumed_one) && held + RESUME_WAIT >= state.hold {
                let asked_since = *state.coming_back_since.get_or_insert(now);
                let down = video.bits_per_second <= VIDEO_FLOOR_BPS * RESUME_RATE;
                if held >= state.hold && (down || now - asked_since >= RESUME_WAIT) {
                    state.paused = false;
                    state.fits_since = None;
                    state.coming_back_since = None;
                    if !swap {
                        state.resumed_at = Some(now);
                    }
                    if probed_for {
                        wanted = None;
                    }
                    for from in &yielding {
                        let lower = self.videos.get_mut(from).expect("state made above");
                        lower.paused = true;
                        lower.short_since = None;
                        lower.hold = RESUME_HOLD;
                    }
                    *used = left;
                }
                *used += cost;
                resumed_one = true;
            }
        }
        wanted
    }

    /// Each forwarded video's share of what is left, and how the link is
    /// doing. A publisher is asked for at most `RAMP` times what it sends
    /// now, so a video that just came back climbs from the floor instead of
    /// jumping to a share the estimate only guessed at.
    fn share_out(&mut self, videos: &[&Offered], budget: f64, loss: Option<f64>) -> Allocation {
        let forwarded = videos.iter().filter(|v| !self.videos[&v.from].paused).count();
        let paused: Vec<Uuid> = videos.iter().map(|v| v.from).filter(|from| self.videos[from].paused).collect();
        let even = (budget / forwarded.max(1) as f64).clamp(VIDEO_FLOOR_BPS, VIDEO_CEILING_BPS);
        let mut shares = Vec::new();
        for video in videos {
            let state = self.videos.get_mut(&video.from).expect("state made above");
            state.share = None;
            if !state.paused {
                let share = even.min(video.bits_per_second.max(VIDEO_FLOOR_BPS) * RAMP);
                state.share = Some(share);
                shares.push((video.from, Some(share)));
            } else if state.coming_back_since.is_some() {
                // Still paused here, but its publisher is asked for the floor.
                shares.push((video.from, Some(VIDEO_FLOOR_BPS)));
            }
        }
        let quality = if !paused.is_empty() {
            Quality::Poor
        } else if (forwarded > 0 && even < COMFORTABLE_VIDEO_BPS) || loss.is_some_and(|l| l > 0.05) {
            Quality::Fair
        } else {
            Quality::Good
        };
        Allocation { paused, shares, quality, probe_bps: 0.0 }
    }
}

/// What `pause_what_does_not_fit` knows of the link this round.
#[derive(Debug, Clone, Copy)]
struct LinkState {
    /// It showed congestion lately.
    congested: bool,
    /// The connection is in its first `STARTUP`.
    starting: bool,
    /// It delivers far less than goes to it (`OVERFULL_SHARE`).
    overfull: bool,
}

/// What `resume_what_fits` knows of the link this round, in bits per second.
#[derive(Debug, Clone, Copy)]
struct Carrying {
    /// What is left for video.
    budget: f64,
    /// What audio and resends take.
    fixed: f64,
    /// What goes to the subscriber now.
    sending: f64,
    /// What the link has shown it carries (`Allocator::carried`).
    carried: f64,
}

#[cfg(test)]
mod tests {
    //! The allocator driven by the estimator it serves: a simulated village
    //! link (a bottleneck queue of 300 ms, like the harness's `tbf`, with
    //! random loss) carries what the allocator lets through; transport-wide
    //! feedback on each packet goes every 100 ms to the crate's GCC (through
    //! `LinkEstimator`, as in the server), and the allocator runs every 500 ms
    //! on its estimate. Two publishers (the mediator, priority 2, and an
    //! adviser, priority 1) send audio and video; their video follows the
    //! share they are given a second later, as a browser does.
    use std::sync::Arc;

    use rtc::interceptor::{BandwidthEstimator, PacketReport};
    use rtc::rtcp::transport_feedbacks::cc_feedback_report::Ecn;

    use super::*;
    use crate::sfu::estimate::{LinkEstimate, LinkEstimator};

    const MEDIATOR: Uuid = Uuid::from_u128(1);
    const ADVISER: Uuid = Uuid::from_u128(2);
    /// The key probe padding's fractions of a packet are carried under.
    const PADDING: Uuid = Uuid::from_u128(3);
    /// What a camera sends when nobody asks for less.
    const NATURAL_VIDEO_BPS: f64 = 700_000.0;
    const AUDIO_PACKET: usize = 160;
    const TICK: Duration = Duration::from_millis(20);

    /// A bottleneck: a queue served at `capacity`, dropping what would wait
    /// longer than its limit, then random loss on the wire.
    struct Bottleneck {
        capacity_bps: f64,
        loss: f64,
        /// When the queue is next empty, in seconds from the start.
        free_at: f64,
        seed: u64,
    }

    impl Bottleneck {
        fn carry(&mut self, at: f64, size: usize) -> Option<f64> {
            let start = self.free_at.max(at);
            if start - at > 0.3 {
                return None;
            }
            self.free_at = start + size as f64 * 8.0 / self.capacity_bps;
            self.seed = self.seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let draw = (self.seed >> 33) as f64 / (1u64 << 31) as f64;
            (draw >= self.loss).then_some(self.free_at + 0.01)
        }
    }

    struct Sent {
        report: PacketReport,
        arrival: Option<f64>,
        audio: bool,
    }

    /// The whole loop: link, feedback, estimator, allocator, publishers.
    struct Room {
        epoch: Instant,
        link: Bottleneck,
        estimator: LinkEstimator,
        cell: Arc<LinkEstimate>,
        allocator: Allocator,
        in_flight: Vec<Sent>,
        next_id: u64,
        /// Each video's sending rate, and the share it will take next.
        video_rate: HashMap<Uuid, f64>,
        asked: HashMap<Uuid, VecDeque<(f64, f64)>>,
        last: Allocation,
        audio_sent: u64,
        audio_lost: u64,
        /// Seconds since the start.
        clock: f64,
        /// Fractions of a video packet carried to the next tick.
        carries: HashMap<Uuid, f64>,
        /// Bytes of probe padding sent so far.
        padding_sent: f64,
        /// The share of feedback batches lost on the way back (a full uplink).
        feedback_loss: f64,
        feedback_seed: u64,
        /// Packets sent and lost since the last receiver report.
        since_report: (u64, u64),
    }

    impl Room {
        fn new(capacity_bps: f64) -> Self {
            let cell = Arc::new(LinkEstimate::default());
            // Video with RTX goes, so the link can be probed with padding.
            cell.mark_probe_source();
            Self {
                epoch: Instant::now(),
                link: Bottleneck { capacity_bps, loss: 0.0, free_at: 0.0, seed: 7 },
                estimator: LinkEstimator::new(cell.clone()),
                cell,
                allocator: Allocator::default(),
                in_flight: Vec::new(),
                next_id: 0,
                video_rate: HashMap::from([(MEDIATOR, NATURAL_VIDEO_BPS), (ADVISER, NATURAL_VIDEO_BPS)]),
                asked: HashMap::new(),
                last: Allocation { paused: Vec::new(), shares: Vec::new(), quality: Quality::Good, probe_bps: 0.0 },
                audio_sent: 0,
                audio_lost: 0,
                clock: 0.0,
                carries: HashMap::new(),
                padding_sent: 0.0,
                feedback_loss: 0.0,
                feedback_seed: 11,
                since_report: (0, 0),
            }
        }

        /// A room that ran 15 s on a good link, then the link narrowed.
        fn narrowed_to(capacity_bps: f64, loss: f64) -> Self {
            let mut room = Room::new(3_000_000.0);
            room.run(15.0);
            room.link.capacity_bps = capacity_bps;
            room.link.loss = loss;
            room
        }

        fn send(&mut self, at: f64, size: usize, audio: bool) {
            let arrival = self.link.carry(at, size);
            let report = PacketReport {
                ssrc: 1,
                id: self.next_id,
                rtp_sequence_number: self.next_id as u16,
                is_twcc: true,
                twcc_sequence_number: self.next_id as u16,
                size,
                arrived: arrival.is_some(),
                departure: self.epoch + Duration::from_secs_f64(at),
                arrival: arrival.map(Duration::from_secs_f64),
                ecn: Ecn::default(),
            };
            self.next_id += 1;
            self.audio_sent += u64::from(audio);
            self.in_flight.push(Sent { report, arrival, audio });
        }

        /// Runs the room for `seconds`; returns what was paused at each allocation.
        fn run(&mut self, seconds: f64) -> Vec<(f64, Vec<Uuid>)> {
            let mut history = Vec::new();
            let start = self.now_secs();
            let ticks = (seconds / TICK.as_secs_f64()).round() as u64;
            for _ in 0..ticks {
                let at = self.now_secs() + TICK.as_secs_f64();
                self.next_tick(at);
                let tick_index = (at / TICK.as_secs_f64()).round() as u64;
                if tick_index.is_multiple_of(5) {
                    self.feedback(at);
                }
                if tick_index.is_multiple_of(25) {
                    self.allocate(at);
                    history.push((at - start, self.last.paused.clone()));
                }
                if tick_index.is_multiple_of(50) {
                    self.receiver_report(at);
                }
            }
            history
        }

        fn now_secs(&self) -> f64 {
            self.clock
        }

        fn next_tick(&mut self, at: f64) {
            self.clock = at;
            // Two microphones: one packet each per 20 ms.
            self.send(at, AUDIO_PACKET, true);
            self.send(at, AUDIO_PACKET, true);
            // Each forwarded video: its rate's worth, in packets of 1,200 bytes.
            for from in [MEDIATOR, ADVISER] {
                if self.last.paused.contains(&from) {
                    continue;
                }
                let bytes = self.video_rate[&from] * TICK.as_secs_f64() / 8.0;
                let whole = bytes / 1200.0;
                let packets = whole.floor() as usize + usize::from(self.frac(from, whole.fract()));
                for _ in 0..packets {
                    self.send(at, 1200, false);
                }
            }
            // Probe padding, as the retransmitter sends it (until the
            // estimator stops it).
            let padding = self.cell.probe_bps() * TICK.as_secs_f64() / 8.0 / 1200.0;
            let packets = padding.floor() as usize + usize::from(self.frac(PADDING, padding.fract()));
            for _ in 0..packets {
                self.send(at, 1200, false);
                self.padding_sent += 1200.0;
            }
            // Publishers follow the share they were given a second ago.
            for (from, asks) in &mut self.asked {
                while asks.front().is_some_and(|(_, asked_at)| at - asked_at >= 1.0) {
                    let (share, _) = asks.pop_front().expect("front checked");
                    self.video_rate.insert(*from, share.min(NATURAL_VIDEO_BPS));
                }
            }
        }

        /// Spreads a fractional packet count over ticks.
        fn frac(&mut self, from: Uuid, fraction: f64) -> bool {
            let carry = self.carries.entry(from).or_insert(0.0);
            *carry += fraction;
            if *carry >= 1.0 {
                *carry -= 1.0;
                true
            } else {
                false
            }
        }

        /// Feedback on everything whose fate is known by `at`.
        fn feedback(&mut self, at: f64) {
            let (known, waiting): (Vec<Sent>, Vec<Sent>) =
                self.in_flight.drain(..).partition(|sent| sent.arrival.is_none_or(|arrival| arrival <= at));
            self.in_flight = waiting;
            for sent in &known {
                self.audio_lost += u64::from(sent.audio && sent.arrival.is_none());
                self.since_report.0 += 1;
                self.since_report.1 += u64::from(sent.arrival.is_none());
            }
            self.feedback_seed = self.feedback_seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            if ((self.feedback_seed >> 33) as f64 / (1u64 << 31) as f64) < self.feedback_loss {
                return; // this batch never came back: its packets go unreported
            }
            let reports: Vec<PacketReport> = known.into_iter().map(|sent| sent.report).collect();
            self.estimator.on_reports(self.epoch + Duration::from_secs_f64(at), &reports);
        }

        /// A receiver report, once a second as browsers send them: the
        /// share of packets lost since the last one.
        fn receiver_report(&mut self, at: f64) {
            let (sent, lost) = std::mem::take(&mut self.since_report);
            if sent > 0 {
                let fraction = (256.0 * lost as f64 / sent as f64).min(255.0) as u8;
                self.cell.record_receiver_loss(fraction, self.epoch + Duration::from_secs_f64(at));
            }
        }

        fn allocate(&mut self, at: f64) {
            let now = self.epoch + Duration::from_secs_f64(at);
            let estimate = self.cell.current(now);
            let offered: Vec<Offered> = [(MEDIATOR, 2u8), (ADVISER, 1u8)]
                .iter()
                .flat_map(|&(from, priority)| {
                    [
                        Offered { from, kind: MediaKind::Audio, priority, bits_per_second: 64_000.0 },
                        Offered { from, kind: MediaKind::Video, priority, bits_per_second: self.video_rate[&from] },
                    ]
                })
                .collect();
            let link = estimate.map(|e| Link {
                bits_per_second: e.bits_per_second,
                loss: e.loss,
                congested: e.congested,
                queueing: e.queueing,
                delivered: e.delivered,
            });
            self.last = self.allocator.allocate(now, link, 0.0, &offered);
            self.cell.request_probe(self.last.probe_bps);
            for (from, share) in &self.last.shares {
                self.asked.entry(*from).or_default().push_back((share.unwrap_or(NATURAL_VIDEO_BPS), at));
            }
        }

        fn audio_loss_since_reset(&self) -> f64 {
            self.audio_lost as f64 / self.audio_sent.max(1) as f64
        }

        fn reset_audio_counts(&mut self) {
            self.audio_lost = 0;
            self.audio_sent = 0;
        }
    }

    fn first_pause(history: &[(f64, Vec<Uuid>)], of: Uuid) -> Option<f64> {
        history.iter().find(|(_, paused)| paused.contains(&of)).map(|(at, _)| *at)
    }

    #[test]
    fn a_good_link_pauses_nothing() {
        let mut room = Room::new(3_000_000.0);
        let history = room.run(40.0);
        assert!(history.iter().all(|(_, paused)| paused.is_empty()), "{history:?}");
        assert_eq!(room.last.quality, Quality::Good);
        assert!(room.audio_loss_since_reset() < 0.001);
    }

    #[test]
    fn congestion_onset_pauses_the_lower_priority_video_and_spares_audio() {
        let mut room = Room::narrowed_to(450_000.0, 0.02);
        let history = room.run(30.0);
        let paused_at = first_pause(&history, ADVISER).expect("the adviser's video pauses");
        assert!(paused_at <= 12.0, "paused after {paused_at} s: {history:?}");
        assert_eq!(room.last.paused, vec![ADVISER], "settled with the mediator's video going: {history:?}");
        assert_eq!(room.last.quality, Quality::Poor);
        // Settled: the mediator's video keeps going, and audio loses little
        // more than the wire's own 2%.
        room.reset_audio_counts();
        let history = room.run(20.0);
        assert!(history.iter().all(|(_, paused)| *paused == vec![ADVISER]), "{history:?}");
        let loss = room.audio_loss_since_reset();
        assert!(loss < 0.03, "audio lost {:.1}% on a settled link", loss * 100.0);
    }

    #[test]
    fn a_line_with_room_for_one_video_is_not_probed_for_two() {
        // 512 kbit/s with 2% loss: room for the mediator's video and the
        // sound, not for a second video even at the floor. Once settled, the
        // adviser's video stays paused (no probe that would stall the
        // mediator's), and the mediator's is never paused.
        let mut room = Room::narrowed_to(512_000.0, 0.02);
        let settling = room.run(20.0);
        assert!(first_pause(&settling, ADVISER).is_some(), "{settling:?}");
        room.reset_audio_counts();
        let padding_before = room.padding_sent;
        let settled = room.run(60.0);
        assert!(settled.iter().all(|(_, paused)| *paused == vec![ADVISER]), "{settled:?}");
        // The line is probed now and then for the second video, briefly.
        let padding_share = (room.padding_sent - padding_before) / (512_000.0 / 8.0 * 60.0);
        assert!(padding_share < 0.05, "padding took {:.1}% of the line", padding_share * 100.0);
        let loss = room.audio_loss_since_reset();
        assert!(loss < 0.03, "audio lost {:.1}% on a settled link", loss * 100.0);
    }

    #[test]
    fn the_first_video_rides_out_the_onset_of_a_narrower_line() {
        // 512 kbit/s with 2% loss, and for its first seconds the station's
        // own uplink full as well: feedback comes back late and part of it
        // not at all, and the estimate reads half the line. The adviser's
        // video pauses; the mediator's rides it out.
        let mut room = Room::narrowed_to(512_000.0, 0.02);
        room.feedback_loss = 0.2;
        let onset = room.run(6.0);
        room.feedback_loss = 0.0;
        let settled = room.run(30.0);
        let all: Vec<&(f64, Vec<Uuid>)> = onset.iter().chain(&settled).collect();
        assert!(all.iter().all(|(_, paused)| !paused.contains(&MEDIATOR)), "the mediator's video paused: {all:?}");
        assert_eq!(room.last.paused, vec![ADVISER], "{settled:?}");
    }

    #[test]
    fn a_link_too_thin_for_any_video_keeps_audio_and_recovers() {
        let mut room = Room::new(3_000_000.0);
        room.run(10.0);
        room.link.capacity_bps = 256_000.0;
        room.link.loss = 0.02;
        let history = room.run(10.0);
        assert!(first_pause(&history, MEDIATOR).is_some() && first_pause(&history, ADVISER).is_some(), "{history:?}");
        room.reset_audio_counts();
        let history = room.run(30.0);
        let loss = room.audio_loss_since_reset();
        assert!(loss < 0.03, "audio lost {:.1}% with video paused: {history:?}", loss * 100.0);
        // The link comes back to 2 Mbit/s (the wire still loses 2%): video
        // returns within 15 s, the rest within 30 s, and stays.
        room.link.capacity_bps = 2_000_000.0;
        let history = room.run(15.0);
        // Probed with padding, the wider line is found and the first video
        // is back within the longest backoff after a failed probe, the probe
        // itself and the hold (9.5 s here; issue 12 asks for 15 s).
        let back = history.iter().find(|(_, paused)| paused.len() < 2).map(|(at, _)| *at);
        let limit = (PROBE_BACKOFF_MAX + RESUME_HOLD * 2).as_secs_f64();
        assert!(back.is_some_and(|at| at <= limit), "no video back within {limit} s: {history:?}");
        let history = room.run(15.0);
        assert!(history.last().is_some_and(|(_, paused)| paused.is_empty()), "not all back: {history:?}");
        let history = room.run(20.0);
        assert!(history.iter().all(|(_, paused)| paused.is_empty()), "relapsed: {history:?}");
    }

    #[test]
    fn a_station_joining_a_thin_line_pauses_both_videos_at_once() {
        // A station (re)joins on 256 kbit/s with 2% loss: both videos arrive
        // at full rate and the line is overfull from the start. Both pause
        // together within a second or two, not one by one once the
        // connection's start is over (that kept the line full for 12 s and
        // the sound broke up).
        let mut room = Room::new(256_000.0);
        room.link.loss = 0.02;
        let history = room.run(15.0);
        let (mediator, adviser) = (first_pause(&history, MEDIATOR), first_pause(&history, ADVISER));
        assert!(mediator.is_some() && mediator == adviser, "{history:?}");
        let limit = 2.0;
        assert!(
            mediator.is_some_and(|at| at <= limit),
            "paused after {mediator:?} s, not within {limit} s: {history:?}"
        );
        room.reset_audio_counts();
        room.run(20.0);
        let loss = room.audio_loss_since_reset();
        assert!(loss < 0.03, "audio lost {:.1}% with video paused", loss * 100.0);
    }

    #[test]
    fn a_loss_burst_passes_without_leaving_video_paused() {
        let mut room = Room::new(3_000_000.0);
        room.run(15.0);
        room.link.loss = 0.3;
        room.run(1.0);
        room.link.loss = 0.0;
        room.run(15.0);
        let history = room.run(10.0);
        assert!(history.iter().all(|(_, paused)| paused.is_empty()), "{history:?}");
    }

    #[test]
    fn without_an_estimate_nothing_pauses() {
        let mut allocator = Allocator::default();
        let now = Instant::now();
        let offered = [Offered { from: MEDIATOR, kind: MediaKind::Video, priority: 2, bits_per_second: 5e6 }];
        for step in 0..20 {
            let allocation = allocator.allocate(now + Duration::from_secs(step), None, 0.0, &offered);
            assert!(allocation.paused.is_empty());
            assert_eq!(allocation.shares, vec![(MEDIATOR, None)]);
        }
    }

    /// Steps the allocator every 500 ms at `estimate` until the adviser's
    /// video is (or is not) paused; returns how long that took.
    fn until(allocator: &mut Allocator, at: &mut Instant, estimate: f64, paused: bool) -> f64 {
        let video = [Offered { from: ADVISER, kind: MediaKind::Video, priority: 1, bits_per_second: 300_000.0 }];
        for step in 1..=60 {
            *at += Duration::from_millis(500);
            let link = Link { bits_per_second: estimate, loss: None, congested: true, queueing: true, delivered: None };
            if allocator.allocate(*at, Some(link), 0.0, &video).paused.is_empty() != paused {
                return f64::from(step) * 0.5;
            }
        }
        panic!("no change in 30 s at {estimate}");
    }

    #[test]
    fn a_relapse_soon_after_resuming_doubles_the_hold() {
        let mut allocator = Allocator::default();
        let mut at = Instant::now();
        let paused_after = until(&mut allocator, &mut at, 150_000.0, true);
        assert!(paused_after >= PAUSE_AFTER.as_secs_f64(), "paused after {paused_after} s");
        assert_eq!(allocator.videos[&ADVISER].hold, RESUME_HOLD);
        until(&mut allocator, &mut at, 1_000_000.0, false);
        // A relapse within the window: paused sooner, and held back twice as long.
        let relapsed_after = until(&mut allocator, &mut at, 150_000.0, true);
        assert!(relapsed_after < paused_after, "relapse {relapsed_after} s, first pause {paused_after} s");
        assert_eq!(allocator.videos[&ADVISER].hold, RESUME_HOLD * 2);
        // The hold counts from when the link carries the video again.
        let back = until(&mut allocator, &mut at, 1_000_000.0, false);
        assert!(back >= (RESUME_HOLD * 2).as_secs_f64(), "back after {back} s");
    }

    #[test]
    fn a_failed_probe_does_not_take_the_other_video_down() {
        let mut allocator = Allocator::default();
        let mut at = Instant::now();
        let offered = [MEDIATOR, ADVISER].map(|from| Offered {
            from,
            kind: MediaKind::Video,
            priority: if from == MEDIATOR { 2 } else { 1 },
            bits_per_second: 300_000.0,
        });
        let mut step = |estimate: f64, congested: bool| {
            at += Duration::from_millis(500);
            let link = Link { bits_per_second: estimate, loss: None, congested, queueing: congested, delivered: None };
            allocator.allocate(at, Some(link), 0.0, &offered).paused
        };
        // Past start-up; then a line with room for one video pauses the adviser.
        (0..10).for_each(|_| assert!(step(2_000_000.0, false).is_empty()));
        let mut paused = Vec::new();
        for _ in 0..12 {
            paused = step(300_000.0, true);
        }
        assert_eq!(paused, vec![ADVISER]);
        // The estimate climbs: the adviser's video is probed...
        for _ in 0..20 {
            paused = step(900_000.0, false);
            if paused.is_empty() {
                break;
            }
        }
        assert!(paused.is_empty(), "the adviser's video came back as a probe");
        // ...and fails: the estimate dips under both videos while the probe
        // overfills the line. The adviser goes again, the mediator stays.
        let during: Vec<Vec<Uuid>> = (0..3).map(|_| step(150_000.0, true)).collect();
        assert!(during.iter().any(|paused| *paused == vec![ADVISER]), "{during:?}");
        let after: Vec<Vec<Uuid>> = (0..16).map(|_| step(300_000.0, true)).collect();
        assert!(
            during.iter().chain(&after).all(|paused| !paused.contains(&MEDIATOR)),
            "the mediator's video paused with the failed probe: {during:?} {after:?}"
        );
        // A link that stays too thin for it pauses it after all.
        let thin: Vec<Vec<Uuid>> = (0..16).map(|_| step(150_000.0, true)).collect();
        assert!(thin.last().is_some_and(|paused| paused.contains(&MEDIATOR)), "{thin:?}");
    }

    #[test]
    fn the_speakers_video_takes_the_place_of_one_it_outranks() {
        let mut allocator = Allocator::default();
        let mut at = Instant::now();
        let mut step = |estimate: f64, congested: bool, adviser_priority: u8| {
            at += Duration::from_millis(500);
            let offered = [(MEDIATOR, 2), (ADVISER, adviser_priority)].map(|(from, priority)| Offered {
                from,
                kind: MediaKind::Video,
                priority,
                bits_per_second: VIDEO_FLOOR_BPS,
            });
            let link = Link { bits_per_second: estimate, loss: None, congested, queueing: congested, delivered: None };
            allocator.allocate(at, Some(link), 0.0, &offered).paused
        };
        // Room for one video: the adviser's pauses, the mediator's goes.
        (0..10).for_each(|_| assert!(step(2_000_000.0, false, 1).is_empty()));
        let paused = (0..12).map(|_| step(300_000.0, true, 1)).last().expect("rounds");
        assert_eq!(paused, vec![ADVISER]);
        // The adviser speaks: their video takes the mediator's place, and the
        // two do not flap.
        let rounds: Vec<Vec<Uuid>> = (0..20).map(|_| step(300_000.0, false, 3)).collect();
        let swapped = rounds.iter().position(|paused| *paused == vec![MEDIATOR]).expect("swapped");
        assert!(swapped <= RESUME_HOLD.as_secs() as usize * 2 + 1, "{rounds:?}");
        assert!(rounds[swapped..].iter().all(|paused| *paused == vec![MEDIATOR]), "{rounds:?}");
        // The mediator speaks again: back the other way.
        let rounds: Vec<Vec<Uuid>> = (0..20).map(|_| step(300_000.0, false, 1)).collect();
        assert_eq!(rounds.last(), Some(&vec![ADVISER]), "{rounds:?}");
    }

    #[test]
    fn the_speakers_video_takes_the_place_of_another_on_a_link_read_as_queueing() {
        // A receiver short of CPU stamps arrivals late: its link reads as
        // queueing round after round, so nothing is seen carried with no
        // queue. The speaker's video still takes the mediator's place (it
        // adds nothing to the line), and a second's dip of the estimate just
        // after does not pause it as a failed probe would be.
        let mut allocator = Allocator::default();
        let mut at = Instant::now();
        let mut step = |estimate: f64, congested: bool, adviser_priority: u8| {
            // The link delivers what it is estimated to carry, or 420 kbit/s.
            let delivered = Some(estimate.min(420_000.0));
            at += Duration::from_millis(500);
            let offered = [(MEDIATOR, 2, 300_000.0), (ADVISER, adviser_priority, VIDEO_FLOOR_BPS)].map(
                |(from, priority, bits_per_second)| Offered { from, kind: MediaKind::Video, priority, bits_per_second },
            );
            let link = Link { bits_per_second: estimate, loss: None, congested, queueing: congested, delivered };
            allocator.allocate(at, Some(link), 0.0, &offered).paused
        };
        (0..10).for_each(|_| assert!(step(2_000_000.0, false, 1).is_empty()));
        let paused = (0..12).map(|_| step(350_000.0, true, 1)).last().expect("rounds");
        assert_eq!(paused, vec![ADVISER]);
        let limit = (RESUME_HOLD + RESUME_WAIT).as_secs() as usize * 2 + 1;
        let mut rounds = Vec::new();
        while rounds.last() != Some(&vec![MEDIATOR]) {
            assert!(rounds.len() <= limit, "not swapped: {rounds:?}");
            rounds.push(step(450_000.0, true, 3));
        }
        let dip: Vec<Vec<Uuid>> =
            [150_000.0, 150_000.0].into_iter().chain([450_000.0; 6]).map(|e| step(e, true, 3)).collect();
        assert!(dip.iter().all(|paused| *paused == vec![MEDIATOR]), "{dip:?}");
    }

    #[test]
    fn the_publisher_comes_down_during_the_hold_not_after_it() {
        let mut allocator = Allocator::default();
        let mut at = Instant::now();
        let mut sending = 1_000_000.0;
        let mut asked_at: Option<usize> = None;
        let mut step = |estimate: f64, congested: bool, sending: f64| {
            at += Duration::from_millis(500);
            let video = [Offered { from: ADVISER, kind: MediaKind::Video, priority: 1, bits_per_second: sending }];
            let link = Link { bits_per_second: estimate, loss: None, congested, queueing: congested, delivered: None };
            allocator.allocate(at, Some(link), 0.0, &video)
        };
        (0..10).for_each(|_| drop(step(2_000_000.0, false, sending)));
        (0..10).for_each(|_| drop(step(120_000.0, true, sending)));
        // A relapse doubles the hold: back once, then paused again at once.
        let back = (0..20).position(|_| step(2_000_000.0, false, 160_000.0).paused.is_empty());
        assert!(back.is_some());
        let again = (0..10).map(|_| step(120_000.0, true, 1_000_000.0)).last().expect("rounds");
        assert_eq!(again.paused, vec![ADVISER]);
        // The line is wide again; the publisher, sending 1 Mbit/s to others,
        // follows what it is asked a second later, as a browser does.
        let mut rounds = 0;
        loop {
            rounds += 1;
            assert!(rounds < 40, "never came back");
            let allocation = step(2_000_000.0, false, sending);
            if allocation.paused.is_empty() {
                break;
            }
            if allocation.shares == vec![(ADVISER, Some(VIDEO_FLOOR_BPS))] {
                let asked = *asked_at.get_or_insert(rounds);
                if rounds >= asked + 2 {
                    sending = 160_000.0;
                }
            }
        }
        // It fits once the thin line's estimates have left the window the
        // allocator plans on; it is back when the doubled hold ends after
        // that, not the second or more its publisher takes to come down
        // (asked only after the hold, it was back after 20 rounds).
        let window_rounds = ESTIMATE_WINDOW.as_millis() as usize / 500;
        let hold_rounds = (RESUME_HOLD * 2).as_millis() as usize / 500;
        assert!(
            rounds <= window_rounds + hold_rounds + 1,
            "back after {rounds} rounds: the window is {window_rounds}, the hold {hold_rounds}"
        );
    }

    #[test]
    fn a_video_comes_back_once_its_publisher_is_down_to_the_floor() {
        let mut allocator = Allocator::default();
        let mut at = Instant::now();
        let mut step = |estimate: f64, congested: bool, sending: f64| {
            at += Duration::from_millis(500);
            let video = [Offered { from: ADVISER, kind: MediaKind::Video, priority: 1, bits_per_second: sending }];
            let link = Link { bits_per_second: estimate, loss: None, congested, queueing: congested, delivered: None };
            allocator.allocate(at, Some(link), 0.0, &video)
        };
        (0..10).for_each(|_| assert!(step(2_000_000.0, false, 1_000_000.0).paused.is_empty()));
        let paused = (0..10).map(|_| step(120_000.0, true, 1_000_000.0)).last().expect("ten rounds");
        assert_eq!(paused.paused, vec![ADVISER]);
        // The line is wide again, but its publisher sends 1 Mbit/s to others:
        // it is asked for the floor first, and stays paused here meanwhile.
        let waiting: Vec<Allocation> = (0..16).map(|_| step(2_000_000.0, false, 1_000_000.0)).collect();
        let asked = waiting.iter().position(|a| a.shares == vec![(ADVISER, Some(VIDEO_FLOOR_BPS))]);
        let asked = asked.expect("the publisher is asked for the floor");
        assert!(waiting[asked].paused == vec![ADVISER], "still paused while its publisher comes down");
        // Down to the floor: back at once.
        let back = step(2_000_000.0, false, 160_000.0);
        assert!(back.paused.is_empty(), "{back:?}");

        // A publisher that does not come down is let through after RESUME_WAIT.
        (0..10).for_each(|_| drop(step(120_000.0, true, 1_000_000.0)));
        let rounds: Vec<bool> = (0..30).map(|_| step(2_000_000.0, false, 1_000_000.0).paused.is_empty()).collect();
        let first_asked = rounds.iter().position(|back| *back).expect("it comes back");
        assert!(first_asked > 0 && rounds[first_asked..].iter().all(|back| *back), "{rounds:?}");
    }

    /// One video, the adviser's at the floor, stepped every 500 ms on a link
    /// whose estimate, congestion and delivered rate the test sets.
    fn probed(
        allocator: &mut Allocator,
        at: &mut Instant,
        estimate: f64,
        congested: bool,
        delivered: f64,
    ) -> Allocation {
        *at += Duration::from_millis(500);
        let video = [Offered { from: ADVISER, kind: MediaKind::Video, priority: 1, bits_per_second: VIDEO_FLOOR_BPS }];
        let link =
            Link { bits_per_second: estimate, loss: None, congested, queueing: congested, delivered: Some(delivered) };
        allocator.allocate(*at, Some(link), 0.0, &video)
    }

    #[test]
    fn a_paused_video_comes_back_only_once_the_link_has_carried_it() {
        let mut allocator = Allocator::default();
        let mut at = Instant::now();
        (0..10).for_each(|_| assert!(probed(&mut allocator, &mut at, 2_000_000.0, false, 200_000.0).paused.is_empty()));
        let paused = (0..10).map(|_| probed(&mut allocator, &mut at, 120_000.0, true, 100_000.0)).last();
        assert_eq!(paused.expect("rounds").paused, vec![ADVISER]);
        // The estimate climbs, but nothing has shown the link carries more
        // than its sound: the video stays paused and the link is probed for it.
        let climbing: Vec<Allocation> =
            (0..20).map(|_| probed(&mut allocator, &mut at, 2_000_000.0, false, 30_000.0)).collect();
        assert!(climbing.iter().all(|a| a.paused == vec![ADVISER]), "back on the estimate alone: {climbing:?}");
        let asked = climbing.last().expect("rounds").probe_bps;
        // Enough to show the link carries the video at the floor with the
        // margin and headroom (nothing else is sent here).
        let wanted = VIDEO_FLOOR_BPS * RESUME_MARGIN / HEADROOM * PROBE_OVER;
        assert!((asked - wanted).abs() < 1.0, "padding asked {asked}, wanted {wanted}");
        // The padding goes through: the video is back after its hold, and
        // the probe ends with it.
        let rounds: Vec<Allocation> =
            (0..12).map(|_| probed(&mut allocator, &mut at, 2_000_000.0, false, 30_000.0 + asked)).collect();
        let back = rounds.iter().position(|a| a.paused.is_empty()).expect("back once carried");
        assert!(back <= 2 * RESUME_HOLD.as_secs() as usize + 1, "back after {back} rounds");
        assert!(rounds[..back].iter().all(|a| a.probe_bps > 0.0), "probed until back: {rounds:?}");
        assert!(rounds[back..].iter().all(|a| a.probe_bps == 0.0), "no padding once back: {rounds:?}");
    }

    #[test]
    fn a_probe_that_finds_the_line_full_stops_and_the_next_waits_longer() {
        let mut allocator = Allocator::default();
        let mut at = Instant::now();
        (0..10).for_each(|_| drop(probed(&mut allocator, &mut at, 2_000_000.0, false, 200_000.0)));
        (0..10).for_each(|_| drop(probed(&mut allocator, &mut at, 120_000.0, true, 100_000.0)));
        // Each time padding is asked for, the line shows a queue the round
        // after (the estimator flags it congested); count the quiet rounds
        // between probes.
        let mut gaps = Vec::new();
        let mut quiet = 0;
        for _ in 0..80 {
            let allocation = probed(&mut allocator, &mut at, 300_000.0, false, 60_000.0);
            assert_eq!(allocation.paused, vec![ADVISER]);
            if allocation.probe_bps > 0.0 {
                gaps.push(quiet);
                quiet = 0;
                let stopped = probed(&mut allocator, &mut at, 300_000.0, true, 60_000.0);
                assert_eq!(stopped.probe_bps, 0.0, "no padding on a congested link");
            } else {
                quiet += 1;
            }
        }
        let rounds = |backoff: Duration| backoff.as_millis() as usize / 500;
        // With the congested round, a failure is followed by the backoff:
        // 2 s, then 4 s, then 8 s each time.
        let waits: Vec<usize> = gaps.iter().skip(1).map(|quiet| quiet + 1).collect();
        assert!(waits.len() >= 4, "probed again and again: {gaps:?}");
        assert_eq!(
            waits[..3],
            [rounds(PROBE_BACKOFF), rounds(PROBE_BACKOFF * 2), rounds(PROBE_BACKOFF_MAX)],
            "{gaps:?}"
        );
        assert!(waits[3..].iter().all(|wait| *wait == rounds(PROBE_BACKOFF_MAX)), "{gaps:?}");
    }
}
