// The video/audio call page (docs/design/calls.md is the contract). The server renders
// <main id="call-page" data-…><div id="call-root"></div></main>; this module builds the whole
// call UI inside #call-root: join information, the patient's location, local media and device
// choice, WebRTC with "perfect negotiation" over the call's WebSocket, reconnection with the
// resume token, chat, and the end of the call.
//
// Negotiation is deterministic: the clinician (impolite) makes the first offer of every peer
// connection; the patient (polite) answers it and only offers for later changes (mode switch,
// ICE restart). Collisions are resolved by the MDN perfect-negotiation pattern.
import { localiseTimes } from "./local-time.js";

const NO_RETRY_CODES = new Set([1000, 4000, 4400, 4403, 4409, 4410, 4425, 4429]);
const ROLE_NAME = { patient: "patient", clinician: "clinician" };
const STATE_TEXT = {
  connecting: "Connecting…",
  waiting: "Waiting for the other person to join…",
  connected: "Connected",
  reconnecting: "Connection lost: reconnecting…",
  ended: "The call has ended.",
  failed: "The call could not be connected.",
  error: "The call is not available.",
};
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 10000];
const RECONNECT_GIVE_UP_MS = 120000;
const PING_MS = 20000;
const ADDRESS_MAX = 300;
const CHAT_MAX = 2000;
const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });

// --------------------------------------------------------------------------- small DOM helpers

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "text") node.textContent = value;
    else if (key in node && typeof value !== "string") node[key] = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

function field(id, labelText, input, hint) {
  const wrap = el("div", { class: "field" }, el("label", { for: id, text: labelText }));
  if (hint) {
    wrap.append(el("p", { class: "hint", id: id + "-hint", text: hint }));
    input.setAttribute("aria-describedby", id + "-hint");
  }
  wrap.append(input);
  return wrap;
}

// Shows or hides an element. The `hidden` attribute alone loses to a class that sets `display`
// (.badge, .actions, .grid), so the inline display is set too.
function setShown(node, on) {
  node.hidden = !on;
  node.style.display = on ? "" : "none";
}

function button(id, text, extraClass) {
  return el("button", { type: "button", id, class: extraClass || undefined, text });
}

// A server message as a sentence: capital first letter, final full stop.
function sentence(text) {
  const t = String(text || "").trim();
  if (!t) return t;
  const s = t[0].toUpperCase() + t.slice(1);
  return /[.!?…]$/.test(s) ? s : s + ".";
}

function formatInstant(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "" : timeFormat.format(d);
}

async function readProblem(reply) {
  try {
    const body = await reply.json();
    const parts = [body.title, body.detail].filter((s) => typeof s === "string" && s.trim());
    if (parts.length) return parts.join(": ");
  } catch {
    // not JSON: fall through
  }
  if (reply.status === 401) return "Your session has ended: sign in again to join the call.";
  if (reply.status === 404) return "This consultation was not found, or it is not yours to join.";
  return `The server answered ${reply.status}.`;
}

async function getJSON(url) {
  const reply = await fetch(url, {
    credentials: "same-origin",
    cache: "no-store",
    headers: { Accept: "application/json" },
  });
  if (!reply.ok) {
    const error = new Error(await readProblem(reply));
    error.status = reply.status;
    throw error;
  }
  return reply.json();
}

function closeMessage(code, info) {
  switch (code) {
    case 4000:
      return "You joined this call from another window or device, so it was disconnected here.";
    case 4400:
      return "The call was disconnected after a message the server could not accept. Reload the page to join again.";
    case 4403:
      return "The invitation that let you into this call was withdrawn.";
    case 4409:
      return "You are already in this call in another window or on another device. Leave it there, then reload this page.";
    case 4410:
      return "This consultation has ended or was cancelled, so the call is closed.";
    case 4425: {
      const opens = info && info.opens_at ? formatInstant(info.opens_at) : "";
      const closes = info && info.closes_at ? formatInstant(info.closes_at) : "";
      return opens && closes
        ? `The call is open only from ${opens} to ${closes}.`
        : "The call is not open at this time.";
    }
    case 4429:
      return "Too many messages were sent too quickly, so the call was disconnected. Reload the page to join again.";
    case 1009:
      return "A message was too large for the call.";
    default:
      return "The connection was lost.";
  }
}

// --------------------------------------------------------------------------- the call

class Call {
  constructor(page, root) {
    this.page = page;
    this.root = root;
    this.consultation = page.dataset.consultation;
    this.role = page.dataset.role === "clinician" ? "clinician" : "patient";
    this.peerRole = this.role === "patient" ? "clinician" : "patient";
    this.polite = this.role === "patient";
    this.infoUrl = page.dataset.infoUrl;
    this.chatUrl = page.dataset.chatUrl;

    this.info = null;
    this.state = "connecting";
    this.mode = "video";
    this.muted = false;
    this.videoEnabled = true;
    this.localStream = new MediaStream();
    this.remoteStream = new MediaStream();

    this.ws = null;
    this.pc = null;
    this.resumeToken = null;
    this.joinedOnce = false;
    this.finished = false;
    this.leaving = false; // we sent hangup/end: the close that follows is expected
    this.peerPresent = false;
    this.peerMedia = null;
    this.reconnectAttempt = 0;
    this.reconnectSince = 0;
    this.reconnectTimer = null;
    this.pingTimer = null;
    this.locationAddress = null;
    this.locationSent = false;
    this.pendingCandidates = [];
    this.maySendCandidates = false;
    this.incoming = Promise.resolve();
    this.seenChat = new Set();

    // Perfect negotiation.
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.isSettingRemoteAnswerPending = false;

    const self = this;
    window.confideCall = {
      get pc() { return self.pc; },
      get state() { return self.state; },
      get mode() { return self.mode; },
      get ws() { return self.ws; },
      get muted() { return self.muted; },
      get peerMedia() { return self.peerMedia; },
    };
  }

