//! Each media room's allocation loop: every half second, and at once when
//! the room's rules change, it reads each subscriber's link estimate and
//! what every published stream sends, runs each subscriber's `Allocator`,
//! pauses or resumes videos per subscriber, asks each publisher for no more
//! video than its weakest receiver can take (or for none, when nobody
//! receives it), and tells the room how each person's link is doing.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use signaling_proto::{LinkQualityLevel, MediaKind, ParticipantLink, ServerMessage};
use tokio::sync::watch;
use uuid::Uuid;

use super::allocator::{Allocation, Allocator, Link, Offered, Quality, VIDEO_FLOOR_BPS};
use super::estimate::{Estimate, LinkEstimate};
use super::peer::{Peer, Publication};
use super::speech::Speakers;
use super::{MediaRules, SharedRoom, SignalSink};

/// How often the loop runs when nothing changes.
const ROUND: Duration = Duration::from_millis(500);
/// A video nobody has received for this long is switched off at its publisher.
const UNRECEIVED_BEFORE_STOP: Duration = Duration::from_secs(3);
/// A publisher's limit is sent again only when it moves this much...
const TARGET_CHANGE: f64 = 0.15;
/// ...and not more often than this.
const TARGET_INTERVAL: Duration = Duration::from_secs(1);
/// Link figures alone (no quality or pause changed) go out at most this often,
/// and only when an estimate moved by `FIGURE_CHANGE`.
const FIGURES_INTERVAL: Duration = Duration::from_secs(5);
const FIGURE_CHANGE: f64 = 0.2;
/// A publisher on a congested line sends video at most this share of it.
const OWN_LINE_SHARE: f64 = 0.5;
/// Priorities: the speaker's video goes first, then the mediator's.
const SPEAKER_PRIORITY: u8 = 3;
const MEDIATOR_PRIORITY: u8 = 2;
const OTHERS_PRIORITY: u8 = 1;

/// What a publisher was last asked for.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Target {
    active: bool,
    max_kbps: Option<u32>,
}

impl Target {
    fn differs_enough(&self, other: &Target) -> bool {
        match (self.max_kbps, other.max_kbps) {
            _ if self.active != other.active => true,
            (Some(a), Some(b)) => (f64::from(a) - f64::from(b)).abs() > TARGET_CHANGE * f64::from(a.max(b)),
            (a, b) => a != b,
        }
    }
}

/// A rate measured from a growing byte counter.
#[derive(Debug, Default)]
struct Meter {
    last: Option<(Instant, u64)>,
    bits_per_second: f64,
}

impl Meter {
    fn update(&mut self, now: Instant, total: u64) -> f64 {
        if let Some((at, before)) = self.last {
            let elapsed = now.saturating_duration_since(at).as_secs_f64();
            if elapsed > 0.05 {
                // A counter that went back is a new stream: count from zero.
                let bytes = total.checked_sub(before).unwrap_or(total);
                let sample = bytes as f64 * 8.0 / elapsed;
                self.bits_per_second = 0.5 * self.bits_per_second + 0.5 * sample;
                self.last = Some((now, total));
            }
        } else {
            self.last = Some((now, total));
        }
        self.bits_per_second
    }
}

/// The loop's memory between rounds.
#[derive(Default)]
struct RoomLinks {
    /// Each subscriber's allocator, with the link estimate of the
    /// connection it allocates.
    allocators: HashMap<Uuid, (Arc<LinkEstimate>, Allocator)>,
    streams: HashMap<(Uuid, MediaKind), Meter>,
    resends: HashMap<Uuid, Meter>,
    targets: HashMap<Uuid, (Target, Instant)>,
    unreceived_since: HashMap<Uuid, Instant>,
    reported: HashMap<Uuid, (Vec<ParticipantLink>, Instant)>,
    /// The speaker of each space (the joint session, each caucus).
    speakers: HashMap<Option<Uuid>, Speakers>,
    /// The speaker each participant was last told of, with the connection
    /// told (a reloaded page is told again).
    told_speaker: HashMap<Uuid, (usize, Option<Uuid>)>,
}

/// Runs until the room closes.
pub(super) async fn run(room: std::sync::Weak<tokio::sync::Mutex<super::MediaRoom>>) {
    let mut links = RoomLinks::default();
    loop {
        let Some(shared) = room.upgrade() else { return };
        let Some((mut rules, signal, peers, publications)) = snapshot(&shared).await else { return };
        drop(shared);
        let current = rules.borrow_and_update().clone();
        links.round(Instant::now(), &current, &signal, &peers, &publications).await;
        tokio::select! {
            () = tokio::time::sleep(ROUND) => {}
            changed = rules.changed() => if changed.is_err() {
                // The room's rules were replaced (a new room of the session); the next snapshot has them.
                tokio::time::sleep(ROUND).await;
            },
        }
    }
}

