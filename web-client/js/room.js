// The room screen: video tiles with names, roles and the speaker highlighted,
// the person's own controls (microphone, camera, audio only, leave), the
// network indicator, chat, the mediator's tools (lobby, the parties' consent
// and identity checks, mute, remove, caucus, lock, agreement, end), the
// station's parties (present, consent in person, ID card seen), the
// mediator's transcript, and the agreement and transcript for parties and
// stations to confirm. It draws what the Call reports and sends what people
// press.
import { t } from "./i18n.js";
import { signAgreementAsMediator } from "./agreement-signing.js";
import { $, fill, h } from "./dom.js";
import { announce, withErrorAnnounced } from "./frame.js";
import { DocumentDialogs } from "./documents.js";
import { openTranscriptEditor } from "./transcript-editor.js";
import { attestAtStation, checkOnCamera, consentForm, consentWords, loadNotice, partiesPanel } from "./hearing.js";

const QUALITY_BARS = { good: 3, fair: 2, poor: 1, offline: 0, unknown: 0 };

/** What a failed room request means, in the reader's language. */
export function roomErrorText(error) {
  const key = `room_error_${error?.code}`;
  return t.has(key) ? t(key) : t("request_failed", { reason: error?.code || "?" });
}

/** A name with its role, unless the name already says it (张敏（调解员）, 东平村说事拉理室). */
function withRole(name, role) {
  const roleText = t(`role_${role}`);
  return name.includes(roleText) ? name : `${name}（${roleText}）`;
}

export class RoomScreen {
  /**
   * @param container where to draw
   * @param call a started Call
   * @param context { caseId?, caseNumber, parties?: [{id,name}] (mediators, stations), onEnded(detail) }
   */
  constructor(container, call, context) {
    this.container = container;
    this.call = call;
    this.context = context;
    this.tiles = new Map();
    this.partiesPresent = new Set();
    /** Parties in the lobby whose camera this mediator views (ID check), and their videos. */
    this.viewing = new Set();
    this.lobbyVideos = new Map();
    this.documents = new DocumentDialogs(this, roomErrorText);
    this.audioOnly = false;
    const on = (kind) => Boolean(call.localStream?.getTracks().some((track) => track.kind === kind && track.enabled));
    this.devices = { audio: on("audio"), video: on("video") };
    this.build();
    this.listeners = [
      ["room", () => this.renderRoom()],
      ["media", (event) => this.attachMedia(event.detail.participantId)],
      ["stats", (event) => this.renderStats(event.detail)],
      ["links", () => this.renderLinks()],
      ["state", (event) => this.renderState(event.detail)],
      ["message", (event) => this.onMessage(event.detail)],
    ];
    for (const [type, listener] of this.listeners) call.addEventListener(type, listener);
    if (call.room) this.renderRoom();
  }

  /** Stops reacting to the call (the screen is gone, e.g. back in the lobby). */
  dispose() {
    for (const [type, listener] of this.listeners) this.call.removeEventListener(type, listener);
  }

  get isMediator() {
    return this.call.role === "mediator";
  }

  build() {
    this.tilesBox = h("div", { class: "tiles", id: "tiles", role: "region", "aria-label": t("room_people") });
    this.banner = h("p", { class: "banner", id: "room-banner", role: "status", hidden: true });
    this.network = h("span", { class: "network", id: "network", role: "status", "data-quality": "unknown" });
    this.side = h("aside", { class: "side", "aria-label": t("room_tools") });
    this.controls = h("nav", { class: "controls", "aria-label": t("room_controls") });
    this.transcriptEditor = h("dialog", { id: "transcript-editor", "aria-labelledby": "transcript-editor-title" });
    this.endDialog = h("dialog", { id: "end-dialog", "aria-labelledby": "end-title" });
    this.consentDialog = h("dialog", { id: "consent-dialog", "aria-labelledby": "station-notice-title" });
    fill(this.container,
      h("section", { class: "room", id: "room" },
        h("header", { class: "room-head" },
          h("h2", { class: "room-title" }, this.context.caseNumber || t("room_title")),
          this.network,
        ),
        this.banner,
        h("div", { class: "room-body" }, this.tilesBox, this.side),
        this.controls,
        ...this.documents.elements(),
        this.transcriptEditor,
        this.endDialog,
        this.consentDialog,
      ),
    );
    this.toolsBox = h("div", { class: "tools" });
    this.side.append(this.toolsBox, this.chatPanel());
    this.addOwnTile();
    this.renderControls();
    this.renderSide();
  }

