// The video/audio call page (docs/design/calls.md is the contract). The server renders
// <section id="call-page" data-…><div id="call-root"></div></section>; this module builds the whole
// call UI inside #call-root: join information, the patient's location, local media and device
// choice, WebRTC with "perfect negotiation" over the call's WebSocket, reconnection with the
// resume token, chat, a second clinician (invitation, the patient's consent, withdrawal), and the
// end of the call.
//
// A call has at most three participants: the patient, the consultation's clinician and one
// invited clinician (role `guest`). Every pair has its own peer connection (a mesh). Negotiation
// is deterministic per pair: in the order patient < guest < clinician the higher role is
// impolite and makes the first offer of every peer connection; the lower (polite) role answers
// it and only offers for later changes (mode switch, ICE restart). Collisions are resolved by the
// MDN perfect-negotiation pattern. Offers, answers and candidates always carry `to`; incoming
// ones are routed by `from`.
import { button, el, fetchJSON, sendJSON as sendJSONWith, setShown } from "./dom.js";
import { localiseTimes } from "./local-time.js";

const NO_RETRY_CODES = new Set([1000, 4000, 4400, 4403, 4409, 4410, 4425, 4429]);
const ROLE_RANK = { patient: 0, guest: 1, clinician: 2 };
const ROLE_NAME = { patient: "patient", clinician: "clinician", guest: "invited clinician" };
const STAFF_ROLE = { gp: "GP", nurse: "nurse", pharmacist: "pharmacist", therapist: "therapist" };
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

function field(id, labelText, input, hint) {
  const wrap = el("div", { class: "field" }, el("label", { for: id, text: labelText }));
  if (hint) {
    wrap.append(el("p", { class: "hint", id: id + "-hint", text: hint }));
    input.setAttribute("aria-describedby", id + "-hint");
  }
  wrap.append(input);
  return wrap;
}

