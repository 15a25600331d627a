// The device check before any join: the camera preview, a microphone level
// meter, a test sound for the speaker, and plain messages when the browser
// refuses the devices or none exist. The stream it opens is the one the call
// then sends.
import { t } from "./i18n.js";
import { fill, h } from "./dom.js";

/** Why the devices could not be opened, as a translation key. */
function problemKey(error) {
  switch (error?.name) {
    case "NotAllowedError":
    case "SecurityError":
      return "device_denied";
    case "NotFoundError":
    case "OverconstrainedError":
      return "device_missing";
    case "NotReadableError":
      return "device_busy";
    default:
      return "device_failed";
  }
}

/** Opens camera and microphone, falling back to the microphone alone, then to nothing. */
export async function openDevices() {
  if (!navigator.mediaDevices?.getUserMedia) return { stream: null, problem: "device_unsupported" };
  try {
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      video: { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 24 } },
    });
    return { stream, problem: null };
  } catch (error) {
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      return { stream, problem: problemKey(error) === "device_denied" ? "device_denied" : "camera_missing" };
    } catch (audioError) {
      return { stream: null, problem: problemKey(audioError) };
    }
  }
}

/** Drives a level meter element from a stream's microphone; returns a stop function. */
export function meterFor(stream, meter) {
  const track = stream?.getAudioTracks()[0];
  if (!track) return () => {};
  const context = new AudioContext();
  const source = context.createMediaStreamSource(new MediaStream([track]));
  const analyser = context.createAnalyser();
  analyser.fftSize = 512;
  source.connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  let frame = 0;
  const draw = () => {
    analyser.getFloatTimeDomainData(samples);
    let sum = 0;
    for (const sample of samples) sum += sample * sample;
    const level = Math.min(1, Math.sqrt(sum / samples.length) * 4);
    meter.value = Math.round(level * 100);
    frame = requestAnimationFrame(draw);
  };
  context.resume().catch(() => {});
  draw();
  return () => {
    cancelAnimationFrame(frame);
    context.close().catch(() => {});
  };
}

/** Plays a short two-tone chime through the default speaker. */
export async function playTestSound() {
  const context = new AudioContext();
  await context.resume().catch(() => {});
  const gain = context.createGain();
  gain.gain.value = 0.2;
  gain.connect(context.destination);
  [523.25, 659.25].forEach((frequency, index) => {
    const oscillator = context.createOscillator();
    oscillator.frequency.value = frequency;
    oscillator.connect(gain);
    oscillator.start(context.currentTime + index * 0.45);
    oscillator.stop(context.currentTime + index * 0.45 + 0.4);
  });
  setTimeout(() => context.close().catch(() => {}), 1500);
}

/**
 * Renders the device check into `container` and resolves with the chosen
 * stream (possibly null: joining to watch and listen only) when the person
 * presses the join button.
 */
export function deviceCheck(container, { joinLabel }) {
  return new Promise((resolve) => {
    let stopMeter = () => {};
    let stream = null;
    const preview = h("video", { class: "preview", autoplay: true, muted: true, playsinline: true, "aria-label": t("camera_preview") });
    const meter = h("meter", { id: "mic-meter", min: 0, max: 100, value: 0, "aria-label": t("mic_level") });
    const message = h("p", { class: "device-problem", role: "alert", hidden: true });
    const status = h("ul", { class: "device-status" });
    // Pressable once the devices are open (or known to be missing).
    const joinButton = h("button", { type: "button", class: "primary big", id: "device-join", disabled: true }, joinLabel);
    const retry = h("button", { type: "button", id: "device-retry" }, t("device_retry"));
    const speaker = h("button", { type: "button", id: "speaker-test" }, t("speaker_test"));
    speaker.addEventListener("click", () => playTestSound());

    const open = async () => {
      joinButton.disabled = true;
      stopMeter();
      stream?.getTracks().forEach((track) => track.stop());
      const result = await openDevices();
      stream = result.stream;
      preview.srcObject = stream;
      const hasVideo = Boolean(stream?.getVideoTracks().length);
      const hasAudio = Boolean(stream?.getAudioTracks().length);
      preview.hidden = !hasVideo;
      fill(status,
        h("li", { class: hasVideo ? "ok" : "missing" }, hasVideo ? t("camera_ok") : t("camera_none")),
        h("li", { class: hasAudio ? "ok" : "missing" }, hasAudio ? t("mic_ok") : t("mic_none")),
      );
      message.hidden = !result.problem;
      message.textContent = result.problem ? t(result.problem) : "";
      retry.hidden = !result.problem;
      stopMeter = meterFor(stream, meter);
      joinButton.disabled = false;
    };
    joinButton.addEventListener("click", () => {
      stopMeter();
      resolve(stream);
    });
    retry.addEventListener("click", open);

    fill(container,
      h("section", { class: "device-check", "aria-labelledby": "device-title" },
        h("h2", { id: "device-title" }, t("device_check_title")),
        h("p", { class: "hint" }, t("device_check_hint")),
        h("div", { class: "device-row" },
          preview,
          h("div", { class: "device-side" },
            status,
            h("label", { for: "mic-meter" }, t("mic_level")),
            meter,
            h("p", { class: "hint" }, t("mic_level_hint")),
            speaker,
            message,
            retry,
          ),
        ),
        joinButton,
      ),
    );
    open();
  });
}