  addOwnTile() {
    const video = h("video", { class: "tile-video", autoplay: true, muted: true, playsinline: true });
    video.srcObject = this.call.localStream;
    const tile = h("figure", { class: "tile own", dataset: { participantId: "self" } },
      video, h("figcaption", {}, h("span", { class: "tile-name" }, t("room_you")), h("span", { class: "tile-flags" })));
    this.ownTile = tile;
    this.tilesBox.append(tile);
  }

  // ----- controls -------------------------------------------------------

  renderControls() {
    const toggle = (kind) => {
      const on = this.devices[kind];
      const hasTrack = Boolean(this.call.localStream?.getTracks().some((track) => track.kind === kind));
      return h("button", {
        type: "button", id: `toggle-${kind}`, class: on && hasTrack ? "" : "off", "aria-pressed": String(on && hasTrack), disabled: !hasTrack,
        onclick: () => this.setDevice(kind, !on),
      }, t(on && hasTrack ? `turn_off_${kind}` : `turn_on_${kind}`));
    };
    const buttons = [
      toggle("audio"),
      toggle("video"),
      h("button", { type: "button", id: "toggle-audio-only", "aria-pressed": String(this.audioOnly), onclick: () => this.setAudioOnly(!this.audioOnly) },
        t(this.audioOnly ? "video_again" : "audio_only")),
    ];
    if (this.isMediator) {
      buttons.push(h("button", { type: "button", id: "end-session", class: "danger", onclick: () => this.askEnd() }, t("end_session")));
    }
    buttons.push(h("button", { type: "button", id: "leave", onclick: () => this.leave() }, t("leave_room")));
    const focused = this.controls.contains(document.activeElement) ? document.activeElement.id : null;
    fill(this.controls, ...buttons);
    if (focused) $(focused)?.focus();
  }

  async setDevice(kind, enabled) {
    this.devices[kind] = enabled;
    this.renderControls();
    try {
      await this.call.setDevice(kind, enabled);
    } catch (error) {
      announce(roomErrorText(error), "error");
    }
  }

  async setAudioOnly(audioOnly, participantId) {
    try {
      await this.call.request({ type: "set_audio_only", audio_only: audioOnly, ...(participantId ? { participant_id: participantId } : {}) });
      if (participantId) announce(t(audioOnly ? "audio_only_set_for" : "video_restored_for"));
    } catch (error) {
      announce(roomErrorText(error), "error");
    }
  }

  async leave() {
    await this.call.leave();
  }

  askEnd() {
    fill(this.endDialog,
      h("h2", { id: "end-title" }, t("end_session_title")),
      h("p", {}, t("end_session_text")),
      h("div", { class: "dialog-buttons" },
        h("button", { type: "button", class: "danger", id: "end-confirm", onclick: async () => {
          this.endDialog.close();
          try {
            await this.call.request({ type: "end_session" });
          } catch (error) {
            announce(roomErrorText(error), "error");
          }
        } }, t("end_session")),
        h("button", { type: "button", onclick: () => this.endDialog.close() }, t("cancel")),
      ),
    );
    this.endDialog.showModal();
  }

  // ----- tiles ----------------------------------------------------------