// A question put to the patient in the call (a colleague joining, recording): the question, an
// answer (allow / decline), a withdrawal and an error line; hidden until needed.
function patientPrompt(o) {
  const text = el("p", { id: o.text });
  const allow = button(o.allow[0], o.allow[1]);
  const decline = button(o.decline[0], o.decline[1], "secondary");
  const withdraw = button(o.withdraw[0], o.withdraw[1], "danger");
  const error = el("p", { class: "field-error", id: o.error, role: "alert", hidden: true });
  const answers = el("div", { class: "actions" }, allow, decline);
  allow.addEventListener("click", () => o.onAnswer(true));
  decline.addEventListener("click", () => o.onAnswer(false));
  withdraw.addEventListener("click", () => o.onWithdraw());
  const section = el("section", { id: o.section, class: "notice", "aria-labelledby": o.title },
    el("h2", { id: o.title, text: o.heading }), text, answers, el("div", { class: "actions" }, withdraw), error);
  setShown(section, false);
  return { section, text, allow, decline, withdraw, error, answers };
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

// "a", "a and b", "a, b and c"
function listText(items) {
  if (items.length <= 1) return items.join("");
  return items.slice(0, -1).join(", ") + " and " + items[items.length - 1];
}

function isRole(role) {
  return typeof role === "string" && Object.prototype.hasOwnProperty.call(ROLE_RANK, role);
}

// The call's wording for a 401 and a 404; the fetch helpers are dom.js's.
const CALL_PROBLEMS = {
  401: "Your session has ended: sign in again to join the call.",
  404: "This consultation was not found, or it is not yours to join.",
};
const getJSON = (url) => fetchJSON(url, CALL_PROBLEMS);
const sendJSON = (method, url, csrf, body) => sendJSONWith(method, url, csrf, body, CALL_PROBLEMS);

function closeMessage(code, info) {
  switch (code) {
    case 4000:
      return "You joined this call from another window or device, so it was disconnected here.";
    case 4400:
      return "The call was disconnected after a message the server could not accept. Reload the page to join again.";
    case 4403:
      return "The patient or clinician removed you from this call.";
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

// --------------------------------------------------------------------------- recording (clinician)
//
// docs/design/recordings.md. The clinician's page records the call with MediaRecorder: both
// voices mixed with WebAudio and, in a video call, every picture side by side on a canvas. The
// recorder hands over a chunk every second; the chunks go up one after the other (a segment's
// chunks must arrive in order), each with its SHA-256, and a chunk sent again is harmless, so
// network errors are simply retried. A switch between audio only and video closes the segment
// and opens the next one.

const RECORDING_TIMESLICE_MS = 1000;
const RECORDING_FPS = 15;
const RECORDING_WIDTH = 1280;
const RECORDING_HEIGHT = 480;
const UPLOAD_BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000];
const PROBLEM_PREFIX = "urn:confide:problem:";

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function hexOf(buffer) {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
}

// A problem+json answer as {slug, text}.
async function problemOf(reply) {
  let body = {};
  try {
    body = (await reply.json()) || {};
  } catch {
    body = {};
  }
  const type = typeof body.type === "string" ? body.type : "";
  const parts = [body.title, body.detail].filter((s) => typeof s === "string" && s.trim());
  return {
    slug: type.startsWith(PROBLEM_PREFIX) ? type.slice(PROBLEM_PREFIX.length) : type,
    text: parts.length ? parts.join(": ") : `The server answered ${reply.status}.`,
  };
}

function chunkCount(n) {
  return n === 1 ? "1 chunk" : `${n} chunks`;
}

// The sequential upload of one recording's chunks.
class ChunkUploader {
  constructor(recordingID, csrf, onChange) {
    this.id = recordingID;
    this.csrf = csrf;
    this.onChange = onChange;
    this.queue = []; // {segment, index, blob, body, sha}
    this.next = new Map(); // segment -> the index of its next chunk
    this.running = false;
    this.stopped = false; // the server takes nothing more (stopped, or no longer ours)
    this.stored = 0;
    this.lost = 0; // chunks that could not be stored: always reported
    this.retrying = ""; // why the first chunk is waiting to be sent again
    this.error = "";
    this.gapResyncs = 0;
    this.discarded = false;
    this.idle = [];
  }

  get waiting() {
    return this.queue.length;
  }

  url(path = "") {
    return "/api/v1/recordings/" + encodeURIComponent(this.id) + path;
  }

  changed() {
    try {
      this.onChange(this);
    } catch {
      // the display is not the upload's business
    }
  }

  add(segment, blob) {
    if (!blob || !blob.size || this.discarded) return;
    const index = this.next.get(segment) || 0;
    this.next.set(segment, index + 1);
    if (this.stopped) {
      this.lost += 1;
      this.changed();
      return;
    }
    this.queue.push({ segment, index, blob, body: null, sha: null });
    this.changed();
    this.pump();
  }

  // The recording was stopped by the patient or the server: what is left is not wanted.
  discard() {
    this.discarded = true;
    this.stopped = true;
    this.queue = [];
    this.changed();
  }

  // Resolves once every queued chunk was sent (or the upload stopped).
  drain() {
    if (!this.running && !this.queue.length) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  async pump() {
    if (this.running) return;
    this.running = true;
    try {
      while (this.queue.length && !this.stopped) await this.sendFirst();
    } catch (e) {
      this.error = `The upload failed: ${e && e.message ? e.message : e}`;
      this.stopped = true;
    } finally {
      if (this.stopped && this.queue.length) {
        this.lost += this.queue.length;
        this.queue = [];
      }
      this.running = false;
      this.changed();
      const idle = this.idle;
      this.idle = [];
      for (const resolve of idle) resolve();
    }
  }

  drop(text) {
    this.queue.shift();
    this.lost += 1;
    this.error = text;
  }

  async sendFirst() {
    const chunk = this.queue[0];
    if (!chunk.sha) {
      chunk.body = await chunk.blob.arrayBuffer();
      chunk.sha = hexOf(await crypto.subtle.digest("SHA-256", chunk.body));
    }
    for (let attempt = 0; ; attempt += 1) {
      if (this.stopped) return;
      let reply = null;
      try {
        reply = await fetch(this.url(`/segments/${chunk.segment}/chunks/${chunk.index}`), {
          method: "PUT",
          credentials: "same-origin",
          cache: "no-store",
          headers: {
            Accept: "application/json",
            "Content-Type": "application/octet-stream",
            "X-CSRF-Token": this.csrf || "",
            "X-Content-SHA256": chunk.sha,
          },
          body: chunk.body,
        });
      } catch {
        reply = null; // network error: try again
      }
      if (reply && (reply.status === 200 || reply.status === 201)) {
        this.queue.shift();
        this.stored += 1;
        this.retrying = "";
        this.gapResyncs = 0;
        return;
      }
      if (reply && reply.status === 409) {
        const p = await problemOf(reply);
        if (p.slug === "recording-stopped") {
          this.stopped = true;
          this.error = "The recording has stopped: the server takes no more of it.";
          return;
        }
        if (p.slug === "chunk-gap" && this.gapResyncs < 5) {
          this.gapResyncs += 1;
          await this.resync(chunk.segment);
          return; // the loop sends the (renumbered) first chunk again
        }
        this.drop(`A part of the recording was not saved: ${p.text}`);
        return;
      }
      if (reply && reply.status === 413) {
        this.drop("A part of the recording was too large to be saved.");
        return;
      }
      if (reply && (reply.status === 401 || reply.status === 403 || reply.status === 404)) {
        const p = await problemOf(reply);
        this.stopped = true;
        this.error = reply.status === 401
          ? "Your session has ended, so the recording could not be saved. Sign in again."
          : `The recording can no longer be saved: ${p.text}`;
        return;
      }
      if (reply && reply.status < 500 && reply.status !== 408 && reply.status !== 429) {
        const p = await problemOf(reply);
        this.drop(`A part of the recording was not saved: ${p.text}`);
        return;
      }
      // No connection, or the server is busy or failing: the same chunk again, later.
      this.retrying = reply ? `the server answered ${reply.status}` : "no connection to the server";
      this.changed();
      await sleep(UPLOAD_BACKOFF_MS[Math.min(attempt, UPLOAD_BACKOFF_MS.length - 1)]);
    }
  }

  // The server expects another index: read how many chunks of the segment it holds and carry on
  // from there (the chunks it already has are done; a hole, if any, is reported).
  async resync(segment) {
    let recording;
    try {
      recording = await getJSON(this.url());
    } catch {
      await sleep(1000);
      return;
    }
    const seg = (recording.segments || []).find((s) => s && s.segment === segment);
    const stored = seg && Number.isInteger(seg.chunks) ? seg.chunks : 0;
    const before = this.queue.length;
    this.queue = this.queue.filter((c) => c.segment !== segment || c.index >= stored);
    this.stored += before - this.queue.length;
    let next = stored;
    let skipped = 0;
    for (const c of this.queue) {
      if (c.segment !== segment) continue;
      if (c.index > next && !skipped) skipped = c.index - next;
      c.index = next;
      next += 1;
    }
    this.next.set(segment, Math.max(next, stored));
    if (skipped) {
      this.lost += skipped;
      this.error = `${chunkCount(skipped)} of the recording went missing; the recording carries on after the gap.`;
    }
    this.changed();
  }
}

// What the recorder records: the call's voices mixed, and in video every picture side by side.
class CallCapture {
  constructor(call, mode, audioContext) {
    this.call = call;
    this.mode = mode; // "audio" | "video"
    this.ctx = audioContext;
    this.sources = new Map(); // track id -> source node
    this.recorder = null;
    this.timers = [];
    this.canvas = null;
    this.canvasStream = null;
  }

  static mimeType(mode) {
    const wanted = mode === "video"
      ? ["video/webm;codecs=vp8,opus", "video/webm"]
      : ["audio/webm;codecs=opus", "audio/webm"];
    if (typeof MediaRecorder === "undefined") return null;
    return wanted.find((t) => MediaRecorder.isTypeSupported(t)) || null;
  }

  audioTracks() {
    const tracks = [...this.call.localStream.getAudioTracks()];
    for (const peer of this.call.peers.values()) {
      if (peer.present) tracks.push(...peer.stream.getAudioTracks());
    }
    return tracks.filter((t) => t.readyState === "live");
  }

  // Connects new voices (a peer joined, a microphone was changed) and lets go of ended ones.
  syncAudio() {
    const live = new Map(this.audioTracks().map((t) => [t.id, t]));
    for (const [id, node] of this.sources) {
      if (live.has(id)) continue;
      node.disconnect();
      this.sources.delete(id);
    }
    for (const [id, track] of live) {
      if (this.sources.has(id)) continue;
      try {
        const node = this.ctx.createMediaStreamSource(new MediaStream([track]));
        node.connect(this.destination);
        this.sources.set(id, node);
      } catch {
        // a track that cannot be mixed is left out
      }
    }
  }

  pictures() {
    const out = [];
    for (const peer of [...this.call.peers.values()].sort((a, b) => (a.main ? -1 : ROLE_RANK[a.role]) - (b.main ? -1 : ROLE_RANK[b.role]))) {
      const v = peer.video;
      if (peer.present && v && v.videoWidth && peer.stream.getVideoTracks().some((t) => t.readyState === "live")) out.push(v);
    }
    const own = this.call.localVideo;
    if (this.call.mode === "video" && own && own.videoWidth && this.call.localStream.getVideoTracks().length) out.push(own);
    return out;
  }

  draw() {
    const g = this.canvas.getContext("2d");
    g.fillStyle = "#000";
    g.fillRect(0, 0, RECORDING_WIDTH, RECORDING_HEIGHT);
    const videos = this.pictures();
    if (!videos.length) return;
    const w = RECORDING_WIDTH / videos.length;
    videos.forEach((v, i) => {
      const scale = Math.min(w / v.videoWidth, RECORDING_HEIGHT / v.videoHeight);
      const dw = v.videoWidth * scale;
      const dh = v.videoHeight * scale;
      try {
        g.drawImage(v, i * w + (w - dw) / 2, (RECORDING_HEIGHT - dh) / 2, dw, dh);
      } catch {
        // a frame that cannot be drawn yet
      }
    });
  }

  // Starts the recorder; every chunk goes to onChunk(blob). Throws when the browser cannot record.
  start(onChunk, onError) {
    const mimeType = CallCapture.mimeType(this.mode);
    if (!mimeType) throw new Error("this browser cannot record the call");
    this.destination = this.ctx.createMediaStreamDestination();
    this.syncAudio();
    this.timers.push(setInterval(() => this.syncAudio(), 1000));
    const tracks = [...this.destination.stream.getAudioTracks()];
    if (this.mode === "video") {
      this.canvas = document.createElement("canvas");
      this.canvas.width = RECORDING_WIDTH;
      this.canvas.height = RECORDING_HEIGHT;
      this.draw();
      // A timer, not requestAnimationFrame: the picture keeps coming when the tab is hidden.
      this.timers.push(setInterval(() => this.draw(), Math.round(1000 / RECORDING_FPS)));
      this.canvasStream = this.canvas.captureStream(RECORDING_FPS);
      tracks.unshift(...this.canvasStream.getVideoTracks());
    }
    const options = { mimeType, audioBitsPerSecond: 64000 };
    if (this.mode === "video") options.videoBitsPerSecond = 1000000;
    this.recorder = new MediaRecorder(new MediaStream(tracks), options);
    this.recorder.addEventListener("dataavailable", (event) => onChunk(event.data));
    this.recorder.addEventListener("error", (event) => onError(event.error || new Error("the recorder failed")));
    this.recorder.start(RECORDING_TIMESLICE_MS);
    return mimeType;
  }

  // Stops the recorder; resolves after its last chunk was handed over.
  stop() {
    if (this.stopping) return this.stopping;
    const r = this.recorder;
    const done = new Promise((resolve) => {
      if (!r || r.state === "inactive") {
        resolve();
        return;
      }
      r.addEventListener("stop", () => resolve(), { once: true });
      try {
        r.stop();
      } catch {
        resolve();
      }
    });
    this.stopping = done.then(() => this.close());
    return this.stopping;
  }

  close() {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    for (const node of this.sources.values()) node.disconnect();
    this.sources.clear();
    if (this.canvasStream) for (const t of this.canvasStream.getTracks()) t.stop();
    if (this.destination) for (const t of this.destination.stream.getTracks()) t.stop();
  }
}

// --------------------------------------------------------------------------- the call

class Call {
  constructor(page, root) {
    this.page = page;
    this.root = root;
    this.consultation = page.dataset.consultation;
    this.setRole(isRole(page.dataset.role) ? page.dataset.role : "patient");
    this.csrf = page.dataset.csrf || "";
    this.practice = page.dataset.practice || "";
    this.infoUrl = page.dataset.infoUrl;
    this.chatUrl = page.dataset.chatUrl;
    this.invitationsUrl = "/api/v1/consultations/" + encodeURIComponent(this.consultation) + "/call/invitations";

    this.info = null;
    this.state = "connecting";
    this.mode = "video";
    this.muted = false;
    this.videoEnabled = true;
    this.localStream = new MediaStream();

    // One entry per other participant (role -> peer): its peer connection, its negotiation
    // state, its media state and its tile.
    this.peers = new Map();

    this.ws = null;
    this.resumeToken = null;
    this.joinedOnce = false;
    this.finished = false;
    this.leaving = false; // we sent hangup/end: the close that follows is expected
    this.reconnectAttempt = 0;
    this.reconnectSince = 0;
    this.reconnectTimer = null;
    this.pingTimer = null;
    this.locationAddress = null;
    this.locationSent = false;
    this.incoming = Promise.resolve();
    this.seenChat = new Set();

    // A second clinician: the current invitation ({id, clinician_name, status}) and, for the
    // consultation's clinician, the colleagues who may be invited.
    this.invitation = null;
    this.colleagues = [];
    this.inviteBusy = false;

    // Recording: the newest consent ({id, status}), the recording the server says runs
    // ({id, segment}), and for the clinician the recorder's own state.
    this.recConsent = null;
    this.recConsentFromMessage = false;
    this.recActive = null;
    this.recordingBusy = false;
    this.recordingUnavailable = false;
    this.recordingPromptErrorText = "";
    this.clinicianName = null;
    this.audioContext = null;
    this.recGen = 0;
    this.recOps = Promise.resolve();
    // state: idle | asking | waiting (for consent) | starting | recording | switching | stopping
    this.rec = { state: "idle", id: null, segment: 0, mode: null, capture: null, uploader: null, text: "", error: "", stopRequested: false };

    const self = this;
    window.confideCall = {
      // The main peer connection: the patient's with the clinician, the clinician's with the patient.
      get pc() { return self.mainPeer() ? self.mainPeer().pc : null; },
      // Every peer connection by the other participant's role.
      get pcs() {
        const out = {};
        for (const [role, peer] of self.peers) if (peer.pc) out[role] = peer.pc;
        return out;
      },
      get role() { return self.role; },
      get state() { return self.state; },
      get mode() { return self.mode; },
      get ws() { return self.ws; },
      get muted() { return self.muted; },
      get peerMedia() { return self.mainPeer() ? self.mainPeer().media : null; },
      get invitation() { return self.invitation ? { ...self.invitation } : null; },
      get recording() {
        const u = self.rec.uploader;
        return {
          state: self.rec.state,
          id: self.rec.id,
          segment: self.rec.segment,
          mode: self.rec.mode,
          consent: self.recConsent ? { ...self.recConsent } : null,
          active: self.recActive ? { ...self.recActive } : null,
          waiting: u ? u.waiting : 0,
          stored: u ? u.stored : 0,
          lost: u ? u.lost : 0,
        };
      },
    };
  }

  setRole(role) {
    this.role = role;
    // The peer whose tile is the main one (#remote-video, #remote-mode, #remote-muted).
    this.mainRole = role === "clinician" ? "patient" : "clinician";
  }

  mainPeer() {
    return this.peers.get(this.mainRole) || null;
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
    if (!isRole(info.role)) {
      this.setState("error", "This call cannot be joined from this page.");
      this.showLinkBack();
      return;
    }
    this.setRole(info.role);
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
    if (this.callEl) this.renderRecording();
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
    // An invited clinician has no access to the consultation itself.
    const link = this.role === "guest"
      ? el("a", { id: "call-back", href: "/clinic/day", text: "Back to your day" })
      : el("a", { id: "call-back", href: this.consultationHref(), text: "Back to the consultation" });
    this.root.append(el("p", { class: "actions" }, link));
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

  tileLabel(role) {
    if (role === "patient") return "The patient";
    if (role === "guest") return "Invited clinician";
    return this.role === "patient" ? "Your clinician" : "The patient's clinician";
  }

  // One tile per other participant: a label, its media state and its video (with its sound).
  // The main peer's tile keeps the ids #remote-video, #remote-mode and #remote-muted; the
  // others are #remote-<role>-video, #remote-<role>-mode and #remote-<role>-muted.
  buildTile(peer) {
    const prefix = peer.main ? "remote" : `remote-${peer.role}`;
    const label = this.tileLabel(peer.role);
    const video = el("video", { id: prefix + "-video", autoplay: true, playsInline: true });
    video.setAttribute("playsinline", "");
    video.setAttribute("aria-label", `Video of ${label[0].toLowerCase() + label.slice(1)}`);
    video.srcObject = peer.stream;
    peer.video = video;
    peer.modeEl = el("span", { id: prefix + "-mode", class: "badge", text: "Not joined yet" });
    peer.mutedEl = el("span", { id: prefix + "-muted", class: "badge", text: "Microphone muted" });
    setShown(peer.mutedEl, false);
    peer.tile = el("div", { id: prefix + "-tile", class: "remote-tile", dataset: { role: peer.role } },
      el("p", {}, el("strong", { text: `${label}: ` }), peer.modeEl, " ", peer.mutedEl),
      video);
    // Side by side where there is room, one above the other on a phone.
    peer.tile.style.flex = "1 1 16rem";
    peer.tile.style.minWidth = "0";
    setShown(peer.tile, peer.main);
    // The main tile first, then the others in a fixed order.
    const order = (p) => (p.main ? -1 : ROLE_RANK[p.role]);
    const after = [...this.peers.values()].filter((p) => p !== peer && p.tile && p.tile.isConnected && order(p) > order(peer))
      .sort((a, b) => order(a) - order(b))[0];
    this.tilesEl.insertBefore(peer.tile, after ? after.tile : null);
  }

  // The entry for another participant, made on first use (null for an unknown role or our own).
  peerFor(role) {
    if (!isRole(role) || role === this.role) return null;
    let peer = this.peers.get(role);
    if (peer) return peer;
    peer = {
      role,
      main: role === this.mainRole,
      // The lower role of each pair is polite; the higher one makes the first offer.
      polite: ROLE_RANK[this.role] < ROLE_RANK[role],
      pc: null,
      makingOffer: false,
      ignoreOffer: false,
      isSettingRemoteAnswerPending: false,
      present: false,
      media: null,
      pendingCandidates: [],
      maySendCandidates: false,
      stream: new MediaStream(),
    };
    this.peers.set(role, peer);
    if (this.tilesEl) this.buildTile(peer);
    return peer;
  }

  buildCallUI() {
    const localVideo = el("video", { id: "local-video", autoplay: true, playsInline: true, muted: true });
    localVideo.setAttribute("playsinline", "");
    localVideo.setAttribute("muted", "");
    localVideo.setAttribute("aria-label", "Your own video");
    localVideo.muted = true;
    localVideo.srcObject = this.localStream;
    this.localVideo = localVideo;

    this.tilesEl = el("div", { id: "remote-tiles" });
    this.tilesEl.style.display = "flex";
    this.tilesEl.style.flexWrap = "wrap";
    this.tilesEl.style.gap = "8px 16px";
    this.peerFor(this.mainRole);

    this.playButton = button("play-remote", "Play sound and video", "secondary");
    setShown(this.playButton, false);
    this.playButton.addEventListener("click", () => {
      for (const peer of this.peers.values()) this.playRemote(peer);
    });

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
      this.endConfirm = button("end-confirm", "Yes, end the consultation for everyone", "danger");
      this.endCancel = button("end-cancel", "Keep the call going", "secondary");
      const confirmRow = el("div", { class: "actions", id: "end-confirm-row", hidden: true },
        el("span", { text: "End the consultation? The call closes for everyone in it." }), this.endConfirm, this.endCancel);
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
      this.tilesEl,
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
    } else if (this.role === "patient" && this.locationAddress) {
      panels.unshift(el("p", { id: "own-location", class: "muted" }, "Your location for this call: ", el("strong", { text: this.locationAddress })));
    } else if (this.role === "guest") {
      panels.unshift(el("p", { id: "guest-note", class: "muted",
        text: "You were invited into this call with the patient's consent. The patient or their clinician can remove you at any time." }));
    }
    if (this.role === "patient") panels.unshift(this.buildInvitationPrompt());
    if (this.role === "patient") panels.unshift(this.buildRecordingPrompt());
    panels.unshift(this.buildRecordingBanner());

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
    if (this.role === "clinician") panels.splice(panels.indexOf(media) + 1, 0, this.buildRecordingPanel());
    if (this.role === "clinician") panels.push(this.buildInvitePanel());

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
    this.renderRecording();
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

  // ------------------------------------------------------------------ a second clinician: the clinician

  buildInvitePanel() {
    this.inviteSelect = el("select", { id: "invite-clinician" });
    this.inviteSelect.append(el("option", { value: "", text: "Loading your colleagues…" }));
    this.inviteSelect.disabled = true;
    this.inviteSend = button("invite-send", "Invite to the call");
    this.inviteSend.disabled = true;
    this.inviteStatus = el("p", { id: "invite-status", role: "status", "aria-live": "polite" });
    setShown(this.inviteStatus, false);
    this.inviteWithdraw = button("invite-withdraw", "Withdraw the invitation", "secondary");
    setShown(this.inviteWithdraw, false);
    this.inviteError = el("p", { class: "field-error", id: "invite-error", role: "alert", hidden: true });
    this.inviteSend.addEventListener("click", () => this.invite());
    this.inviteWithdraw.addEventListener("click", () => this.withdrawInvitation());
    this.invitePanel = el("section", { id: "invite-panel", "aria-labelledby": "invite-title" },
      el("h2", { id: "invite-title", text: "Invite a colleague" }),
      field("invite-clinician", "Colleague", this.inviteSelect,
        "The patient is asked first. Your colleague can join only if the patient agrees, and sees and hears the call but not the patient's records."),
      el("div", { class: "actions" }, this.inviteSend),
      this.inviteStatus,
      el("div", { class: "actions" }, this.inviteWithdraw),
      this.inviteError);
    return this.invitePanel;
  }

  async loadColleagues() {
    try {
      const [me, practice] = await Promise.all([
        getJSON("/api/v1/me"),
        getJSON("/api/v1/practices/" + encodeURIComponent(this.practice)),
      ]);
      this.colleagues = (practice.members || [])
        .filter((m) => m && m.role === "clinician" && m.account_id && m.account_id !== me.account_id)
        .sort((a, b) => String(a.name).localeCompare(String(b.name)));
    } catch (e) {
      this.colleagues = [];
      this.inviteProblem(`Your colleagues could not be loaded: ${e.message}`);
    }
    const options = this.colleagues.map((m) => el("option", {
      value: m.account_id,
      text: m.staff_role ? `${m.name} (${STAFF_ROLE[m.staff_role] || m.staff_role})` : m.name,
    }));
    if (!options.length) options.push(el("option", { value: "", text: "No other clinician in this practice" }));
    this.inviteSelect.replaceChildren(...options);
    this.renderInvitation();
  }

  async loadInvitations() {
    try {
      const data = await getJSON(this.invitationsUrl);
      const all = (data.invitations || []).filter((i) => i && typeof i.id === "string");
      const open = all.filter((i) => i.status === "pending" || i.status === "accepted");
      const current = open[open.length - 1] || (this.role === "clinician" ? all[all.length - 1] : null);
      // A message that arrived meanwhile is newer than the list.
      if (current && !this.invitation) this.setInvitation(current);
    } catch (e) {
      if (this.role === "clinician") this.inviteProblem(`Invitations could not be loaded: ${e.message}`);
    }
  }

  inviteProblem(text) {
    const target = this.role === "clinician" ? this.inviteError : this.invitationError;
    if (!target) return;
    target.textContent = text || "";
    setShown(target, Boolean(text));
  }

  invitationOpen() {
    return Boolean(this.invitation && (this.invitation.status === "pending" || this.invitation.status === "accepted"));
  }

  async invite() {
    if (this.inviteBusy || this.invitationOpen() || this.finished) return;
    const clinician = this.inviteSelect.value;
    if (!clinician) {
      this.inviteProblem("Choose a colleague to invite.");
      return;
    }
    this.inviteBusy = true;
    this.renderInvitation();
    this.inviteProblem("");
    try {
      const made = await sendJSON("POST", this.invitationsUrl, this.csrf, { clinician_id: clinician });
      // An answer may already have arrived over the call.
      if (!this.invitation || this.invitation.id !== made.id) this.setInvitation(made);
    } catch (e) {
      this.inviteProblem(`The invitation was not sent: ${e.message}`);
    } finally {
      this.inviteBusy = false;
      this.renderInvitation();
    }
  }

  async withdrawInvitation() {
    const inv = this.invitation;
    if (!inv || this.inviteBusy || !this.invitationOpen()) return;
    this.inviteBusy = true;
    this.renderInvitation();
    this.inviteProblem("");
    try {
      await sendJSON("DELETE", `${this.invitationsUrl}/${encodeURIComponent(inv.id)}`, this.csrf);
      this.onInvitationWithdrawn({ id: inv.id });
    } catch (e) {
      this.inviteProblem(`The invitation was not withdrawn: ${e.message}`);
    } finally {
      this.inviteBusy = false;
      this.renderInvitation();
    }
  }

  // ------------------------------------------------------------------ a second clinician: the patient

  buildInvitationPrompt() {
    const p = patientPrompt({
      section: "invitation-prompt", title: "invitation-title", heading: "Another clinician for this call", text: "invitation-text",
      allow: ["invitation-accept", "Yes, they may join"], decline: ["invitation-decline", "No, keep the call between us"],
      withdraw: ["invitation-withdraw", "Remove them from the call"], error: "invitation-error",
      onAnswer: (yes) => this.answerInvitation(yes), onWithdraw: () => this.withdrawInvitation(),
    });
    [this.invitationPrompt, this.invitationText, this.invitationAccept, this.invitationDecline] = [p.section, p.text, p.allow, p.decline];
    [this.invitationWithdrawButton, this.invitationError, this.invitationButtons] = [p.withdraw, p.error, p.answers];
    return this.invitationPrompt;
  }

  async answerInvitation(consent) {
    const inv = this.invitation;
    if (!inv || inv.status !== "pending" || this.inviteBusy) return;
    this.inviteBusy = true;
    this.renderInvitation();
    this.inviteProblem("");
    try {
      const answer = await sendJSON("POST", `${this.invitationsUrl}/${encodeURIComponent(inv.id)}/answer`, this.csrf, { consent });
      if (this.invitation && this.invitation.id === inv.id && this.invitation.status === "pending") {
        this.invitation.status = (answer && answer.status) || (consent ? "accepted" : "declined");
      }
    } catch (e) {
      this.inviteProblem(`Your answer was not saved: ${e.message}`);
    } finally {
      this.inviteBusy = false;
      this.renderInvitation();
    }
  }

  // ------------------------------------------------------------------ a second clinician: both

  setInvitation(inv) {
    this.invitation = {
      id: inv.id,
      clinician_name: typeof inv.clinician_name === "string" && inv.clinician_name ? inv.clinician_name : "another clinician",
      status: inv.status || "pending",
    };
    this.renderInvitation();
  }

  onInvitation(msg) {
    if (this.role !== "patient" || typeof msg.id !== "string") return;
    if (this.invitation && this.invitation.id === msg.id) return;
    this.setInvitation({ id: msg.id, clinician_name: msg.clinician_name, status: "pending" });
    if (this.invitationAccept) this.invitationAccept.focus();
  }

  onInvitationAnswer(msg) {
    if (typeof msg.id !== "string" || typeof msg.status !== "string") return;
    if (this.invitation && this.invitation.id === msg.id) {
      this.invitation.status = msg.status;
      this.renderInvitation();
    } else {
      // Not the one this page knows of (sent from another window): read the list.
      this.invitation = null;
      this.loadInvitations();
    }
  }

  onInvitationWithdrawn(msg) {
    if (this.role === "guest") return; // the server closes this connection with 4403 if it was ours
    if (this.invitation && (!msg.id || this.invitation.id === msg.id)) {
      this.invitation.status = "withdrawn";
      this.renderInvitation();
    }
    // The invited clinician is no longer in the call.
    this.removePeer("guest");
  }

  renderInvitation() {
    const inv = this.invitation;
    const name = inv ? inv.clinician_name : "";
    if (this.role === "clinician" && this.inviteStatus) {
      const open = this.invitationOpen();
      const text = !inv ? ""
        : inv.status === "pending" ? `Waiting for the patient to agree to ${name} joining the call.`
        : inv.status === "accepted" ? `Accepted: the patient agreed, ${name} can join the call.`
        : inv.status === "declined" ? `Declined: the patient did not agree to ${name} joining the call.`
        : inv.status === "withdrawn" ? `Withdrawn: ${name} is no longer invited to the call.`
        : `Invitation for ${name}: ${inv.status}.`;
      this.inviteStatus.textContent = text;
      if (inv) this.inviteStatus.dataset.status = inv.status;
      else delete this.inviteStatus.dataset.status;
      setShown(this.inviteStatus, Boolean(text));
      setShown(this.inviteWithdraw, open);
      this.inviteWithdraw.disabled = this.inviteBusy || this.finished;
      this.inviteWithdraw.textContent = inv && inv.status === "accepted" ? `Remove ${name} from the call` : "Withdraw the invitation";
      const cannot = open || this.inviteBusy || this.finished || !this.colleagues.length;
      this.inviteSend.disabled = cannot;
      this.inviteSelect.disabled = cannot;
    }
    if (this.role === "patient" && this.invitationPrompt) {
      if (!inv) {
        setShown(this.invitationPrompt, false);
        return;
      }
      this.invitationPrompt.dataset.status = inv.status;
      const text = inv.status === "pending"
        ? `Your clinician would like ${name} to join this call. They will see and hear you, but not your records.`
        : inv.status === "accepted"
          ? `You agreed that ${name} may join this call. They will see and hear you, but not your records.`
          : inv.status === "declined"
            ? `You did not agree: ${name} will not join this call.`
            : `${name} is no longer invited to this call.`;
      this.invitationText.textContent = text;
      setShown(this.invitationButtons, inv.status === "pending");
      this.invitationWithdrawButton.textContent = `Remove ${name} from the call`;
      setShown(this.invitationWithdrawButton, inv.status === "accepted");
      for (const b of [this.invitationAccept, this.invitationDecline, this.invitationWithdrawButton]) {
        b.disabled = this.inviteBusy || this.finished;
      }
      setShown(this.invitationPrompt, true);
    }
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
      this.notice("This browser cannot use a camera or microphone here. You can still see and hear the others.");
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
            : "No camera or microphone could be used. You can still see and hear the others."
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

  peerConnections() {
    return [...this.peers.values()].filter((p) => p.pc).map((p) => p.pc);
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
    const pcs = this.peerConnections();
    const senders = pcs.map((pc) => this.senderFor(pc, kind, old));
    try {
      await Promise.all(senders.map((s) => (s ? s.replaceTrack(track) : null)));
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
    pcs.forEach((pc, i) => {
      if (!senders[i]) pc.addTrack(track, this.localStream);
    });
    this.notice("");
    this.updateControls();
  }

  senderFor(pc, kind, track) {
    if (!pc) return null;
    return pc.getSenders().find((s) => (track && s.track === track) || (s.track && s.track.kind === kind)) || null;
  }

  toggleMute() {
    this.muted = !this.muted;
    // The same track goes to every peer connection.
    for (const t of this.localStream.getAudioTracks()) t.enabled = !this.muted;
    this.updateControls();
    this.sendMedia();
  }

  toggleVideo() {
    this.videoEnabled = !this.videoEnabled;
    for (const t of this.localStream.getVideoTracks()) t.enabled = this.videoEnabled;
    this.updateControls();
  }

  videoTransceiver(pc) {
    if (!pc) return null;
    const all = pc.getTransceivers().filter((t) => !t.stopped && t.receiver.track && t.receiver.track.kind === "video");
    return all.find((t) => t.sender.track) || all.find((t) => t.mid !== null) || all[0] || null;
  }

  // Audio only: no video either way (the camera is released and the video transceiver of every
  // peer connection goes inactive); back to video: the camera is taken again and the
  // transceivers send and receive.
  async toggleMode() {
    this.modeButton.disabled = true;
    try {
      if (this.mode === "video") {
        this.mode = "audio-only";
        for (const t of this.localStream.getVideoTracks()) {
          this.localStream.removeTrack(t);
          t.stop();
        }
        for (const pc of this.peerConnections()) {
          const tr = this.videoTransceiver(pc);
          if (tr) {
            await tr.sender.replaceTrack(null);
            tr.direction = "inactive";
          }
        }
      } else {
        this.mode = "video";
        let track = null;
        try {
          track = await this.acquire("video");
          track.enabled = this.videoEnabled;
          this.localStream.addTrack(track);
        } catch {
          this.notice("Your camera could not be used; you can still see the others.");
        }
        for (const pc of this.peerConnections()) {
          const tr = this.videoTransceiver(pc);
          if (tr) {
            if (track) {
              await tr.sender.replaceTrack(track);
              if (tr.sender.setStreams) tr.sender.setStreams(this.localStream);
            }
            tr.direction = track ? "sendrecv" : "recvonly";
          } else if (track) {
            pc.addTrack(track, this.localStream);
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
    this.onRecordingModeChange();
  }

  // ------------------------------------------------------------------ joining

  async join() {
    this.buildCallUI();
    this.setState("connecting", "Starting your camera and microphone…");
    await this.startLocalMedia();
    this.updateControls();
    this.loadChat();
    if (this.role === "clinician") {
      this.loadColleagues();
      this.loadInvitations();
    } else if (this.role === "patient") {
      // An invitation may have been sent before this page was opened.
      this.loadInvitations();
    }
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
      this.finish(code === 4410 || code === 4000 || code === 4403 ? "ended" : "error", text, code === 4000);
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
        for (const pc of this.peerConnections()) this.applyIceConfig(pc);
      } catch (e) {
        if (e.status === 401 || e.status === 403 || e.status === 404) {
          this.finish("error", this.role === "guest" && e.status === 404 ? closeMessage(4403) : e.message);
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
      case "answer": {
        const peer = this.peerFor(msg.from);
        if (!peer) return;
        return this.onDescription(peer, msg.type, msg.sdp);
      }
      case "candidate": {
        const peer = this.peers.get(msg.from);
        if (!peer) return;
        return this.onCandidate(peer, msg);
      }
      case "media": {
        const peer = this.peerFor(msg.from);
        if (!peer) return;
        return this.onPeerMedia(peer, msg);
      }
      case "chat":
        return this.addChat(msg);
      case "location":
        return this.showLocation(msg.address, msg.at);
      case "status":
        this.consultationStatus = msg.status;
        return;
      case "invitation":
        return this.onInvitation(msg);
      case "invitation-answer":
        return this.onInvitationAnswer(msg);
      case "invitation-withdrawn":
        return this.onInvitationWithdrawn(msg);
      case "recording-consent":
        return this.onRecordingConsent(msg);
      case "recording":
        return this.onRecordingState(msg);
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

  // The others as words, the main peer first: "the clinician and the invited clinician".
  namesOf(peers) {
    const sorted = [...peers].sort((a, b) => (a.main ? -1 : ROLE_RANK[a.role]) - (b.main ? -1 : ROLE_RANK[b.role]));
    return listText(sorted.map((p) => `the ${ROLE_NAME[p.role]}`));
  }

  // Whether a peer connection other than this peer's is connected (the call goes on with them).
  otherConnected(peer) {
    return [...this.peers.values()].some((p) => p !== peer && p.pc && p.pc.connectionState === "connected");
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
    this.loadRecordingState(); // a request, an answer or a recording may have come while away
    if (resumed) {
      this.loadChat(); // catch up on anything said while away
      if (this.role !== "guest") {
        this.invitation = null;
        this.loadInvitations();
      }
    }

    const here = new Map();
    for (const p of msg.peers || []) {
      if (p && isRole(p.role) && p.role !== this.role) here.set(p.role, p);
    }
    // Whoever is not in the room any more left while we were away.
    for (const [role, peer] of this.peers) {
      if (here.has(role)) continue;
      peer.present = false;
      this.closePeerConnection(peer);
      peer.media = null;
      this.updatePeerLabel(peer);
      if (!peer.main) setShown(peer.tile, false);
    }
    if (!here.size) {
      this.setState("waiting", `Waiting for the ${ROLE_NAME[this.mainRole]} to join…`);
      return;
    }
    let restoring = false;
    const joining = [];
    for (const [role, state] of here) {
      const peer = this.peerFor(role);
      if (!peer) continue;
      peer.present = true;
      if (peer.tile) setShown(peer.tile, true);
      this.onPeerMedia(peer, state);
      if (resumed && peer.pc && peer.pc.remoteDescription) {
        // Our connection came back: the peer connection may still be alive; restart ICE.
        peer.maySendCandidates = false;
        restoring = true;
        this.restartIce(peer);
      } else {
        this.resetPeerConnection(peer);
        joining.push(peer);
      }
    }
    if (restoring) this.setState("reconnecting", "Reconnected to the server: restoring the call…");
    else this.setState("connecting", `Connecting to ${this.namesOf(joining)}…`);
  }

  onPeerJoined(msg) {
    const peer = this.peerFor(msg.role);
    if (!peer) return;
    peer.present = true;
    if (peer.tile) setShown(peer.tile, true);
    if (msg.resumed && peer.pc && peer.pc.remoteDescription) {
      // The peer came back on the same page: it restarts ICE itself.
      if (!this.otherConnected(peer)) this.setState("reconnecting", `The ${ROLE_NAME[peer.role]} is back: restoring the call…`);
      return;
    }
    this.resetPeerConnection(peer);
    peer.media = null;
    this.updatePeerLabel(peer);
    if (!this.otherConnected(peer)) this.setState("connecting", `The ${ROLE_NAME[peer.role]} joined: connecting…`);
  }

  onPeerLeft(msg) {
    const peer = this.peers.get(msg.role);
    if (!peer) return;
    peer.present = false;
    if (msg.reason === "dropped") {
      if (!this.otherConnected(peer)) {
        this.setState("waiting", `The ${ROLE_NAME[peer.role]}'s connection dropped: waiting for them to come back…`);
      }
      return;
    }
    this.closePeerConnection(peer);
    peer.media = null;
    this.updatePeerLabel(peer, "Left the call");
    if (!peer.main) setShown(peer.tile, false);
    if (this.otherConnected(peer)) this.refreshConnected();
    else this.setState("waiting", `The ${ROLE_NAME[peer.role]} left the call. Waiting for them to rejoin…`);
  }

  // The invited clinician is out of the call (invitation withdrawn): its connection and tile go.
  removePeer(role) {
    const peer = this.peers.get(role);
    if (!peer) return;
    peer.present = false;
    this.closePeerConnection(peer);
    peer.media = null;
    this.updatePeerLabel(peer, "Left the call");
    if (!peer.main && peer.tile) setShown(peer.tile, false);
    if (this.otherConnected(peer)) this.refreshConnected();
  }

  onPeerMedia(peer, msg) {
    if (msg.mode !== "video" && msg.mode !== "audio-only") return;
    peer.media = { mode: msg.mode, muted: Boolean(msg.muted) };
    if (peer.tile && peer.present) setShown(peer.tile, true);
    this.updatePeerLabel(peer);
  }

  updatePeerLabel(peer, override) {
    if (!peer.modeEl) return;
    const media = peer.media;
    if (override || !media) {
      peer.modeEl.textContent = override || (peer.present ? "Joined" : "Not in the call");
      delete peer.modeEl.dataset.mode;
      setShown(peer.mutedEl, false);
      return;
    }
    peer.modeEl.dataset.mode = media.mode;
    peer.modeEl.textContent = media.mode === "audio-only" ? "Audio only" : "Video";
    setShown(peer.mutedEl, media.muted);
    peer.video.style.visibility = media.mode === "audio-only" ? "hidden" : "visible";
    peer.video.style.height = media.mode === "audio-only" ? "0" : "";
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

  iceConfig() {
    return {
      iceServers: this.info.ice_servers || [],
      iceTransportPolicy: this.info.ice_transport_policy === "relay" ? "relay" : "all",
    };
  }

  applyIceConfig(pc) {
    try {
      pc.setConfiguration(this.iceConfig());
    } catch {
      // keep the configuration the connection has
    }
  }

  closePeerConnection(peer) {
    const pc = peer.pc;
    peer.pc = null;
    peer.pendingCandidates = [];
    peer.maySendCandidates = false;
    peer.makingOffer = false;
    peer.ignoreOffer = false;
    peer.isSettingRemoteAnswerPending = false;
    if (pc) {
      pc.onnegotiationneeded = pc.onicecandidate = pc.ontrack = pc.onconnectionstatechange = pc.onsignalingstatechange = null;
      pc.close();
    }
    for (const t of peer.stream.getTracks()) peer.stream.removeTrack(t);
  }

  resetPeerConnection(peer) {
    this.closePeerConnection(peer);
    const pc = new RTCPeerConnection(this.iceConfig());
    peer.pc = pc;

    pc.onicecandidate = ({ candidate }) => {
      if (pc !== peer.pc) return;
      if (!candidate || !candidate.candidate) return; // end of candidates: nothing to tell
      const msg = {
        type: "candidate",
        to: peer.role,
        candidate: candidate.candidate,
        sdpMid: candidate.sdpMid ?? null,
        sdpMLineIndex: candidate.sdpMLineIndex ?? null,
      };
      if (peer.maySendCandidates) this.send(msg);
      else peer.pendingCandidates.push(msg);
    };
    pc.ontrack = ({ track }) => {
      if (pc !== peer.pc) return;
      if (!peer.stream.getTracks().includes(track)) peer.stream.addTrack(track);
      track.addEventListener("ended", () => peer.stream.removeTrack(track));
      this.playRemote(peer);
    };
    pc.onsignalingstatechange = () => {
      if (pc === peer.pc && pc.signalingState === "stable") this.refreshConnected();
    };
    pc.onconnectionstatechange = () => {
      if (pc !== peer.pc || this.finished) return;
      switch (pc.connectionState) {
        case "connected":
          this.refreshConnected();
          break;
        case "disconnected":
          if (this.otherConnected(peer)) this.refreshConnected();
          else this.setState("reconnecting", "The connection is unstable: reconnecting…");
          break;
        case "failed":
          if (this.otherConnected(peer)) this.refreshConnected();
          else this.setState("reconnecting", "The connection failed: trying again…");
          this.restartIce(peer);
          break;
        default:
          break;
      }
    };
    pc.onnegotiationneeded = async () => {
      if (pc !== peer.pc) return;
      // The impolite side makes every first offer; the polite one offers only for later changes.
      if (peer.polite && !pc.remoteDescription) return;
      if (!peer.present) return;
      try {
        peer.makingOffer = true;
        await pc.setLocalDescription();
        if (pc !== peer.pc) return;
        if (pc.localDescription && pc.localDescription.type === "offer") {
          this.send({ type: "offer", sdp: pc.localDescription.sdp, to: peer.role });
          this.allowCandidates(peer);
        }
      } catch (e) {
        this.notice(`Could not start the call's media: ${e.message || e}`);
      } finally {
        peer.makingOffer = false;
      }
    };

    const audio = this.localStream.getAudioTracks()[0];
    const video = this.localStream.getVideoTracks()[0];
    if (audio) pc.addTrack(audio, this.localStream);
    else if (!peer.polite) pc.addTransceiver("audio", { direction: "recvonly" });
    if (this.mode === "video" && video) pc.addTrack(video, this.localStream);
    else if (!peer.polite) pc.addTransceiver("video", { direction: this.mode === "video" ? "recvonly" : "inactive" });
  }

  // "connected" once a peer connection is; an ICE restart that never interrupted the media
  // does not change connectionState, so this is also checked when a negotiation completes.
  refreshConnected() {
    if (this.finished) return;
    const connected = [...this.peers.values()].filter((p) => p.pc && p.pc.connectionState === "connected");
    if (!connected.length) return;
    const text = `Connected with ${this.namesOf(connected)}`;
    if (this.state === "connected" && this.stateEl.textContent === text) return;
    this.setState("connected", text);
  }

  allowCandidates(peer) {
    peer.maySendCandidates = true;
    const queued = peer.pendingCandidates;
    peer.pendingCandidates = [];
    for (const c of queued) this.send(c);
  }

  restartIce(peer) {
    if (!peer.pc) return;
    this.applyIceConfig(peer.pc);
    if (peer.polite && !peer.pc.remoteDescription) return;
    peer.pc.restartIce();
  }

  async onDescription(peer, type, sdp) {
    if (typeof sdp !== "string") return;
    if (!peer.pc) {
      if (type !== "offer") return;
      peer.present = true;
      if (peer.tile) setShown(peer.tile, true);
      this.resetPeerConnection(peer);
    }
    const pc = peer.pc;
    const readyForOffer = !peer.makingOffer && (pc.signalingState === "stable" || peer.isSettingRemoteAnswerPending);
    const offerCollision = type === "offer" && !readyForOffer;
    peer.ignoreOffer = !peer.polite && offerCollision;
    if (peer.ignoreOffer) return;
    if (type === "answer" && pc.signalingState !== "have-local-offer") return; // a stale answer
    peer.isSettingRemoteAnswerPending = type === "answer";
    try {
      await pc.setRemoteDescription({ type, sdp });
    } finally {
      peer.isSettingRemoteAnswerPending = false;
    }
    if (pc !== peer.pc) return;
    if (type === "offer") {
      await this.syncVideoDirectionForAnswer(pc);
      await pc.setLocalDescription();
      if (pc !== peer.pc) return;
      this.send({ type: "answer", sdp: pc.localDescription.sdp, to: peer.role });
      this.allowCandidates(peer);
    }
  }

  // When answering, make the video transceiver match this side's mode (a transceiver the offer
  // created has no track yet; an audio-only side keeps video inactive).
  async syncVideoDirectionForAnswer(pc) {
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

  async onCandidate(peer, msg) {
    if (!peer.pc) return;
    const init = {
      candidate: typeof msg.candidate === "string" ? msg.candidate : "",
      sdpMid: msg.sdpMid ?? null,
      sdpMLineIndex: msg.sdpMLineIndex ?? null,
    };
    if (!init.candidate) return; // end of candidates
    try {
      await peer.pc.addIceCandidate(init);
    } catch (e) {
      if (!peer.ignoreOffer && peer.pc && peer.pc.remoteDescription) {
        this.notice(`A network route from the ${ROLE_NAME[peer.role]} could not be used (${e.message || e}).`);
      }
    }
  }

  playRemote(peer) {
    if (!peer.video) return;
    const p = peer.video.play();
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
    const whoText = mine ? "You"
      : m.from === "clinician" ? "Clinician"
      : m.from === "patient" ? "Patient"
      : m.from === "guest" ? "Invited clinician"
      : String(m.from || "");
    const who = el("strong", { text: whoText });
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

  // ------------------------------------------------------------------ recording: both

  consultationApi(path = "") {
    return "/api/v1/consultations/" + encodeURIComponent(this.consultation) + path;
  }

  // "● This call is being recorded", for everyone in the call while a recording runs.
  buildRecordingBanner() {
    this.recordingBanner = el("p", { id: "recording-banner", class: "alert", role: "status", "aria-live": "polite" },
      el("strong", { text: "● This call is being recorded" }));
    setShown(this.recordingBanner, false);
    return this.recordingBanner;
  }

  recordingProblem(text) {
    if (this.role === "clinician") this.rec.error = text || "";
    else this.recordingPromptErrorText = text || "";
    this.renderRecording();
  }

  // The newest consent and whether a recording runs: after joining and after every reconnect.
  async loadRecordingState() {
    if (this.role === "guest") return;
    // A message that arrives while the list loads is newer than the list.
    this.recConsentFromMessage = false;
    let consents = null;
    try {
      consents = await getJSON(this.consultationApi("/recording-consents"));
    } catch (e) {
      if (e.status === 503) {
        this.recordingUnavailable = true;
        if (this.role === "clinician") this.rec.text = "Recording is not available on this server.";
      } else if (this.role === "clinician") {
        this.rec.error = `The recording consents could not be loaded: ${e.message}`;
      }
      this.renderRecording();
      return;
    }
    const newest = (consents.consents || []).find((c) => c && typeof c.id === "string" && typeof c.status === "string");
    if (!this.recConsentFromMessage) this.recConsent = newest ? { id: newest.id, status: newest.status } : null;
    let active = null;
    try {
      const list = await getJSON("/api/v1/recordings?consultation=" + encodeURIComponent(this.consultation));
      active = (list.recordings || []).find((r) => r && r.status === "recording" && typeof r.id === "string") || null;
    } catch {
      active = null; // the banner follows the call's messages
    }
    if (active) {
      const segs = active.segments || [];
      this.recActive = { id: active.id, segment: segs.length ? segs[segs.length - 1].segment : 0 };
    } else if (!this.rec || !["starting", "recording", "switching"].includes(this.rec.state)) {
      this.recActive = null;
    }
    if (this.role === "patient" && this.recConsent && this.recConsent.status === "requested") this.loadClinicianName();
    if (this.role === "clinician") {
      const consent = this.recConsent;
      if (consent && consent.status === "granted" && this.rec.state === "waiting") this.startRecording();
      else if (this.rec.state === "waiting" && (!consent || consent.status === "refused" || consent.status === "withdrawn")) {
        this.rec.state = "idle";
        this.rec.text = consent && consent.status === "refused"
          ? "The patient did not agree to recording this consultation."
          : "The patient withdrew their consent to recording.";
      }
      else if (consent && consent.status === "requested" && this.rec.state === "idle" && !active) {
        this.rec.state = "waiting";
        this.rec.text = "Waiting for the patient's consent…";
      } else if (active && this.rec.state === "idle" && this.rec.id !== active.id && !this.finished) {
        // A recording of this call runs without a recorder on this page (the page was reloaded):
        // it carries on in a new segment.
        this.continueRecording(active);
      }
    }
    this.renderRecording();
  }

  onRecordingConsent(msg) {
    if (typeof msg.id !== "string" || typeof msg.status !== "string") return;
    this.recConsent = { id: msg.id, status: msg.status };
    this.recConsentFromMessage = true;
    if (this.role === "patient") {
      this.recordingPromptErrorText = "";
      if (msg.status === "requested") {
        this.loadClinicianName();
        this.renderRecording();
        if (this.recordingAllow) this.recordingAllow.focus();
        return;
      }
      if (msg.status === "withdrawn") this.recActive = null;
    }
    if (this.role === "clinician") {
      const s = this.rec.state;
      if (msg.status === "granted" && s === "waiting") {
        this.startRecording();
      } else if (msg.status === "refused" && (s === "waiting" || s === "asking")) {
        this.rec.state = "idle";
        this.rec.text = "The patient did not agree to recording this consultation.";
      } else if (msg.status === "withdrawn") {
        if (["starting", "recording", "switching", "stopping"].includes(s)) {
          this.abortRecording("The patient stopped the recording. Nothing after that moment is kept.");
        } else if (s === "waiting" || s === "asking") {
          this.rec.state = "idle";
          this.rec.text = "The patient withdrew their consent to recording.";
        } else {
          this.rec.text = "The patient withdrew their consent to recording.";
        }
      }
    }
    this.renderRecording();
  }

  onRecordingState(msg) {
    if (typeof msg.id !== "string" || (msg.state !== "recording" && msg.state !== "stopped")) return;
    if (msg.state === "recording") {
      this.recActive = { id: msg.id, segment: Number.isInteger(msg.segment) ? msg.segment : 0 };
    } else {
      if (!this.recActive || this.recActive.id === msg.id) this.recActive = null;
      if (this.role === "clinician" && msg.id === this.rec.id && ["starting", "recording", "switching"].includes(this.rec.state)) {
        this.abortRecording("The recording was stopped.");
      }
    }
    this.renderRecording();
  }

  renderRecording() {
    const s = this.rec.state;
    const mine = this.role === "clinician" && ["starting", "recording", "switching", "stopping"].includes(s);
    if (this.recordingBanner) setShown(this.recordingBanner, !this.finished && (Boolean(this.recActive) || mine));
    if (this.role === "clinician" && this.recordingPanel) {
      const running = s === "recording" || s === "switching" || s === "starting";
      this.recordButton.disabled = this.finished || this.state !== "connected" || s !== "idle" || Boolean(this.recordingUnavailable);
      setShown(this.recordButton, !running && s !== "stopping" && !this.finished);
      this.recordStop.disabled = this.finished || !running;
      setShown(this.recordStop, running && !this.finished);
      setShown(this.recordIndicator, s === "recording" || s === "switching");
      this.recordIndicator.dataset.segment = String(this.rec.segment);
      this.recordIndicator.textContent = s === "recording" || s === "switching"
        ? `● Recording${this.rec.mode === "audio" ? " (audio only)" : " (video)"}`
        : "";
      this.recordStatus.dataset.state = s;
      this.recordStatus.textContent = this.rec.text || "";
      setShown(this.recordStatus, Boolean(this.rec.text));
      const u = this.rec.uploader;
      let upload = "";
      if (u) {
        if (u.waiting) upload = `${chunkCount(u.waiting)} waiting to upload${u.retrying ? ` (retrying: ${u.retrying})` : ""}.`;
        else if (u.stored) upload = `Uploaded: ${chunkCount(u.stored)}, none waiting.`;
        if (u.lost && !u.discarded) upload += ` ${chunkCount(u.lost)} could not be saved.`;
        this.recordUpload.dataset.waiting = String(u.waiting);
        this.recordUpload.dataset.stored = String(u.stored);
        this.recordUpload.dataset.lost = String(u.lost);
      }
      this.recordUpload.textContent = upload.trim();
      setShown(this.recordUpload, Boolean(upload));
      const error = this.rec.error || (u && !u.discarded && u.error) || "";
      this.recordError.textContent = error;
      setShown(this.recordError, Boolean(error));
    }
    if (this.role === "patient" && this.recordingPrompt) {
      const c = this.recConsent;
      const requested = Boolean(c && c.status === "requested");
      const granted = Boolean(c && c.status === "granted");
      const active = Boolean(this.recActive);
      const name = this.clinicianName || "Your clinician";
      const text = requested
        ? `${name} asks to record this consultation. The recording becomes part of your record; you can watch it afterwards and stop it at any time.`
        : active
          ? "This call is being recorded. You can stop the recording at any time."
          : granted
            ? "You agreed to this consultation being recorded. You can withdraw your consent at any time."
            : "";
      this.recordingPromptText.textContent = text;
      this.recordingPrompt.dataset.status = c ? c.status : "";
      setShown(this.recordingAnswer, requested);
      this.recordingWithdraw.textContent = active ? "Stop recording" : "Withdraw consent";
      setShown(this.recordingWithdraw, !requested && (granted || active));
      for (const b of [this.recordingAllow, this.recordingDecline, this.recordingWithdraw]) b.disabled = this.recordingBusy || this.finished;
      const error = this.recordingPromptErrorText || "";
      this.recordingPromptError.textContent = error;
      setShown(this.recordingPromptError, Boolean(error));
      setShown(this.recordingPrompt, !this.finished && (Boolean(text) || Boolean(error)));
    }
  }

  // ------------------------------------------------------------------ recording: the patient

  buildRecordingPrompt() {
    const p = patientPrompt({
      section: "recording-prompt", title: "recording-prompt-title", heading: "Recording this consultation", text: "recording-prompt-text",
      allow: ["recording-allow", "Allow recording"], decline: ["recording-decline", "Don't record"],
      withdraw: ["recording-withdraw", "Stop recording"], error: "recording-prompt-error",
      onAnswer: (yes) => this.answerRecording(yes), onWithdraw: () => this.withdrawRecordingConsent(),
    });
    [this.recordingPrompt, this.recordingPromptText, this.recordingAllow, this.recordingDecline] = [p.section, p.text, p.allow, p.decline];
    [this.recordingWithdraw, this.recordingPromptError, this.recordingAnswer] = [p.withdraw, p.error, p.answers];
    return this.recordingPrompt;
  }

  async loadClinicianName() {
    if (this.clinicianName || this.clinicianNameLoading) return;
    this.clinicianNameLoading = true;
    try {
      const c = await getJSON(this.consultationApi());
      if (c && typeof c.clinician_name === "string" && c.clinician_name.trim()) this.clinicianName = c.clinician_name.trim();
    } catch {
      // "Your clinician" it is
    } finally {
      this.clinicianNameLoading = false;
      this.renderRecording();
    }
  }

  async answerRecording(consent) {
    const c = this.recConsent;
    if (!c || c.status !== "requested" || this.recordingBusy) return;
    this.recordingBusy = true;
    this.recordingPromptErrorText = "";
    this.renderRecording();
    try {
      const answer = await sendJSON("POST", this.consultationApi(`/recording-consents/${encodeURIComponent(c.id)}/answer`), this.csrf, { consent });
      if (this.recConsent && this.recConsent.id === c.id && this.recConsent.status === "requested") {
        this.recConsent.status = (answer && answer.status) || (consent ? "granted" : "refused");
      }
    } catch (e) {
      this.recordingPromptErrorText = `Your answer was not saved: ${e.message}`;
    } finally {
      this.recordingBusy = false;
      this.renderRecording();
    }
  }

  async withdrawRecordingConsent() {
    const c = this.recConsent;
    if (!c || !["requested", "granted"].includes(c.status) || this.recordingBusy) return;
    this.recordingBusy = true;
    this.recordingPromptErrorText = "";
    this.renderRecording();
    try {
      await sendJSON("POST", this.consultationApi(`/recording-consents/${encodeURIComponent(c.id)}/withdraw`), this.csrf);
      if (this.recConsent && this.recConsent.id === c.id) this.recConsent.status = "withdrawn";
      this.recActive = null;
    } catch (e) {
      this.recordingPromptErrorText = `The recording was not stopped: ${e.message}`;
    } finally {
      this.recordingBusy = false;
      this.renderRecording();
    }
  }

  // ------------------------------------------------------------------ recording: the clinician

  buildRecordingPanel() {
    this.recordButton = button("record", "Record");
    this.recordStop = button("record-stop", "Stop recording", "danger");
    this.recordIndicator = el("p", { id: "recording-indicator", role: "status" });
    this.recordIndicator.style.color = "#b00020";
    this.recordIndicator.style.fontWeight = "bold";
    this.recordStatus = el("p", { id: "recording-status", role: "status", "aria-live": "polite" });
    this.recordUpload = el("p", { id: "recording-upload", class: "muted", "aria-live": "polite" });
    this.recordError = el("p", { class: "field-error", id: "recording-error", role: "alert", hidden: true });
    this.recordButton.addEventListener("click", () => this.requestRecording());
    this.recordStop.addEventListener("click", () => this.stopRecording());
    this.recordingPanel = el("section", { id: "recording-panel", "aria-labelledby": "recording-title" },
      el("h2", { id: "recording-title", text: "Recording" }),
      el("p", { class: "muted", text: "The patient is asked first, and can stop the recording at any time. The recording is kept with the consultation." }),
      this.recordIndicator,
      this.recordStatus,
      el("div", { class: "actions" }, this.recordButton, this.recordStop),
      this.recordUpload,
      this.recordError);
    window.addEventListener("beforeunload", (event) => {
      const u = this.rec.uploader;
      if ((u && u.waiting) || ["starting", "recording", "switching", "stopping"].includes(this.rec.state)) {
        event.preventDefault();
        event.returnValue = "";
      }
    });
    return this.recordingPanel;
  }

  // Runs recording steps one after the other (start, segment switches, stop).
  queueRecording(step, onFail) {
    this.recOps = this.recOps.then(step).catch((e) => {
      if (onFail) onFail(e);
    }).finally(() => this.renderRecording());
    return this.recOps;
  }

  // A click is a user gesture: the AudioContext that mixes the voices may start now.
  ensureAudioContext() {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return null;
    if (!this.audioContext || this.audioContext.state === "closed") this.audioContext = new Context();
    if (this.audioContext.state === "suspended") this.audioContext.resume().catch(() => {});
    return this.audioContext;
  }

  recordingMode() {
    return this.mode === "video" ? "video" : "audio";
  }

  async requestRecording() {
    if (this.rec.state !== "idle" || this.finished) return;
    this.ensureAudioContext();
    this.rec.state = "asking";
    this.rec.error = "";
    this.rec.text = "Asking the patient…";
    this.renderRecording();
    try {
      const data = await getJSON(this.consultationApi("/recording-consents"));
      const newest = (data.consents || []).find((c) => c && typeof c.id === "string");
      if (newest && (newest.status === "granted" || newest.status === "requested")) {
        if (!this.recConsent || this.recConsent.id !== newest.id) this.recConsent = { id: newest.id, status: newest.status };
      } else {
        const made = await sendJSON("POST", this.consultationApi("/recording-consents"), this.csrf);
        // The answer may already have arrived over the call.
        if (!this.recConsent || this.recConsent.id !== made.id) this.recConsent = { id: made.id, status: made.status || "requested" };
      }
      if (this.rec.state !== "asking") return; // a message moved things on
      this.rec.state = "waiting";
      if (this.recConsent.status === "granted") {
        this.startRecording();
        return;
      }
      this.rec.text = "Waiting for the patient's consent…";
    } catch (e) {
      if (this.rec.state === "asking") this.rec.state = "idle";
      this.rec.text = "";
      this.rec.error = `The patient could not be asked: ${e.message}`;
    } finally {
      this.renderRecording();
    }
  }

  startRecording() {
    if (this.rec.state !== "waiting" || this.finished) return;
    this.rec.state = "starting";
    this.rec.text = "The patient agreed. Starting the recording…";
    this.rec.error = "";
    this.rec.stopRequested = false;
    const gen = ++this.recGen;
    this.renderRecording();
    this.queueRecording(async () => {
      if (gen !== this.recGen) return;
      const mode = this.recordingMode();
      if (!CallCapture.mimeType(mode)) throw new Error("this browser cannot record the call");
      const made = await sendJSON("POST", this.consultationApi("/recordings"), this.csrf, { mode });
      const segs = made.segments || [];
      this.rec.id = made.id;
      this.rec.uploader = new ChunkUploader(made.id, this.csrf, () => this.renderRecording());
      if (gen !== this.recGen) return;
      await this.beginSegment(segs.length ? segs[segs.length - 1].segment : 0, mode);
      this.rec.state = "recording";
      this.rec.text = "";
      if (this.rec.stopRequested || this.finished) await this.finishRecording(gen);
    }, (e) => {
      if (gen !== this.recGen) return;
      this.rec.error = `The recording did not start: ${e && e.message ? e.message : e}`;
      this.rec.text = "";
      this.rec.state = "idle";
      if (this.rec.id) this.postFinish(this.rec.id).catch(() => {});
      this.rec.id = null;
    });
  }

  // A recording of this call that runs without a recorder here carries on in a new segment.
  continueRecording(active) {
    if (this.rec.state !== "idle" || this.finished) return;
    this.ensureAudioContext();
    this.rec.state = "starting";
    this.rec.text = "Continuing the recording of this call…";
    this.rec.error = "";
    this.rec.stopRequested = false;
    const gen = ++this.recGen;
    this.queueRecording(async () => {
      const mode = this.recordingMode();
      this.rec.id = active.id;
      const made = await sendJSON("POST", `/api/v1/recordings/${encodeURIComponent(active.id)}/segments`, this.csrf, { mode });
      if (gen !== this.recGen) return;
      this.rec.uploader = new ChunkUploader(active.id, this.csrf, () => this.renderRecording());
      await this.beginSegment(made.segment, mode);
      this.rec.state = "recording";
      this.rec.text = "";
      if (this.rec.stopRequested || this.finished) await this.finishRecording(gen);
    }, (e) => {
      if (gen !== this.recGen) return;
      this.rec.state = "idle";
      this.rec.id = null;
      this.rec.error = `The recording could not continue: ${e && e.message ? e.message : e}`;
    });
  }

  async beginSegment(segment, mode) {
    const ctx = this.ensureAudioContext();
    if (!ctx) throw new Error("this browser cannot mix the call's sound");
    const uploader = this.rec.uploader;
    const capture = new CallCapture(this, mode, ctx);
    capture.start((blob) => uploader.add(segment, blob), (e) => {
      if (this.rec.capture !== capture) return;
      this.rec.error = `The recorder failed: ${e && e.message ? e.message : e}. What was recorded so far is kept.`;
      this.stopRecording();
    });
    this.rec.capture = capture;
    this.rec.segment = segment;
    this.rec.mode = mode;
  }

  // The call switched between audio only and video: the segment closes, the next one opens.
  onRecordingModeChange() {
    if (this.role !== "clinician" || this.rec.state === "idle") return;
    const gen = this.recGen;
    this.queueRecording(async () => {
      if (gen !== this.recGen || this.rec.state !== "recording" || this.rec.stopRequested) return;
      const mode = this.recordingMode();
      if (mode === this.rec.mode) return;
      this.rec.state = "switching";
      this.rec.text = `Switching the recording to ${mode === "video" ? "video" : "audio only"}…`;
      this.renderRecording();
      const capture = this.rec.capture;
      const uploader = this.rec.uploader;
      this.rec.capture = null;
      if (capture) await capture.stop();
      await uploader.drain();
      if (gen !== this.recGen) return;
      if (uploader.stopped) {
        this.rec.state = "idle";
        this.rec.text = "The recording has stopped.";
        this.rec.id = null;
        return;
      }
      if (this.rec.stopRequested || this.finished) {
        this.rec.state = "recording";
        await this.finishRecording(gen);
        return;
      }
      const made = await sendJSON("POST", `/api/v1/recordings/${encodeURIComponent(this.rec.id)}/segments`, this.csrf, { mode });
      if (gen !== this.recGen) return;
      await this.beginSegment(made.segment, mode);
      this.rec.state = "recording";
      this.rec.text = "";
      if (this.rec.stopRequested || this.finished) await this.finishRecording(gen);
    }, (e) => {
      if (gen !== this.recGen) return;
      this.rec.error = `The recording could not switch to the new mode and was stopped: ${e && e.message ? e.message : e}`;
      this.rec.state = "recording";
      this.finishRecording(gen).catch(() => {});
    });
  }

  // "Stop recording", hanging up, the end of the consultation. The recorder stops at once (it
  // keeps nothing after this moment); what is queued is uploaded, then the recording finishes.
  stopRecording() {
    if (this.role !== "clinician") return this.recOps;
    const s = this.rec.state;
    if (s === "asking" || s === "waiting") {
      this.rec.state = "idle";
      this.rec.text = "";
      this.renderRecording();
      return this.recOps;
    }
    if (!["starting", "recording", "switching"].includes(s) || this.rec.stopRequested) return this.recOps;
    this.rec.stopRequested = true;
    if (this.rec.capture && s === "recording") this.rec.capture.stop();
    this.rec.text = "Stopping the recording: saving what is left…";
    this.renderRecording();
    const gen = this.recGen;
    return this.queueRecording(async () => {
      if (gen !== this.recGen || this.rec.state !== "recording") return;
      await this.finishRecording(gen);
    }, (e) => {
      if (gen !== this.recGen) return;
      this.rec.state = "idle";
      this.rec.error = `The recording could not be finished: ${e && e.message ? e.message : e}. The server finalises it later.`;
    });
  }

  async postFinish(id) {
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await sendJSON("POST", `/api/v1/recordings/${encodeURIComponent(id)}/finish`, this.csrf);
      } catch (e) {
        if (e.status === 409) return null; // it has already stopped
        if ((e.status && e.status < 500) || attempt >= 5) throw e;
        await sleep(UPLOAD_BACKOFF_MS[Math.min(attempt, UPLOAD_BACKOFF_MS.length - 1)]);
      }
    }
  }

  async finishRecording(gen) {
    this.rec.state = "stopping";
    this.rec.text = "Stopping the recording: saving what is left…";
    this.renderRecording();
    const capture = this.rec.capture;
    this.rec.capture = null;
    if (capture) await capture.stop();
    const uploader = this.rec.uploader;
    if (uploader) await uploader.drain();
    if (gen !== this.recGen) return;
    const id = this.rec.id;
    if (id && !(uploader && uploader.stopped)) await this.postFinish(id);
    if (gen !== this.recGen) return;
    this.rec.state = "idle";
    this.rec.id = null;
    this.rec.stopRequested = false;
    if (this.recActive && this.recActive.id === id) this.recActive = null;
    this.rec.text = uploader && uploader.lost
      ? `The recording was saved to the consultation, but ${chunkCount(uploader.lost)} of it could not be uploaded.`
      : "The recording was saved to the consultation.";
  }

  // The server stopped the recording (the patient withdrew): nothing more is uploaded.
  abortRecording(text) {
    this.recGen += 1;
    const { capture, uploader } = this.rec;
    if (uploader) uploader.discard();
    if (capture) capture.stop();
    this.rec.capture = null;
    this.rec.state = "idle";
    this.rec.id = null;
    this.rec.stopRequested = false;
    this.rec.text = text;
    this.renderRecording();
  }

  // ------------------------------------------------------------------ leaving

  hangup() {
    if (this.finished) return;
    this.leaving = "hangup";
    const left = this.role === "guest"
      ? "You have left the call."
      : "You have left the call. The consultation has not been ended.";
    if (!this.send({ type: "hangup" })) {
      this.finish("ended", left, true);
      return;
    }
    this.setState("ended", "Leaving the call…");
    // The server closes with 1000; do not wait for ever.
    setTimeout(() => this.finish("ended", left, true), 3000);
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
    // A recording stops with the call: what was recorded is uploaded and the recording finished.
    this.stopRecording();
    this.finished = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.pingTimer);
    for (const peer of this.peers.values()) this.closePeerConnection(peer);
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
      for (const b of this.callEl.querySelectorAll("button, select")) b.disabled = true;
      const media = this.callEl.querySelector("#call-media");
      if (media) setShown(media, false);
      if (this.invitePanel) setShown(this.invitePanel, false);
      if (this.invitationPrompt) setShown(this.invitationPrompt, false);
    }
    this.renderRecording();
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