type Snapshot = (watch::Receiver<MediaRules>, SignalSink, Vec<Arc<Peer>>, Vec<Arc<Publication>>);

async fn snapshot(shared: &SharedRoom) -> Option<Snapshot> {
    let room = shared.lock().await;
    if room.closed {
        return None;
    }
    Some((room.rules.clone(), room.signal.clone(), room.peers.values().cloned().collect(), room.publications.clone()))
}

/// What the receivers of one video can take.
#[derive(Debug, Default)]
struct Receivers {
    count: usize,
    smallest_share: Option<f64>,
}

impl RoomLinks {
    async fn round(
        &mut self,
        now: Instant,
        rules: &MediaRules,
        signal: &SignalSink,
        peers: &[Arc<Peer>],
        publications: &[Arc<Publication>],
    ) {
        let mut rates = HashMap::new();
        for publication in publications {
            let key = (publication.from, publication.kind);
            let total = publication.received_bytes.load(Ordering::Relaxed);
            rates.insert(key, self.streams.entry(key).or_default().update(now, total));
        }
        self.streams.retain(|key, _| rates.contains_key(key));
        self.find_speakers(now, rules, publications);

        let mut receivers: HashMap<Uuid, Receivers> = HashMap::new();
        let mut links = Vec::with_capacity(peers.len());
        for peer in peers {
            let id = peer.participant_id;
            let streams = peer.forwarded_streams().await;
            let offered: Vec<Offered> = streams
                .iter()
                .filter(|stream| rules.may_flow(stream.from, id, stream.kind))
                .map(|stream| Offered {
                    from: stream.from,
                    kind: stream.kind,
                    priority: self.priority(rules, stream.from),
                    bits_per_second: rates.get(&(stream.from, stream.kind)).copied().unwrap_or(0.0),
                })
                .collect();
            let estimate = peer.estimate.current(now);
            let allocation = self.allocate_for(now, peer, estimate, &offered);
            for stream in streams.iter().filter(|stream| stream.kind == MediaKind::Video) {
                let paused = allocation.paused.contains(&stream.from);
                if stream.network_paused.swap(paused, Ordering::AcqRel) != paused {
                    tracing::info!(subscriber = %id, from = %stream.from, paused, "video paused for the link changed");
                }
            }
            note_receivers(&allocation, &mut receivers);
            links.push(ParticipantLink {
                participant_id: id,
                quality: level(allocation.quality),
                down_kbps: estimate.map(|e| kbps(e.bits_per_second)),
                paused_video_from: allocation.paused,
            });
        }
        self.allocators.retain(|id, _| peers.iter().any(|peer| peer.participant_id == *id));
        self.resends.retain(|id, _| peers.iter().any(|peer| peer.participant_id == *id));

        let videos: Vec<Uuid> = publications.iter().filter(|p| p.kind == MediaKind::Video).map(|p| p.from).collect();
        for from in videos {
            // A publisher whose own line is congested keeps its camera within
            // part of what that line carries, so that its sound and its
            // signaling get through the other way too (village lines are
            // about as narrow up as down, or narrower).
            let own = peers.iter().find(|peer| peer.participant_id == from).and_then(|peer| peer.estimate.current(now));
            if let Some(own) = own.filter(|own| own.congested)
                && let Some(entry) = receivers.get_mut(&from)
            {
                let cap = (own.bits_per_second * OWN_LINE_SHARE).max(VIDEO_FLOOR_BPS);
                entry.smallest_share = Some(entry.smallest_share.map_or(cap, |share| share.min(cap)));
            }
            if let Some(target) = self.target_for(now, from, receivers.get(&from)) {
                let _ = signal
                    .send((
                        from,
                        ServerMessage::PublishTarget { video_active: target.active, video_max_kbps: target.max_kbps },
                    ))
                    .await;
            }
        }
        self.targets.retain(|from, _| publications.iter().any(|p| p.from == *from && p.kind == MediaKind::Video));

        self.report(now, rules, signal, peers, &links).await;
        self.tell_speakers(rules, signal, peers).await;
    }