  renderRoom() {
    const room = this.call.room;
    if (!room) return;
    const others = room.participants.filter((p) => p.participant_id !== this.call.participantId);
    const me = room.participants.find((p) => p.participant_id === this.call.participantId);
    if (me) {
      this.ownTile.querySelector(".tile-name").textContent = `${me.display_name}（${t("room_you")}）`;
      this.ownTile.dataset.role = me.role;
      // A mediator's mute is shown on the own buttons. An observer not yet
      // let speak keeps sending: the server forwards it to nobody until then.
      const before = `${this.devices.audio}${this.devices.video}`;
      const silenced = me.role === "observer" && !me.may_speak;
      if (!me.audio_enabled && this.devices.audio && !silenced) this.devices.audio = false;
      if (!me.video_enabled && this.devices.video && !silenced) this.devices.video = false;
      if (before !== `${this.devices.audio}${this.devices.video}`) this.renderControls();
    }
    const seen = new Set();
    for (const person of others) {
      seen.add(person.participant_id);
      let tile = this.tiles.get(person.participant_id);
      if (!tile) {
        tile = this.makeTile(person.participant_id);
        this.tiles.set(person.participant_id, tile);
        this.tilesBox.append(tile.element);
        this.attachMedia(person.participant_id);
      }
      tile.element.dataset.role = person.role;
      tile.name.textContent = person.display_name;
      tile.role.textContent = t(`role_${person.role}`);
      const flags = [];
      if (!person.audio_enabled) flags.push(t("flag_mic_off"));
      if (!person.video_enabled) flags.push(t("flag_camera_off"));
      if (person.parties_present?.length) flags.push(t("flag_present", { names: person.parties_present.join("、") }));
      if (person.role === "observer") flags.push(t(person.may_speak ? "flag_observer_speaking" : "flag_observer", { relation: person.relation || "" }));
      tile.flags.textContent = flags.join(" · ");
      tile.element.classList.toggle("reconnecting", person.reconnecting);
      tile.state.reconnecting = person.reconnecting;
      tile.state.videoEnabled = person.video_enabled;
      this.renderTileOverlay(tile);
    }
    for (const [participantId, tile] of this.tiles) {
      if (!seen.has(participantId)) {
        tile.element.remove();
        this.tiles.delete(participantId);
      }
    }
    this.tilesBox.dataset.count = String(others.length + 1);
    const observing = me?.role === "observer" ? t(me.may_speak ? "banner_observer_speaking" : "banner_observer") : "";
    const bannerText = room.caucus_id ? t("banner_in_caucus") : room.private_session_underway ? t("banner_private_underway") : observing;
    this.banner.textContent = bannerText;
    this.banner.hidden = !bannerText;
    this.banner.classList.toggle("caucus", Boolean(room.caucus_id));
    this.renderLinks();
    this.renderSpeaker();
    this.renderSide();
  }

  /** Marks the tile of the room's speaker (the server's, steady through pauses). */
  renderSpeaker() {
    for (const [participantId, tile] of this.tiles) tile.element.classList.toggle("speaker", participantId === this.call.speaker);
  }

  /** What covers a tile's picture: reconnecting, camera off, or paused for this link (the last picture stays). */
  renderTileOverlay(tile) {
    const { reconnecting, videoEnabled, pausedForLink } = tile.state;
    let text = "";
    if (reconnecting) text = t("flag_reconnecting");
    else if (!videoEnabled) text = t("flag_camera_off");
    else if (pausedForLink && !this.audioOnly) text = t("video_paused_for_link");
    tile.overlay.hidden = !text;
    tile.overlay.textContent = text;
    tile.element.classList.toggle("paused-for-link", Boolean(pausedForLink) && !reconnecting && videoEnabled);
  }

  /**
   * The server's view of the links (link_quality): on each tile, whose
   * picture is paused for this link, and how that person's own link is; in
   * the network indicator, what the product did about this link.
   */
  renderLinks() {
    const links = this.call.links || new Map();
    const mine = links.get(this.call.participantId);
    const paused = new Set(mine?.paused_video_from || []);
    for (const [participantId, tile] of this.tiles) {
      tile.state.pausedForLink = paused.has(participantId);
      this.renderTileOverlay(tile);
      const theirs = links.get(participantId);
      const text = theirs ? this.linkText(theirs) : "";
      tile.link.textContent = text;
      tile.link.hidden = !text;
      if (theirs) tile.element.dataset.link = theirs.quality;
    }
    this.linkNote = mine && paused.size ? t(paused.size >= this.tiles.size ? "link_audio_only" : "link_some_video_paused") : "";
    this.renderStats(this.lastStats || { quality: this.call.quality, speaking: null });
    if (this.isMediator) this.renderSide();
  }

  /** How another person's link is, in words (empty when it is good). */
  linkText(link) {
    if (link.quality === "poor") {
      const paused = new Set(link.paused_video_from || []);
      const cameras = (this.call.room?.participants || []).filter((p) => p.participant_id !== link.participant_id && p.video_enabled);
      if (cameras.length > 0 && cameras.every((p) => paused.has(p.participant_id))) return t("their_link_audio_only");
      return paused.has(this.call.participantId) ? t("their_link_poor_cannot_see_you") : t("their_link_poor");
    }
    return link.quality === "fair" ? t("their_link_fair") : "";
  }