  // ------------------------------------------------------------------ start

  async start() {
    this.buildStatus();
    this.setState("connecting", "Loading the call…");
    try {
      this.info = await getJSON(this.infoUrl);
    } catch (e) {
      this.setState("error", e.message);
      return;
    }
    const info = this.info;
    if (info.role === "patient" || info.role === "clinician") {
      this.role = info.role;
      this.peerRole = this.role === "patient" ? "clinician" : "patient";
      this.polite = this.role === "patient";
    } else {
      this.setState("error", "This page runs calls between the patient and their clinician only; joining as an invited clinician is not available here yet.");
      this.showLinkBack();
      return;
    }
    if (!info.joinable) {
      const over = ["ended", "cancelled", "documented", "no-show"].includes(info.status);
      this.setState(over ? "ended" : "error", sentence(info.reason) || "This call cannot be joined now.");
      this.showLinkBack();
      return;
    }
    this.mode = info.modality === "audio" ? "audio-only" : "video";
    if (this.role === "patient") {
      this.askLocation();
    } else {
      this.join();
    }
  }

  buildStatus() {
    this.stateEl = el("p", { id: "call-state", role: "status", "aria-live": "polite", class: "notice" });
    this.noticeEl = el("p", { id: "call-notice", class: "muted", "aria-live": "polite", hidden: true });
    this.root.replaceChildren(this.stateEl, this.noticeEl);
  }

  setState(state, text) {
    this.state = state;
    this.stateEl.dataset.state = state;
    this.stateEl.textContent = text || STATE_TEXT[state];
    this.stateEl.className = state === "error" || state === "failed" ? "error" : "notice";
    this.stateEl.setAttribute("role", state === "error" || state === "failed" ? "alert" : "status");
  }

  notice(text) {
    if (!this.noticeEl) return;
    this.noticeEl.textContent = text || "";
    setShown(this.noticeEl, Boolean(text));
  }

  consultationHref() {
    return "/clinic/consultations/" + encodeURIComponent(this.consultation);
  }

  showLinkBack() {
    if (this.root.querySelector("#call-back")) return;
    this.root.append(
      el("p", { class: "actions" },
        el("a", { id: "call-back", href: this.consultationHref(), text: "Back to the consultation" }))
    );
  }

  // ------------------------------------------------------------------ the patient's location