    /// Each space's speaker, from the microphone levels since the last round.
    fn find_speakers(&mut self, now: Instant, rules: &MediaRules, publications: &[Arc<Publication>]) {
        let mut counts: HashMap<Option<Uuid>, Vec<(Uuid, u32, u32)>> = HashMap::new();
        for publication in publications.iter().filter(|p| p.kind == MediaKind::Audio) {
            let (heard, loud) = publication.levels.take();
            if let Some(space) = rules.spaces.get(&publication.from) {
                counts.entry(*space).or_default().push((publication.from, heard, loud));
            }
        }
        self.speakers.retain(|space, _| counts.contains_key(space));
        for (space, counts) in counts {
            let speakers = self.speakers.entry(space).or_default();
            let before = speakers.current();
            let speaker = speakers.update(now, &counts);
            if speaker != before {
                tracing::debug!(?space, ?speaker, "speaker changed");
            }
        }
    }

    fn speaker_of(&self, rules: &MediaRules, participant: Uuid) -> Option<Uuid> {
        let space = rules.spaces.get(&participant)?;
        self.speakers.get(space)?.current()
    }

    /// Runs one subscriber's allocator on its link's estimate, and asks its
    /// connection for the probe padding the allocation wants.
    fn allocate_for(
        &mut self,
        now: Instant,
        peer: &Peer,
        estimate: Option<Estimate>,
        offered: &[Offered],
    ) -> Allocation {
        let id = peer.participant_id;
        let resend_bps = self.resends.entry(id).or_default().update(now, peer.resent_bytes());
        let link = estimate.map(|e| Link {
            bits_per_second: e.bits_per_second,
            loss: e.loss,
            congested: e.congested,
            queueing: e.queueing,
            delivered: e.delivered,
        });
        // New connections (a reloaded page) are a new link: what was paused
        // or learnt on the old ones does not carry over.
        let (cell, allocator) =
            self.allocators.entry(id).or_insert_with(|| (peer.estimate.clone(), Allocator::default()));
        if !Arc::ptr_eq(cell, &peer.estimate) {
            *cell = peer.estimate.clone();
            *allocator = Allocator::default();
        }
        let allocation = allocator.allocate(now, link, resend_bps, offered);
        peer.estimate.request_probe(allocation.probe_bps);
        tracing::trace!(
            subscriber = %id,
            estimate_kbps = estimate.map(|e| kbps(e.bits_per_second)),
            congested = estimate.is_some_and(|e| e.congested),
            queueing = estimate.is_some_and(|e| e.queueing),
            delivered_kbps = estimate.and_then(|e| e.delivered).map(kbps),
            resend_kbps = kbps(resend_bps),
            probe_kbps = kbps(allocation.probe_bps),
            paused = allocation.paused.len(),
            "link allocated"
        );
        allocation
    }

    fn priority(&self, rules: &MediaRules, from: Uuid) -> u8 {
        if self.speaker_of(rules, from) == Some(from) {
            SPEAKER_PRIORITY
        } else if rules.mediators.contains(&from) {
            MEDIATOR_PRIORITY
        } else {
            OTHERS_PRIORITY
        }
    }

    /// Tells each participant the speaker of their space when it changed.
    async fn tell_speakers(&mut self, rules: &MediaRules, signal: &SignalSink, peers: &[Arc<Peer>]) {
        for peer in peers {
            let id = peer.participant_id;
            let connection = Arc::as_ptr(peer) as usize;
            let speaker = self.speaker_of(rules, id);
            let told = self.told_speaker.get(&id).copied().unwrap_or((connection, None));
            if told != (connection, speaker) {
                self.told_speaker.insert(id, (connection, speaker));
                let _ = signal.send((id, ServerMessage::Speaker { participant_id: speaker })).await;
            }
        }
        self.told_speaker.retain(|id, _| peers.iter().any(|peer| peer.participant_id == *id));
    }

    /// The target to send `from` now, if it changed enough.
    fn target_for(&mut self, now: Instant, from: Uuid, receivers: Option<&Receivers>) -> Option<Target> {
        let received = receivers.is_some_and(|r| r.count > 0);
        let unreceived_for = if received {
            self.unreceived_since.remove(&from);
            Duration::ZERO
        } else {
            now.saturating_duration_since(*self.unreceived_since.entry(from).or_insert(now))
        };
        let wanted = Target {
            active: received || unreceived_for < UNRECEIVED_BEFORE_STOP,
            max_kbps: receivers.and_then(|r| r.smallest_share).map(kbps),
        };
        let due = match self.targets.get(&from) {
            // Nothing was asked yet: a publisher starts unlimited and active.
            None => wanted != Target { active: true, max_kbps: None },
            Some((sent, _)) if sent.active != wanted.active => true,
            Some((sent, at)) => sent.differs_enough(&wanted) && now.saturating_duration_since(*at) >= TARGET_INTERVAL,
        };
        if !due {
            return None;
        }
        self.targets.insert(from, (wanted, now));
        Some(wanted)
    }