  makeTile(participantId) {
    // Sound and picture play in separate elements: a video element whose
    // picture never starts (a weak link, audio only) would not play the sound.
    const video = h("video", { class: "tile-video", autoplay: true, playsinline: true, muted: true });
    const audio = h("audio", { class: "tile-audio", autoplay: true });
    const name = h("span", { class: "tile-name" });
    const role = h("span", { class: "tile-role" });
    const flags = h("span", { class: "tile-flags" });
    const link = h("span", { class: "tile-link" });
    const overlay = h("div", { class: "tile-overlay", hidden: true });
    const element = h("figure", { class: "tile", dataset: { participantId } }, video, audio, overlay, h("figcaption", {}, name, role, flags, link));
    return { element, video, audio, name, role, flags, link, overlay, state: {} };
  }

  attachMedia(participantId) {
    if (this.viewing.has(participantId)) this.lobbyVideo(participantId);
    const tile = this.tiles.get(participantId);
    const stream = this.call.remoteStreams.get(participantId);
    if (!tile || !stream) return;
    for (const [kind, element] of [["video", tile.video], ["audio", tile.audio]]) {
      const track = stream.getTracks().find((candidate) => candidate.kind === kind) || null;
      const playing = element.srcObject?.getTracks()[0] || null;
      if (track === playing) continue;
      element.srcObject = track ? new MediaStream([track]) : null;
      if (!track) continue;
      element.play().catch(() => {
        // Autoplay with sound refused: the next press anywhere starts it.
        document.addEventListener("click", () => element.play().catch(() => {}), { once: true });
      });
    }
  }

  renderStats(stats) {
    this.lastStats = stats;
    const { speaking } = stats;
    for (const [participantId, tile] of this.tiles) tile.element.classList.toggle("speaking", participantId === speaking);
    // The worse of what this browser measures and what the server's estimate says.
    const serverQuality = this.call.links?.get(this.call.participantId)?.quality;
    let quality = stats.quality;
    if (["good", "fair", "poor"].includes(quality) && serverQuality && QUALITY_BARS[serverQuality] < QUALITY_BARS[quality]) quality = serverQuality;
    const note = this.linkNote || "";
    // A live region: rewritten only when something changes, so it is not read out every second.
    if (this.network.dataset.quality === quality && this.network.dataset.note === note && this.network.childElementCount) return;
    const bars = QUALITY_BARS[quality] ?? 0;
    this.network.dataset.quality = quality;
    this.network.dataset.note = note;
    fill(this.network,
      h("span", { class: "bars", "aria-hidden": "true" }, ...[1, 2, 3].map((n) => h("i", { class: n <= bars ? "on" : "" }))),
      h("span", {}, `${t("network")}：${t(`quality_${quality}`)}`),
      note ? h("span", { class: "network-note" }, note) : null,
    );
  }

  renderState({ state }) {
    const reconnecting = state === "reconnecting";
    this.container.querySelector(".room")?.classList.toggle("reconnecting", reconnecting);
    if (reconnecting) {
      this.banner.hidden = false;
      this.banner.textContent = t("banner_reconnecting");
    } else if (state === "joined") {
      this.renderRoom();
    }
  }

  // ----- side panel -----------------------------------------------------

  renderSide() {
    const room = this.call.room;
    const parts = [];
    if (this.isMediator && room) parts.push(...this.mediatorTools(room));
    if (this.call.role === "station" && room) parts.push(this.stationParties(room));
    if (this.call.role === "party") {
      parts.push(h("button", { type: "button", id: "withdraw-consent", class: "danger", onclick: () => this.withdraw() }, t("withdraw_consent")));
    }
    if (!this.isMediator) {
      for (const kind of this.documents.kinds()) {
        parts.push(h("button", { type: "button", id: `show-${kind}`, class: "primary", onclick: () => this.documents.show(kind) }, t(`show_${kind}`)));
      }
    }
    const focused = document.activeElement?.id;
    fill(this.toolsBox, ...parts);
    if (focused && this.toolsBox.querySelector(`#${CSS.escape(focused)}`)) $(focused).focus();
  }