  askLocation() {
    this.setState("connecting", "Before the call starts, tell your clinician where you are.");
    const input = el("input", {
      id: "location-address",
      name: "address",
      type: "text",
      required: true,
      maxLength: ADDRESS_MAX,
      autocomplete: "street-address",
    });
    if (typeof this.info.location === "string") input.value = this.info.location;
    const error = el("p", { class: "field-error", id: "location-error", hidden: true });
    const form = el("form", { id: "location-form", novalidate: true },
      field("location-address", "Where are you right now?", input,
        "Your address or a description of where you are, so that help can be sent in an emergency."),
      error,
      el("div", { class: "actions" }, el("button", { type: "submit", id: "location-confirm", text: "Confirm and join the call" }))
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const address = input.value.trim();
      let problem = "";
      if (!address) problem = "Enter where you are to join the call.";
      else if (address.length > ADDRESS_MAX) problem = `Use at most ${ADDRESS_MAX} characters.`;
      if (problem) {
        error.textContent = problem;
        setShown(error, true);
        input.setAttribute("aria-invalid", "true");
        input.focus();
        return;
      }
      this.locationAddress = address;
      form.remove();
      this.join();
    });
    this.root.append(form);
    input.focus();
  }

  // ------------------------------------------------------------------ the call UI

  buildCallUI() {
    const remoteVideo = el("video", { id: "remote-video", autoplay: true, playsInline: true });
    remoteVideo.setAttribute("playsinline", "");
    remoteVideo.setAttribute("aria-label", `The ${ROLE_NAME[this.peerRole]}'s video`);
    remoteVideo.srcObject = this.remoteStream;
    const localVideo = el("video", { id: "local-video", autoplay: true, playsInline: true, muted: true });
    localVideo.setAttribute("playsinline", "");
    localVideo.setAttribute("muted", "");
    localVideo.setAttribute("aria-label", "Your own video");
    localVideo.muted = true;
    localVideo.srcObject = this.localStream;
    for (const v of [remoteVideo, localVideo]) {
      v.style.background = "#111";
      v.style.borderRadius = "4px";
      v.style.display = "block";
    }
    remoteVideo.style.width = "100%";
    remoteVideo.style.maxHeight = "60vh";
    localVideo.style.width = "180px";
    localVideo.style.maxWidth = "40%";
    this.remoteVideo = remoteVideo;
    this.localVideo = localVideo;

    this.remoteModeEl = el("span", { id: "remote-mode", class: "badge", text: "Not joined yet" });
    this.remoteMutedEl = el("span", { id: "remote-muted", class: "badge", text: "Microphone muted" });
    setShown(this.remoteMutedEl, false);
    this.playButton = button("play-remote", "Play sound and video", "secondary");
    setShown(this.playButton, false);
    this.playButton.addEventListener("click", () => this.playRemote());

    this.cameraSelect = el("select", { id: "camera" });
    this.micSelect = el("select", { id: "microphone" });
    this.cameraSelect.addEventListener("change", () => this.switchDevice("video"));
    this.micSelect.addEventListener("change", () => this.switchDevice("audio"));

    this.muteButton = button("mute", "Mute", "secondary");
    this.videoButton = button("video-toggle", "Turn video off", "secondary");
    this.modeButton = button("mode-toggle", "Switch to audio only", "secondary");
    this.hangupButton = button("hangup", "Hang up", "danger");
    this.muteButton.addEventListener("click", () => this.toggleMute());
    this.videoButton.addEventListener("click", () => this.toggleVideo());
    this.modeButton.addEventListener("click", () => this.toggleMode());
    this.hangupButton.addEventListener("click", () => this.hangup());
    this.muteButton.setAttribute("aria-pressed", "false");
    this.videoButton.setAttribute("aria-pressed", "false");

    const controls = el("div", { class: "actions", id: "call-controls", role: "group", "aria-label": "Call controls" },
      this.muteButton, this.videoButton, this.modeButton, this.hangupButton);
    if (this.role === "clinician") {
      this.endButton = button("end-consultation", "End consultation", "danger");
      this.endConfirm = button("end-confirm", "Yes, end the consultation for both of you", "danger");
      this.endCancel = button("end-cancel", "Keep the call going", "secondary");
      const confirmRow = el("div", { class: "actions", id: "end-confirm-row", hidden: true },
        el("span", { text: "End the consultation? The call closes for the patient too." }), this.endConfirm, this.endCancel);
      this.endButton.addEventListener("click", () => {
        setShown(confirmRow, true);
        this.endConfirm.focus();
      });
      this.endCancel.addEventListener("click", () => {
        setShown(confirmRow, false);
        this.endButton.focus();
      });
      this.endConfirm.addEventListener("click", () => this.endConsultation());
      controls.append(this.endButton);
      this.endConfirmRow = confirmRow;
      setShown(confirmRow, false);
    }

    const devices = el("div", { class: "grid", id: "call-devices" },
      field("camera", "Camera", this.cameraSelect),
      field("microphone", "Microphone", this.micSelect));

    const media = el("section", { id: "call-media", "aria-label": "Call" },
      el("p", {}, el("strong", { text: `The ${ROLE_NAME[this.peerRole]}: ` }), this.remoteModeEl, " ", this.remoteMutedEl),
      remoteVideo,
      this.playButton,
      el("p", { class: "muted", text: "You:" }),
      localVideo,
      controls,
      this.endConfirmRow || null,
      devices);

    const panels = [media];
    if (this.role === "clinician") {
      this.locationText = el("p", { id: "patient-location-address", text: "The patient has not confirmed a location yet." });
      this.locationPanel = el("section", { id: "patient-location", class: "notice", "aria-labelledby": "patient-location-title" },
        el("h2", { id: "patient-location-title", text: "Patient's location (confirmed by the patient)" }),
        this.locationText);
      panels.unshift(this.locationPanel);
    } else if (this.locationAddress) {
      panels.unshift(el("p", { id: "own-location", class: "muted" }, "Your location for this call: ", el("strong", { text: this.locationAddress })));
    }

    this.chatLog = el("ol", { id: "chat-log", "aria-live": "polite", "aria-label": "Chat messages" });
    this.chatLog.style.listStyle = "none";
    this.chatLog.style.padding = "0";
    this.chatLog.style.maxHeight = "40vh";
    this.chatLog.style.overflowY = "auto";
    this.chatEmpty = el("p", { id: "chat-empty", class: "muted", text: "No messages yet." });
    this.chatInput = el("input", { id: "chat-input", name: "text", type: "text", maxLength: CHAT_MAX, autocomplete: "off" });
    this.chatError = el("p", { class: "field-error", id: "chat-error", hidden: true });
    this.chatSend = el("button", { type: "submit", id: "chat-send", text: "Send" });
    this.chatForm = el("form", { id: "chat-form", novalidate: true },
      field("chat-input", "Message", this.chatInput), this.chatError, el("div", { class: "actions" }, this.chatSend));
    this.chatForm.addEventListener("submit", (event) => {
      event.preventDefault();
      this.sendChat();
    });
    const chat = el("section", { id: "call-chat", "aria-labelledby": "chat-title" },
      el("h2", { id: "chat-title", text: "Chat" }), this.chatEmpty, this.chatLog, this.chatForm);
    panels.push(chat);

    this.callEl = el("div", { id: "call-ui" }, ...panels);
    // Chat beside the call where there is room, below it on a phone.
    this.callEl.style.display = "flex";
    this.callEl.style.flexWrap = "wrap";
    this.callEl.style.gap = "0 24px";
    this.callEl.style.alignItems = "flex-start";
    for (const panel of panels) panel.style.flex = "1 1 100%";
    media.style.flex = "2 1 26rem";
    media.style.minWidth = "0";
    chat.style.flex = "1 1 16rem";
    chat.style.minWidth = "0";
    this.root.append(this.callEl);
    this.updateControls();
    this.setChatEnabled(false);
  }

  updateControls() {
    if (!this.muteButton) return;
    const audio = this.localStream.getAudioTracks()[0];
    const video = this.localStream.getVideoTracks()[0];
    this.muteButton.textContent = this.muted ? "Unmute" : "Mute";
    this.muteButton.setAttribute("aria-pressed", String(this.muted));
    this.muteButton.disabled = !audio;
    this.videoButton.textContent = this.videoEnabled ? "Turn video off" : "Turn video on";
    this.videoButton.setAttribute("aria-pressed", String(!this.videoEnabled));
    this.videoButton.disabled = this.mode !== "video" || !video;
    this.modeButton.textContent = this.mode === "video" ? "Switch to audio only" : "Switch to video";
    this.cameraSelect.disabled = this.mode !== "video" || this.cameraSelect.options.length === 0;
    this.micSelect.disabled = this.micSelect.options.length === 0;
    setShown(this.localVideo, this.mode === "video");
  }

  setChatEnabled(on) {
    if (!this.chatInput) return;
    this.chatInput.disabled = !on;
    this.chatSend.disabled = !on;
  }

  // ------------------------------------------------------------------ local media

  constraints(kind) {
    const select = kind === "audio" ? this.micSelect : this.cameraSelect;
    const id = select && select.value;
    return id ? { deviceId: { exact: id } } : true;
  }

  async acquire(kind) {
    const stream = await navigator.mediaDevices.getUserMedia(
      kind === "audio" ? { audio: this.constraints("audio") } : { video: this.constraints("video") }
    );
    return stream.getTracks()[0];
  }

  async startLocalMedia() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      this.notice("This browser cannot use a camera or microphone here. You can still see and hear the other person.");
      return;
    }
    const wantVideo = this.mode === "video";
    let stream = null;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: wantVideo });
    } catch (e) {
      if (wantVideo) {
        try {
          stream = await navigator.mediaDevices.getUserMedia({ audio: true });
          this.mode = "audio-only";
          this.notice("Your camera could not be used, so you joined with audio only.");
        } catch {
          stream = null;
        }
      }
      if (!stream) {
        this.notice(
          e && e.name === "NotAllowedError"
            ? "Camera and microphone access was refused. Allow it in the browser's site settings and reload to be seen and heard."
            : "No camera or microphone could be used. You can still see and hear the other person."
        );
      }
    }
    if (stream) for (const t of stream.getTracks()) this.localStream.addTrack(t);
    await this.listDevices();
    navigator.mediaDevices.addEventListener("devicechange", () => this.listDevices());
  }

  async listDevices() {
    let devices = [];
    try {
      devices = await navigator.mediaDevices.enumerateDevices();
    } catch {
      devices = [];
    }
    const fill = (select, kind, track, fallback) => {
      const current = track ? track.getSettings().deviceId : select.value;
      const options = devices
        .filter((d) => d.kind === kind && d.deviceId)
        .map((d, i) => el("option", { value: d.deviceId, text: d.label || `${fallback} ${i + 1}` }));
      select.replaceChildren(...options);
      if (current && options.some((o) => o.value === current)) select.value = current;
    };
    fill(this.cameraSelect, "videoinput", this.localStream.getVideoTracks()[0], "Camera");
    fill(this.micSelect, "audioinput", this.localStream.getAudioTracks()[0], "Microphone");
    this.updateControls();
  }

  async switchDevice(kind) {
    const old = kind === "audio" ? this.localStream.getAudioTracks()[0] : this.localStream.getVideoTracks()[0];
    if (kind === "video" && this.mode !== "video") return;
    let track;
    try {
      track = await this.acquire(kind);
    } catch {
      this.notice(`That ${kind === "audio" ? "microphone" : "camera"} could not be used.`);
      return;
    }
    track.enabled = kind === "audio" ? !this.muted : this.videoEnabled;
    const sender = this.senderFor(kind, old);
    try {
      if (sender) await sender.replaceTrack(track);
    } catch {
      track.stop();
      this.notice(`That ${kind === "audio" ? "microphone" : "camera"} could not be used.`);
      return;
    }
    if (old) {
      this.localStream.removeTrack(old);
      old.stop();
    }
    this.localStream.addTrack(track);
    if (!sender && this.pc) this.addLocalTrack(track);
    this.notice("");
    this.updateControls();
  }

  senderFor(kind, track) {
    if (!this.pc) return null;
    return this.pc.getSenders().find((s) => (track && s.track === track) || (s.track && s.track.kind === kind)) || null;
  }

  toggleMute() {
    this.muted = !this.muted;
    for (const t of this.localStream.getAudioTracks()) t.enabled = !this.muted;
    this.updateControls();
    this.sendMedia();
  }

  toggleVideo() {
    this.videoEnabled = !this.videoEnabled;
    for (const t of this.localStream.getVideoTracks()) t.enabled = this.videoEnabled;
    this.updateControls();
  }

  videoTransceiver() {
    if (!this.pc) return null;
    const all = this.pc.getTransceivers().filter((t) => !t.stopped && t.receiver.track && t.receiver.track.kind === "video");
    return all.find((t) => t.sender.track) || all.find((t) => t.mid !== null) || all[0] || null;
  }

  // Audio only: no video either way (the camera is released and the video transceiver goes
  // inactive); back to video: the camera is taken again and the transceiver sends and receives.
  async toggleMode() {
    this.modeButton.disabled = true;
    try {
      if (this.mode === "video") {
        this.mode = "audio-only";
        for (const t of this.localStream.getVideoTracks()) {
          this.localStream.removeTrack(t);
          t.stop();
        }
        const tr = this.videoTransceiver();
        if (tr) {
          await tr.sender.replaceTrack(null);
          tr.direction = "inactive";
        }
      } else {
        this.mode = "video";
        let track = null;
        try {
          track = await this.acquire("video");
          track.enabled = this.videoEnabled;
          this.localStream.addTrack(track);
        } catch {
          this.notice("Your camera could not be used; you can still see the other person.");
        }
        if (this.pc) {
          const tr = this.videoTransceiver();
          if (tr) {
            if (track) {
              await tr.sender.replaceTrack(track);
              if (tr.sender.setStreams) tr.sender.setStreams(this.localStream);
            }
            tr.direction = track ? "sendrecv" : "recvonly";
          } else if (track) {
            this.addLocalTrack(track);
          }
        }
        if (this.cameraSelect.options.length === 0) await this.listDevices();
      }
    } catch (e) {
      this.notice(`The call could not switch: ${e.message || e}`);
    } finally {
      this.updateControls();
      this.modeButton.disabled = false;
    }
    this.sendMedia();
  }

  // ------------------------------------------------------------------ joining

  async join() {
    this.buildCallUI();
    this.setState("connecting", "Starting your camera and microphone…");
    await this.startLocalMedia();
    this.updateControls();
    this.loadChat();
    this.connect();
  }

  wsUrl() {
    const url = new URL(this.info.ws_url, location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    if (this.resumeToken) url.searchParams.set("resume", this.resumeToken);
    return url.href;
  }

  connect() {
    if (this.finished) return;
    this.setState(this.joinedOnce ? "reconnecting" : "connecting",
      this.joinedOnce ? STATE_TEXT.reconnecting : "Joining the call…");
    let ws;
    try {
      ws = new WebSocket(this.wsUrl());
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.addEventListener("message", (event) => {
      if (ws !== this.ws) return;
      let msg;
      try {
        msg = JSON.parse(event.data);
      } catch {
        return;
      }
      if (!msg || typeof msg.type !== "string") return;
      this.incoming = this.incoming.then(() => this.handle(msg)).catch((e) => this.notice(`Call problem: ${e && e.message ? e.message : e}`));
    });
    ws.addEventListener("close", (event) => {
      if (ws !== this.ws) return;
      this.onClose(event);
    });
  }

  send(msg) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }

  sendMedia() {
    this.send({ type: "media", mode: this.mode, muted: this.muted });
  }

  onClose(event) {
    clearInterval(this.pingTimer);
    this.setChatEnabled(false);
    if (this.finished) return;
    const code = event.code;
    if (this.leaving || code === 1000) {
      if (this.leaving === "hangup") this.finish("ended", "You have left the call. The consultation has not been ended.", true);
      else this.finish("ended", "The call has ended.");
      return;
    }
    if (NO_RETRY_CODES.has(code)) {
      const detail = this.lastError ? ` (${this.lastError})` : "";
      const text = closeMessage(code, this.info) + (code === 4425 || code === 4410 ? detail : "");
      this.finish(code === 4410 || code === 4000 ? "ended" : "error", text, code === 4000);
      return;
    }
    this.scheduleReconnect();
  }

  async scheduleReconnect() {
    if (this.finished) return;
    if (!this.reconnectSince) this.reconnectSince = Date.now();
    if (Date.now() - this.reconnectSince > RECONNECT_GIVE_UP_MS) {
      this.finish("failed", "The connection to the call was lost and could not be restored. Check your internet connection and reload the page.", true);
      return;
    }
    this.setState("reconnecting", this.joinedOnce ? STATE_TEXT.reconnecting : "Could not reach the call: trying again…");
    const delay = BACKOFF_MS[Math.min(this.reconnectAttempt, BACKOFF_MS.length - 1)];
    this.reconnectAttempt += 1;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => this.reconnect(), delay);
  }

  async reconnect() {
    if (this.finished) return;
    if (this.reconnectAttempt > 1) {
      // Several attempts failed: ask whether the call can still be joined (the WebSocket upgrade
      // answers every refusal with a bare 400, the join information says why).
      try {
        const info = await getJSON(this.infoUrl);
        this.info = info;
        if (!info.joinable) {
          this.finish("ended", sentence(info.reason) || "This call can no longer be joined.");
          return;
        }
        if (this.pc) this.applyIceConfig(this.pc);
      } catch (e) {
        if (e.status === 401 || e.status === 403 || e.status === 404) {
          this.finish("error", e.message);
          return;
        }
        // network still down: try again later
        this.scheduleReconnect();
        return;
      }
    }
    this.connect();
  }

  // ------------------------------------------------------------------ incoming messages

  async handle(msg) {
    if (this.finished) return;
    switch (msg.type) {
      case "welcome":
        return this.onWelcome(msg);
      case "peer-joined":
        return this.onPeerJoined(msg);
      case "peer-left":
        return this.onPeerLeft(msg);
      case "offer":
      case "answer":
        if (msg.from !== this.peerRole) return; // this page calls the patient-clinician pair only
        return this.onDescription(msg.type, msg.sdp);
      case "candidate":
        if (msg.from !== this.peerRole) return;
        return this.onCandidate(msg);
      case "media":
        if (msg.from !== this.peerRole) return;
        return this.onPeerMedia(msg);
      case "chat":
        return this.addChat(msg);
      case "location":
        return this.showLocation(msg.address, msg.at);
      case "status":
        this.consultationStatus = msg.status;
        return;
      case "ended":
        this.leaving = "ended";
        this.finish("ended", this.role === "clinician"
          ? "You ended the consultation. The call is over."
          : "The clinician has ended the consultation. The call is over.");
        return;
      case "error":
        this.lastError = msg.message || msg.code;
        if (msg.code === "out-of-order" || msg.code === "no-peer" || msg.code === "not-allowed") {
          this.notice(msg.message || "The call refused a message.");
        }
        return;
      case "pong":
        return;
      default:
        return;
    }
  }

  onWelcome(msg) {
    const resumed = this.joinedOnce;
    this.joinedOnce = true;
    this.reconnectAttempt = 0;
    this.reconnectSince = 0;
    this.lastError = null;
    if (typeof msg.resumeToken === "string") this.resumeToken = msg.resumeToken;
    if (msg.status) this.consultationStatus = msg.status;
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => this.send({ type: "ping" }), PING_MS);
    this.setChatEnabled(true);
    if (this.role === "patient" && this.locationAddress && !this.locationSent) {
      this.send({ type: "location", address: this.locationAddress });
      this.locationSent = true;
    }
    if (this.role === "clinician" && typeof msg.location === "string" && msg.location) this.showLocation(msg.location);
    this.sendMedia();
    if (resumed) this.loadChat(); // catch up on anything said while away

    const peer = (msg.peers || []).find((p) => p && p.role === this.peerRole);
    this.peerPresent = Boolean(peer);
    if (peer) this.onPeerMedia(peer);
    if (!peer) {
      this.updatePeerLabel();
      this.setState("waiting", `Waiting for the ${ROLE_NAME[this.peerRole]} to join…`);
      return;
    }
    if (resumed && this.pc && this.pc.remoteDescription) {
      // Our connection came back: the peer connection may still be alive; restart ICE.
      this.maySendCandidates = false;
      this.setState("reconnecting", "Reconnected to the server: restoring the call…");
      this.restartIce();
    } else {
      this.resetPeerConnection();
      this.setState("connecting", `Connecting to the ${ROLE_NAME[this.peerRole]}…`);
    }
  }

  onPeerJoined(msg) {
    if (msg.role !== this.peerRole) return;
    this.peerPresent = true;
    if (msg.resumed && this.pc && this.pc.remoteDescription) {
      // The peer came back on the same page: it restarts ICE itself.
      this.setState("reconnecting", `The ${ROLE_NAME[this.peerRole]} is back: restoring the call…`);
      return;
    }
    this.resetPeerConnection();
    this.setState("connecting", `The ${ROLE_NAME[this.peerRole]} joined: connecting…`);
  }

  onPeerLeft(msg) {
    if (msg.role !== this.peerRole) return;
    this.peerPresent = false;
    if (msg.reason === "dropped") {
      this.setState("waiting", `The ${ROLE_NAME[this.peerRole]}'s connection dropped: waiting for them to come back…`);
      return;
    }
    this.closePeerConnection();
    this.peerMedia = null;
    this.updatePeerLabel("Left the call");
    this.setState("waiting", `The ${ROLE_NAME[this.peerRole]} left the call. Waiting for them to rejoin…`);
  }

  onPeerMedia(msg) {
    this.peerMedia = { mode: msg.mode, muted: Boolean(msg.muted) };
    this.updatePeerLabel();
  }

  updatePeerLabel(override) {
    if (!this.remoteModeEl) return;
    const media = this.peerMedia;
    if (override || !media) {
      this.remoteModeEl.textContent = override || (this.peerPresent ? "Joined" : "Not in the call");
      delete this.remoteModeEl.dataset.mode;
      setShown(this.remoteMutedEl, false);
      return;
    }
    this.remoteModeEl.dataset.mode = media.mode;
    this.remoteModeEl.textContent = media.mode === "audio-only" ? "Audio only" : "Video";
    setShown(this.remoteMutedEl, media.muted);
    this.remoteVideo.style.visibility = media.mode === "audio-only" ? "hidden" : "visible";
    this.remoteVideo.style.height = media.mode === "audio-only" ? "0" : "";
  }

  showLocation(address, at) {
    if (this.role !== "clinician" || !this.locationText || typeof address !== "string") return;
    this.locationText.replaceChildren(el("strong", { text: address }));
    if (at) {
      const time = el("time", { datetime: at, text: at });
      this.locationText.append(" (confirmed ", time, ")");
      localiseTimes(this.locationText);
    }
  }

  // ------------------------------------------------------------------ WebRTC

  applyIceConfig(pc) {
    try {
      pc.setConfiguration({
        iceServers: this.info.ice_servers || [],
        iceTransportPolicy: this.info.ice_transport_policy === "relay" ? "relay" : "all",
      });
    } catch {
      // keep the configuration the connection has
    }
  }

  closePeerConnection() {
    const pc = this.pc;
    this.pc = null;
    this.pendingCandidates = [];
    this.maySendCandidates = false;
    if (pc) {
      pc.onnegotiationneeded = pc.onicecandidate = pc.ontrack = pc.onconnectionstatechange = pc.onsignalingstatechange = null;
      pc.close();
    }
    for (const t of this.remoteStream.getTracks()) this.remoteStream.removeTrack(t);
  }

  addLocalTrack(track) {
    this.pc.addTrack(track, this.localStream);
  }

  resetPeerConnection() {
    this.closePeerConnection();
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.isSettingRemoteAnswerPending = false;
    const pc = new RTCPeerConnection({
      iceServers: this.info.ice_servers || [],
      iceTransportPolicy: this.info.ice_transport_policy === "relay" ? "relay" : "all",
    });
    this.pc = pc;

    pc.onicecandidate = ({ candidate }) => {
      if (!candidate || !candidate.candidate) return; // end of candidates: nothing to tell
      const msg = {
        type: "candidate",
        to: this.peerRole,
        candidate: candidate.candidate,
        sdpMid: candidate.sdpMid ?? null,
        sdpMLineIndex: candidate.sdpMLineIndex ?? null,
      };
      if (this.maySendCandidates) this.send(msg);
      else this.pendingCandidates.push(msg);
    };
    pc.ontrack = ({ track }) => {
      if (!this.remoteStream.getTracks().includes(track)) this.remoteStream.addTrack(track);
      track.addEventListener("ended", () => this.remoteStream.removeTrack(track));
      this.playRemote();
    };
    pc.onsignalingstatechange = () => {
      if (pc === this.pc && pc.signalingState === "stable") this.refreshConnected();
    };
    pc.onconnectionstatechange = () => {
      if (pc !== this.pc || this.finished) return;
      switch (pc.connectionState) {
        case "connected":
          this.refreshConnected();
          break;
        case "disconnected":
          this.setState("reconnecting", "The connection is unstable: reconnecting…");
          break;
        case "failed":
          this.setState("reconnecting", "The connection failed: trying again…");
          this.restartIce();
          break;
        default:
          break;
      }
    };
    pc.onnegotiationneeded = async () => {
      if (pc !== this.pc) return;
      // The clinician makes every first offer; the patient offers only for later changes.
      if (this.polite && !pc.remoteDescription) return;
      if (!this.peerPresent) return;
      try {
        this.makingOffer = true;
        await pc.setLocalDescription();
        if (pc !== this.pc) return;
        if (pc.localDescription && pc.localDescription.type === "offer") {
          this.send({ type: "offer", sdp: pc.localDescription.sdp, to: this.peerRole });
          this.allowCandidates();
        }
      } catch (e) {
        this.notice(`Could not start the call's media: ${e.message || e}`);
      } finally {
        this.makingOffer = false;
      }
    };

    const audio = this.localStream.getAudioTracks()[0];
    const video = this.localStream.getVideoTracks()[0];
    if (audio) this.addLocalTrack(audio);
    else if (!this.polite) pc.addTransceiver("audio", { direction: "recvonly" });
    if (this.mode === "video" && video) this.addLocalTrack(video);
    else if (!this.polite) pc.addTransceiver("video", { direction: this.mode === "video" ? "recvonly" : "inactive" });
  }

  // "connected" once the peer connection is; an ICE restart that never interrupted the media
  // does not change connectionState, so this is also checked when a negotiation completes.
  refreshConnected() {
    if (this.finished || !this.pc || this.pc.connectionState !== "connected") return;
    if (this.state === "connected" && this.stateEl.textContent) return;
    this.setState("connected", `Connected with the ${ROLE_NAME[this.peerRole]}`);
  }

  allowCandidates() {
    this.maySendCandidates = true;
    const queued = this.pendingCandidates;
    this.pendingCandidates = [];
    for (const c of queued) this.send(c);
  }

  restartIce() {
    if (!this.pc) return;
    this.applyIceConfig(this.pc);
    if (this.polite && !this.pc.remoteDescription) return;
    this.pc.restartIce();
  }

  async onDescription(type, sdp) {
    if (typeof sdp !== "string") return;
    if (!this.pc) {
      if (type !== "offer") return;
      this.peerPresent = true;
      this.resetPeerConnection();
    }
    const pc = this.pc;
    const readyForOffer = !this.makingOffer && (pc.signalingState === "stable" || this.isSettingRemoteAnswerPending);
    const offerCollision = type === "offer" && !readyForOffer;
    this.ignoreOffer = !this.polite && offerCollision;
    if (this.ignoreOffer) return;
    if (type === "answer" && pc.signalingState !== "have-local-offer") return; // a stale answer
    this.isSettingRemoteAnswerPending = type === "answer";
    try {
      await pc.setRemoteDescription({ type, sdp });
    } finally {
      this.isSettingRemoteAnswerPending = false;
    }
    if (type === "offer") {
      await this.syncVideoDirectionForAnswer();
      await pc.setLocalDescription();
      this.send({ type: "answer", sdp: pc.localDescription.sdp, to: this.peerRole });
      this.allowCandidates();
    }
  }

  // When answering, make the video transceiver match this side's mode (a transceiver the offer
  // created has no track yet; an audio-only side keeps video inactive).
  async syncVideoDirectionForAnswer() {
    const pc = this.pc;
    const video = this.localStream.getVideoTracks()[0];
    for (const tr of pc.getTransceivers()) {
      if (tr.stopped || !tr.receiver.track || tr.receiver.track.kind !== "video") continue;
      if (this.mode !== "video") {
        if (tr.direction !== "inactive") tr.direction = "inactive";
      } else if (video && !tr.sender.track && !pc.getSenders().some((s) => s.track === video)) {
        await tr.sender.replaceTrack(video);
        if (tr.sender.setStreams) tr.sender.setStreams(this.localStream);
        tr.direction = "sendrecv";
      }
    }
    const audio = this.localStream.getAudioTracks()[0];
    if (audio && !pc.getSenders().some((s) => s.track === audio)) {
      const tr = pc.getTransceivers().find((t) => !t.stopped && t.receiver.track && t.receiver.track.kind === "audio" && !t.sender.track);
      if (tr) {
        await tr.sender.replaceTrack(audio);
        if (tr.sender.setStreams) tr.sender.setStreams(this.localStream);
        tr.direction = "sendrecv";
      }
    }
  }

  async onCandidate(msg) {
    if (!this.pc) return;
    const init = {
      candidate: typeof msg.candidate === "string" ? msg.candidate : "",
      sdpMid: msg.sdpMid ?? null,
      sdpMLineIndex: msg.sdpMLineIndex ?? null,
    };
    if (!init.candidate) return; // end of candidates
    try {
      await this.pc.addIceCandidate(init);
    } catch (e) {
      if (!this.ignoreOffer && this.pc && this.pc.remoteDescription) {
        this.notice(`A network route from the other side could not be used (${e.message || e}).`);
      }
    }
  }

  playRemote() {
    const p = this.remoteVideo.play();
    if (p && typeof p.catch === "function") {
      p.then(() => {
        setShown(this.playButton, false);
      }).catch((e) => {
        if (e && e.name === "NotAllowedError") setShown(this.playButton, true);
      });
    }
  }

  // ------------------------------------------------------------------ chat

  async loadChat() {
    try {
      const data = await getJSON(this.chatUrl);
      for (const m of data.messages || []) this.addChat(m);
    } catch (e) {
      this.chatError.textContent = `Earlier messages could not be loaded: ${e.message}`;
      setShown(this.chatError, true);
    }
  }

  addChat(m, pending = false) {
    if (!this.chatLog || !m || typeof m.text !== "string") return;
    if (m.id && this.seenChat.has(m.id)) return;
    if (m.id) this.seenChat.add(m.id);
    if (!pending && m.from === this.role) {
      // Our own message coming back from the server replaces the copy shown when it was sent.
      const mine = [...this.chatLog.querySelectorAll("li[data-pending]")].find((li) => li.dataset.text === m.text);
      if (mine) mine.remove();
    }
    const mine = m.from === this.role;
    const li = el("li", { dataset: { id: m.id || "", from: m.from || "" } });
    if (pending) {
      li.dataset.pending = "1";
      li.dataset.text = m.text;
    }
    li.style.margin = "0 0 8px";
    const who = el("strong", { text: mine ? "You" : m.from === "clinician" ? "Clinician" : m.from === "patient" ? "Patient" : String(m.from || "") });
    const when = m.at ? el("time", { datetime: m.at, class: "muted", text: formatInstant(m.at) }) : null;
    const text = el("span", { class: "chat-text", text: m.text });
    text.style.whiteSpace = "pre-wrap";
    li.append(who, " ", when || "", when ? " " : "", el("br"), text);
    // Keep the log in time order (history and live messages can interleave).
    const at = m.at || "";
    const after = [...this.chatLog.children].find((other) => {
      const t = other.querySelector("time");
      return at && t && t.getAttribute("datetime") > at;
    });
    this.chatLog.insertBefore(li, after || null);
    setShown(this.chatEmpty, false);
    this.chatLog.scrollTop = this.chatLog.scrollHeight; // the log scrolls, not the page
  }

  sendChat() {
    const text = this.chatInput.value.trim();
    let problem = "";
    if (!text) problem = "Write a message first.";
    else if (text.length > CHAT_MAX) problem = `Use at most ${CHAT_MAX} characters.`;
    // eslint-disable-next-line no-control-regex
    else if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(text)) problem = "The message holds characters that cannot be sent.";
    if (problem) {
      this.chatError.textContent = problem;
      setShown(this.chatError, true);
      return;
    }
    if (!this.send({ type: "chat", text })) {
      this.chatError.textContent = "Not connected: the message was not sent. Try again when the call reconnects.";
      setShown(this.chatError, true);
      return;
    }
    setShown(this.chatError, false);
    this.chatInput.value = "";
    this.addChat({ from: this.role, text, at: new Date().toISOString() }, true);
  }

  // ------------------------------------------------------------------ leaving

  hangup() {
    if (this.finished) return;
    this.leaving = "hangup";
    if (!this.send({ type: "hangup" })) {
      this.finish("ended", "You have left the call. The consultation has not been ended.", true);
      return;
    }
    this.setState("ended", "Leaving the call…");
    // The server closes with 1000; do not wait for ever.
    setTimeout(() => this.finish("ended", "You have left the call. The consultation has not been ended.", true), 3000);
  }

  endConsultation() {
    if (this.finished || this.role !== "clinician") return;
    this.leaving = "end";
    if (!this.send({ type: "end" })) {
      this.leaving = false;
      this.notice("Not connected: the consultation could not be ended. Try again when the call reconnects.");
      return;
    }
    this.endConfirm.disabled = true;
    this.setState("connecting", "Ending the consultation…");
  }

  finish(state, text, offerRejoin = false) {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.pingTimer);
    this.closePeerConnection();
    for (const t of this.localStream.getTracks()) t.stop();
    const ws = this.ws;
    if (ws && ws.readyState <= WebSocket.OPEN) {
      try {
        ws.close(1000);
      } catch {
        // already closing
      }
    }
    this.setState(state, text);
    this.notice("");
    this.setChatEnabled(false);
    if (this.chatForm) setShown(this.chatForm, false);
    if (this.callEl) {
      for (const b of this.callEl.querySelectorAll("#call-controls button, #end-confirm-row button, select")) b.disabled = true;
      const media = this.callEl.querySelector("#call-media");
      if (media) setShown(media, false);
    }
    if (offerRejoin && state !== "error") {
      this.root.append(el("p", { class: "actions" }, el("a", { id: "call-rejoin", href: location.pathname, text: "Rejoin the call" })));
    }
    this.showLinkBack();
  }
}

const page = document.getElementById("call-page");
const root = document.getElementById("call-root");
if (page && root) {
  const call = new Call(page, root);
  call.start().catch((e) => {
    if (call.stateEl) call.setState("error", `The call could not start: ${e && e.message ? e.message : e}`);
  });
}
