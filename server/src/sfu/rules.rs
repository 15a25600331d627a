//! Who may hear and see whom: the media plane's one question, asked per
//! packet. Whoever runs a room (the rooms module) publishes these rules on a
//! watch channel after every change; the forwarding path reads them.

use std::collections::{BTreeMap, BTreeSet};

use signaling_proto::MediaKind;
use uuid::Uuid;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MediaRules {
    /// For each admitted, connected participant: the space they are in
    /// (`None` the joint session, `Some(caucus)` a private caucus).
    pub spaces: BTreeMap<Uuid, Option<Uuid>>,
    /// Participants whose microphone is off.
    pub audio_off: BTreeSet<Uuid>,
    /// Participants whose camera is off.
    pub video_off: BTreeSet<Uuid>,
    /// Subscribers who receive audio only.
    pub audio_only: BTreeSet<Uuid>,
    /// Who runs the room: their video goes first on a thin link.
    pub mediators: BTreeSet<Uuid>,
    /// Parties waiting in the lobby who may publish, each with the
    /// mediators who view their camera (to check their ID card): their
    /// media flows to those mediators only.
    pub lobby: BTreeMap<Uuid, BTreeSet<Uuid>>,
}

impl MediaRules {
    /// Whether `kind` media may flow from `from` to `to`: both admitted and
    /// in the same space, the sender's device on, and for video the
    /// receiver not in audio-only mode.
    /// Whether `participant` may publish: admitted, or waiting in the lobby as a party.
    pub fn may_publish(&self, participant: Uuid) -> bool {
        self.spaces.contains_key(&participant) || self.lobby.contains_key(&participant)
    }

    pub fn may_flow(&self, from: Uuid, to: Uuid, kind: MediaKind) -> bool {
        if from == to {
            return false;
        }
        if let Some(viewers) = self.lobby.get(&from) {
            return viewers.contains(&to) && (kind == MediaKind::Audio || !self.audio_only.contains(&to));
        }
        let (Some(from_space), Some(to_space)) = (self.spaces.get(&from), self.spaces.get(&to)) else {
            return false;
        };
        if from_space != to_space {
            return false;
        }
        match kind {
            MediaKind::Audio => !self.audio_off.contains(&from),
            MediaKind::Video => !self.video_off.contains(&from) && !self.audio_only.contains(&to),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caucus_separates_and_mute_stops() {
        let (a, b, c) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let caucus = Uuid::from_u128(9);
        let mut rules = MediaRules::default();
        rules.spaces.extend([(a, Some(caucus)), (b, Some(caucus)), (c, None)]);
        assert!(rules.may_flow(a, b, MediaKind::Audio));
        assert!(!rules.may_flow(a, c, MediaKind::Audio) && !rules.may_flow(c, a, MediaKind::Video));
        rules.audio_off.insert(a);
        assert!(!rules.may_flow(a, b, MediaKind::Audio) && rules.may_flow(a, b, MediaKind::Video));
        rules.audio_only.insert(b);
        assert!(!rules.may_flow(a, b, MediaKind::Video));
        assert!(rules.may_flow(b, a, MediaKind::Video), "audio-only limits what b receives, not what b sends");
    }

    #[test]
    fn a_waiting_party_reaches_only_the_mediators_viewing_their_camera() {
        let (mediator, other, waiting) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let mut rules = MediaRules::default();
        rules.spaces.extend([(mediator, None), (other, None)]);
        rules.lobby.insert(waiting, BTreeSet::new());
        assert!(rules.may_publish(waiting) && !rules.may_flow(waiting, mediator, MediaKind::Video));
        rules.lobby.insert(waiting, BTreeSet::from([mediator]));
        assert!(
            rules.may_flow(waiting, mediator, MediaKind::Video) && rules.may_flow(waiting, mediator, MediaKind::Audio)
        );
        assert!(!rules.may_flow(waiting, other, MediaKind::Video), "nobody else sees them");
        assert!(!rules.may_flow(mediator, waiting, MediaKind::Audio), "nothing of the room reaches the lobby");
    }
}