  /** A person's link in the mediator's list: quality, and whether they can see the mediator. */
  linkBadge(participantId) {
    const link = this.call.links?.get(participantId);
    if (!link) return null;
    const words = this.linkText(link) || t("their_link_good");
    return h("span", { class: "link-badge", dataset: { quality: link.quality }, id: `link-${participantId}` },
      link.down_kbps ? `${words}（${link.down_kbps} kbit/s）` : words);
  }

  mediatorTools(room) {
    const run = (message, done) => async () => {
      try {
        await this.call.request(message);
        if (done) announce(done);
      } catch (error) {
        announce(roomErrorText(error), "error");
      }
    };
    const picked = new Set([...this.toolsBox.querySelectorAll("input[name=caucus-member]:checked")].map((box) => box.value));
    const named = (key, name) => `${t(key)}：${name}`;
    const lobby = room.lobby || [];
    const others = room.participants.filter((p) => p.participant_id !== this.call.participantId);
    const lobbyPanel = h("section", { class: "tool", id: "lobby-panel", "aria-labelledby": "lobby-title" },
      h("h3", { id: "lobby-title" }, t("lobby_title", { count: lobby.length })),
      lobby.length === 0 ? h("p", { class: "hint" }, t("lobby_empty")) : h("ul", { class: "people" },
        ...lobby.map((entry) => h("li", { dataset: { participantId: entry.participant_id } },
          h("span", {}, withRole(entry.display_name, entry.role)),
          this.lobbyConsent(room, entry),
          entry.role === "party" ? this.viewCameraButton(entry) : null,
          this.viewing.has(entry.participant_id) ? this.lobbyVideo(entry.participant_id) : null,
          this.viewing.has(entry.participant_id) ? this.lobbyCheckButton(room, entry, run) : null,
          h("button", { type: "button", id: `admit-${entry.participant_id}`, class: "primary small admit", "aria-label": named("admit", entry.display_name), disabled: !this.mayAdmit(room, entry), onclick: run({ type: "admit", participant_id: entry.participant_id }) }, t("admit")),
          h("button", { type: "button", id: `refuse-${entry.participant_id}`, class: "small refuse", "aria-label": named("refuse", entry.display_name), onclick: run({ type: "refuse", participant_id: entry.participant_id, reason: t("refuse_reason_default") }) }, t("refuse")),
        ))),
    );
    const peoplePanel = h("section", { class: "tool", "aria-labelledby": "people-title" },
      h("h3", { id: "people-title" }, t("people_title")),
      others.length === 0 ? h("p", { class: "hint" }, t("people_empty")) : h("ul", { class: "people" },
        ...others.map((person) => h("li", { dataset: { participantId: person.participant_id } },
          h("span", {}, person.display_name),
          this.linkBadge(person.participant_id),
          h("span", { class: "actions" },
            h("button", { type: "button", id: `mute-audio-${person.participant_id}`, class: "small", "aria-label": named("mute_audio", person.display_name), disabled: !person.audio_enabled, onclick: run({ type: "mute", participant_id: person.participant_id, kind: "audio" }) }, t("mute_audio")),
            h("button", { type: "button", id: `mute-video-${person.participant_id}`, class: "small", "aria-label": named("mute_video", person.display_name), disabled: !person.video_enabled, onclick: run({ type: "mute", participant_id: person.participant_id, kind: "video" }) }, t("mute_video")),
            h("button", { type: "button", id: `audio-only-${person.participant_id}`, class: "small", "aria-label": named("audio_only_for", person.display_name), onclick: () => this.setAudioOnly(true, person.participant_id) }, t("audio_only_for")),
            person.role === "observer" ? h("button", { type: "button", id: `allow-speak-${person.participant_id}`, class: "small", "aria-pressed": String(Boolean(person.may_speak)),
              onclick: run({ type: "allow_speaking", participant_id: person.participant_id, allowed: !person.may_speak }) }, t(person.may_speak ? "stop_speaking" : "let_speak")) : null,
            person.role === "mediator" ? null : h("button", { type: "button", id: `remove-${person.participant_id}`, class: "small danger", "aria-label": named("remove", person.display_name), onclick: () => {
              if (confirm(t("remove_confirm", { name: person.display_name }))) run({ type: "remove", participant_id: person.participant_id })();
            } }, t("remove")),
          ),
        ))),
    );
    let caucusPanel;
    if (room.caucus_id) {
      caucusPanel = h("section", { class: "tool", "aria-labelledby": "caucus-title" },
        h("h3", { id: "caucus-title" }, t("caucus_title")),
        h("p", {}, t("caucus_in")),
        h("button", { type: "button", id: "close-caucus", class: "primary", onclick: run({ type: "close_caucus", caucus_id: room.caucus_id }, t("caucus_closed_note")) }, t("caucus_close")),
      );
    } else {
      const boxes = others.map((person) => h("label", { class: "check" },
        h("input", { type: "checkbox", name: "caucus-member", id: `caucus-${person.participant_id}`, value: person.participant_id, checked: picked.has(person.participant_id) }), person.display_name));
      caucusPanel = h("section", { class: "tool", "aria-labelledby": "caucus-title" },
        h("h3", { id: "caucus-title" }, t("caucus_title")),
        h("p", { class: "hint" }, t("caucus_hint")),
        h("fieldset", { id: "caucus-members" }, h("legend", {}, t("caucus_choose")), ...boxes),
        h("button", { type: "button", id: "open-caucus", class: "primary", disabled: others.length === 0, onclick: async () => {
          const ids = [...this.toolsBox.querySelectorAll("input[name=caucus-member]:checked")].map((box) => box.value);
          if (ids.length === 0) return announce(t("caucus_choose_first"), "error");
          await run({ type: "open_caucus", participant_ids: ids }, t("caucus_opened_note"))();
        } }, t("caucus_open")),
      );
    }
    const roomPanel = h("section", { class: "tool", "aria-labelledby": "room-lock-title" },
      h("h3", { id: "room-lock-title" }, t("room_settings")),
      h("button", { type: "button", id: "lock-room", "aria-pressed": String(room.locked), onclick: run({ type: "lock", locked: !room.locked }) },
        t(room.locked ? "unlock_room" : "lock_room")),
    );
    const agreementPanel = h("section", { class: "tool", "aria-labelledby": "agreement-tools-title" },
      h("h3", { id: "agreement-tools-title" }, t("agreement_title")),
      h("p", { class: "hint" }, t("agreement_tools_hint")),
      h("button", { type: "button", id: "push-agreement", class: "primary", onclick: run({ type: "push_agreement" }, t("agreement_pushed_note")) }, t("push_agreement")),
      this.context.caseId ? h("button", { type: "button", id: "sign-agreement", onclick: () => this.signAsMediator() }, t("sign_as_mediator")) : null,
    );
    const transcriptPanel = h("section", { class: "tool", "aria-labelledby": "transcript-tools-title" },
      h("h3", { id: "transcript-tools-title" }, t("transcript_title")),
      h("p", { class: "hint" }, t("transcript_tools_hint")),
      h("button", { type: "button", id: "edit-transcript", onclick: () => openTranscriptEditor(this.transcriptEditor, {
        sessionId: this.call.sessionId, parties: room.parties || [],
      }) }, t("edit_transcript")),
      h("button", { type: "button", id: "push-transcript", class: "primary", onclick: run({ type: "push_transcript" }, t("transcript_pushed_note")) }, t("push_transcript")),
    );
    const checkButton = (party) => (party.present_with && !party.identity_checked
      ? [h("button", { type: "button", class: "small", id: `check-identity-${party.party_id}`, onclick: () => {
        if (checkOnCamera(party)) run({ type: "check_identity", party_id: party.party_id }, t("identity_checked_note", { name: party.name }))();
      } }, t("check_identity"))]
      : []);
    const partiesBox = room.parties?.length ? partiesPanel(room, this.call.participantId, checkButton) : null;
    return [lobbyPanel, partiesBox, peoplePanel, caucusPanel, agreementPanel, transcriptPanel, roomPanel];
  }