    /// Sends each participant the links of those in their space, when the
    /// qualities or paused videos changed, or the figures moved a lot.
    async fn report(
        &mut self,
        now: Instant,
        rules: &MediaRules,
        signal: &SignalSink,
        peers: &[Arc<Peer>],
        links: &[ParticipantLink],
    ) {
        for peer in peers {
            let id = peer.participant_id;
            let Some(space) = rules.spaces.get(&id) else { continue };
            let visible: Vec<ParticipantLink> = links
                .iter()
                .filter(|link| rules.spaces.get(&link.participant_id) == Some(space))
                .map(|link| ParticipantLink {
                    paused_video_from: link
                        .paused_video_from
                        .iter()
                        .filter(|from| rules.spaces.get(from) == Some(space))
                        .copied()
                        .collect(),
                    ..link.clone()
                })
                .collect();
            let due = match self.reported.get(&id) {
                None => true,
                Some((sent, at)) => {
                    changed_state(sent, &visible)
                        || (now.saturating_duration_since(*at) >= FIGURES_INTERVAL && changed_figures(sent, &visible))
                }
            };
            if due {
                self.reported.insert(id, (visible.clone(), now));
                let _ = signal.send((id, ServerMessage::LinkQuality { links: visible })).await;
            }
        }
        self.reported.retain(|id, _| peers.iter().any(|peer| peer.participant_id == *id));
    }
}

fn note_receivers(allocation: &Allocation, receivers: &mut HashMap<Uuid, Receivers>) {
    for (from, share) in &allocation.shares {
        let entry = receivers.entry(*from).or_default();
        entry.count += 1;
        if let Some(share) = share {
            entry.smallest_share = Some(entry.smallest_share.map_or(*share, |smallest| smallest.min(*share)));
        }
    }
}

fn changed_state(before: &[ParticipantLink], now: &[ParticipantLink]) -> bool {
    before.len() != now.len()
        || before.iter().zip(now).any(|(a, b)| {
            a.participant_id != b.participant_id
                || a.quality != b.quality
                || a.paused_video_from != b.paused_video_from
                || a.down_kbps.is_some() != b.down_kbps.is_some()
        })
}

fn changed_figures(before: &[ParticipantLink], now: &[ParticipantLink]) -> bool {
    before.iter().zip(now).any(|(a, b)| match (a.down_kbps, b.down_kbps) {
        (Some(a), Some(b)) => (f64::from(a) - f64::from(b)).abs() > FIGURE_CHANGE * f64::from(a.max(b)),
        (a, b) => a != b,
    })
}

fn level(quality: Quality) -> LinkQualityLevel {
    match quality {
        Quality::Good => LinkQualityLevel::Good,
        Quality::Fair => LinkQualityLevel::Fair,
        Quality::Poor => LinkQualityLevel::Poor,
    }
}

fn kbps(bits_per_second: f64) -> u32 {
    (bits_per_second / 1000.0).round().clamp(0.0, f64::from(u32::MAX)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_go_out_on_a_flip_at_once_and_on_a_small_change_not_at_all() {
        let mut links = RoomLinks::default();
        let start = Instant::now();
        let from = Uuid::from_u128(1);
        let receiving = |share: f64| Receivers { count: 1, smallest_share: Some(share) };
        assert_eq!(
            links.target_for(start, from, Some(&receiving(400_000.0))),
            Some(Target { active: true, max_kbps: Some(400) })
        );
        let soon = start + Duration::from_millis(500);
        assert_eq!(links.target_for(soon, from, Some(&receiving(200_000.0))), None, "within the interval");
        let later = start + Duration::from_secs(2);
        assert_eq!(links.target_for(later, from, Some(&receiving(380_000.0))), None, "5% is not worth a message");
        assert_eq!(
            links.target_for(later, from, Some(&receiving(200_000.0))),
            Some(Target { active: true, max_kbps: Some(200) })
        );
        // Nobody receives it: after the grace it is switched off, at once back on.
        assert_eq!(links.target_for(later, from, None), None);
        let off = later + UNRECEIVED_BEFORE_STOP;
        assert_eq!(links.target_for(off, from, None), Some(Target { active: false, max_kbps: None }));
        assert_eq!(
            links.target_for(off + Duration::from_millis(10), from, Some(&receiving(200_000.0))),
            Some(Target { active: true, max_kbps: Some(200) })
        );
    }

    #[test]
    fn an_unlimited_publisher_hears_nothing() {
        let mut links = RoomLinks::default();
        let unknown = Receivers { count: 2, smallest_share: None };
        assert_eq!(links.target_for(Instant::now(), Uuid::from_u128(1), Some(&unknown)), None);
    }
}