  /** A party's decision beside their lobby entry. */
  lobbyConsent(room, entry) {
    if (entry.role !== "party") return null;
    const party = (room.parties || []).find((p) => p.present_with === entry.participant_id);
    return h("span", { class: "standing", dataset: { consent: party?.consent || "none" } }, consentWords(party?.consent, party?.publicity));
  }

  /** Staff are admitted at will; a party on their own device once they consented and their ID card was checked. */
  mayAdmit(room, entry) {
    if (entry.role !== "party") return true;
    return (room.parties || []).some((p) => p.present_with === entry.participant_id && p.consent === "consent" && p.identity_checked);
  }

  /** Views a waiting party's camera, for them to hold their ID card up to; or stops. */
  viewCameraButton(entry) {
    const id = entry.participant_id;
    const viewing = this.viewing.has(id);
    return h("button", { type: "button", class: "small", id: `view-camera-${id}`, "aria-pressed": String(viewing), onclick: async () => {
      try {
        await this.call.request({ type: "view_camera", participant_id: id, viewing: !viewing });
        if (viewing) this.viewing.delete(id);
        else this.viewing.add(id);
        this.renderSide();
      } catch (error) {
        announce(roomErrorText(error), "error");
      }
    } }, t(viewing ? "stop_viewing_camera" : "view_camera"));
  }

  /** Beside the camera: the card matches the registered name and masked number. */
  lobbyCheckButton(room, entry, run) {
    const party = (room.parties || []).find((p) => p.present_with === entry.participant_id);
    if (!party || party.identity_checked) return null;
    return h("button", { type: "button", class: "small primary", id: `lobby-check-${party.party_id}`, onclick: () => {
      if (checkOnCamera(party)) run({ type: "check_identity", party_id: party.party_id }, t("identity_checked_note", { name: party.name }))();
    } }, t("id_card_matches"));
  }

  /** The video of a waiting party's camera (kept across redraws, so it does not flicker). */
  lobbyVideo(participantId) {
    let video = this.lobbyVideos.get(participantId);
    if (!video) {
      video = h("video", { class: "lobby-preview", id: `lobby-video-${participantId}`, autoplay: true, muted: true, playsinline: true, "aria-label": t("lobby_camera") });
      this.lobbyVideos.set(participantId, video);
    }
    const track = this.call.remoteStreams.get(participantId)?.getVideoTracks()[0];
    if (track && video.srcObject?.getTracks()[0] !== track) {
      video.srcObject = new MediaStream([track]);
      video.play().catch(() => {});
    }
    return video;
  }

  /** The station's parties: who sits here, their decision given in person, their ID card seen. */
  stationParties(room) {
    const me = this.call.participantId;
    this.partiesPresent = new Set((room.parties || []).filter((p) => p.present_with === me).map((p) => p.party_id));
    const request = async (message, done) => {
      try {
        await this.call.request(message);
        if (done) announce(done);
      } catch (error) {
        announce(roomErrorText(error), "error");
        this.renderSide();
      }
    };
    const setPresent = (partyId, present) => {
      const ids = new Set(this.partiesPresent);
      if (present) ids.add(partyId);
      else ids.delete(partyId);
      request({ type: "parties_present", party_ids: [...ids] });
    };
    return partiesPanel(room, me, (party) => [
      h("label", { class: "check big" },
        h("input", { type: "checkbox", name: "present", id: `present-${party.party_id}`, value: party.party_id, checked: this.partiesPresent.has(party.party_id),
          disabled: party.consent !== "consent", onchange: (event) => setPresent(party.party_id, event.target.checked) }),
        t("present_here")),
      h("button", { type: "button", class: "small", id: `decide-${party.party_id}`, onclick: () => this.decideInPerson(party, request) },
        party.consent === "consent" ? t("withdraw_in_person") : t("record_consent_for")),
      party.identity_checked ? null : h("button", { type: "button", class: "small", id: `attest-${party.party_id}`, onclick: () => {
        if (attestAtStation(party)) request({ type: "check_identity", party_id: party.party_id }, t("identity_checked_note", { name: party.name }));
      } }, t("identity_attest")),
    ]);
  }

  /** The attendant reads the notice to a party and records their answer (or their withdrawal). */
  async decideInPerson(party, request) {
    const notice = await loadNotice();
    if (party.consent === "consent") {
      if (confirm(t("withdraw_in_person_confirm", { name: party.name }))) {
        await request({ type: "record_consent", party_id: party.party_id, decision: "withdraw", notice_version: notice.version });
      }
      return;
    }
    fill(this.consentDialog,
      consentForm(notice, { idPrefix: "station", forName: party.name, onDecide: async (decision) => {
        this.consentDialog.close();
        await request({ type: "record_consent", party_id: party.party_id, ...decision }, t("consent_recorded_note", { name: party.name }));
      } }),
      h("button", { type: "button", id: "consent-dialog-close", onclick: () => this.consentDialog.close() }, t("close")));
    if (!this.consentDialog.open) this.consentDialog.showModal();
  }

  /** A party on their own device stops the mediation for themself. */
  async withdraw() {
    if (!confirm(t("withdraw_confirm"))) return;
    const notice = await loadNotice();
    try {
      await this.call.request({ type: "record_consent", decision: "withdraw", notice_version: notice.version });
    } catch (error) {
      announce(roomErrorText(error), "error");
    }
  }

  signAsMediator() {
    return withErrorAnnounced(async () => {
      await signAgreementAsMediator(this.context.caseId);
      announce(t("signed_note"));
    })();
  }

  chatPanel() {
    const input = h("input", { id: "chat-input", maxlength: 2000, "aria-label": t("chat_input"), placeholder: t("chat_input") });
    const form = h("form", { class: "chat-form", onsubmit: async (event) => {
      event.preventDefault();
      const text = input.value.trim();
      if (!text) return;
      try {
        await this.call.request({ type: "chat", text });
        input.value = "";
      } catch (error) {
        announce(roomErrorText(error), "error");
      }
    } }, input, h("button", { type: "submit", class: "small" }, t("chat_send")));
    this.chatList = h("ol", { class: "chat-log", "aria-live": "polite" });
    return h("section", { class: "tool chat", "aria-labelledby": "chat-title" }, h("h3", { id: "chat-title" }, t("chat_title")), this.chatList, form);
  }

  // ----- messages -------------------------------------------------------

  onMessage(message) {
    switch (message.type) {
      case "chat":
        this.chatList.append(h("li", {}, h("strong", {}, `${message.from_name}：`), message.text));
        while (this.chatList.children.length > 100) this.chatList.firstElementChild.remove();
        break;
      case "muted_by":
        for (const track of this.call.localStream?.getTracks() || []) if (track.kind === message.kind) track.enabled = false;
        this.devices[message.kind] = false;
        this.renderControls();
        announce(t(message.kind === "audio" ? "muted_audio_by" : "muted_video_by", { name: message.by }), "error");
        break;
      case "speaker":
        this.renderSpeaker();
        break;
      case "audio_only":
        this.audioOnly = message.audio_only;
        this.renderControls();
        this.renderLinks();
        announce(t(message.audio_only ? "audio_only_on" : "audio_only_off"));
        break;
      case "caucus_opened":
        announce(t("caucus_started"));
        break;
      case "caucus_closed":
        announce(t("caucus_ended"));
        break;
      case "agreement_pushed":
      case "transcript_pushed":
        this.documents.pushed(message.type.replace("_pushed", ""), message);
        this.renderSide();
        break;
      case "agreement_confirmed":
        this.documents.confirmed("agreement", message.party_id, message.effective);
        announce(t(message.effective ? "agreement_effective" : "agreement_confirmed_note", { name: this.partyName(message.party_id) }));
        break;
      case "transcript_confirmed":
        this.documents.confirmed("transcript", message.party_id);
        announce(t("transcript_confirmed_note", { name: this.partyName(message.party_id) }));
        break;
      case "error":
        if (message.code === "media_ports_exhausted") announce(t("error_media_ports"), "error");
        if (message.code === "unsupported_codec") announce(roomErrorText(message), "error");
        break;
      default:
        break;
    }
  }

  partyName(partyId) {
    return this.call.room?.parties?.find((party) => party.party_id === partyId)?.name
      || this.context.parties?.find((party) => party.id === partyId)?.name || t("a_party");
  }
}

/** Redraws the whole screen in the current language, keeping the media. */
RoomScreen.prototype.relabel = function relabel() {
  this.tiles.clear();
  const log = this.chatList;
  this.build();
  this.chatList.replaceWith(log);
  this.chatList = log;
  this.renderRoom();
  this.documents.relabel();
};
