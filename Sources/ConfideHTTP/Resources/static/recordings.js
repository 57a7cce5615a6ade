// The recordings of a consultation on its detail page (docs/design/recordings.md). The server
// renders <section id="recordings" data-consultation="…">; this module lists the consultation's
// recordings (GET /api/v1/recordings?consultation=…) and gives each one player. A recording is
// made of segments (a new one at every switch between audio only and video): the player plays
// them one after the other. After a recording finishes the server remuxes every segment so that
// it can be seeked; until then the page says so and asks again every few seconds.
import { button, el, setShown } from "./dom.js";
import { localiseTimes } from "./local-time.js";

const POLL_MS = 3000;
const POLL_GIVE_UP_MS = 10 * 60 * 1000;
const STATUS_TEXT = {
  recording: "Being recorded now",
  complete: "Complete",
  incomplete: "Incomplete: the upload stopped before the end of the call",
  erased: "Erased",
};

// --------------------------------------------------------------------------- small DOM helpers

async function getJSON(url) {
  const reply = await fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } });
  if (!reply.ok) {
    let text = `The server answered ${reply.status}.`;
    try {
      const body = await reply.json();
      const parts = [body.title, body.detail].filter((s) => typeof s === "string" && s.trim());
      if (parts.length) text = parts.join(": ");
    } catch {
      // not JSON
    }
    const error = new Error(text);
    error.status = reply.status;
    throw error;
  }
  return reply.json();
}

function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}

// Only a media path of this server is ever given to the player.
function mediaUrl(segment) {
  const url = typeof segment.media_url === "string" ? segment.media_url : "";
  return url.startsWith("/api/v1/recordings/") ? url : null;
}

// --------------------------------------------------------------------------- one recording

class RecordingView {
  constructor(recording) {
    this.id = recording.id;
    this.recording = recording;
    this.index = 0; // the segment in the player (index into playable())
    this.loadedSeekable = false;

    const safe = String(this.id).replace(/[^a-z0-9-]/gi, "");
    this.heading = el("h3", { id: `recording-${safe}-title` });
    this.statusEl = el("p", { class: "recording-status" });
    this.preparing = el("p", { class: "muted recording-preparing", role: "status", "aria-live": "polite" });
    this.partEl = el("p", { class: "muted recording-part", "aria-live": "polite" });
    this.error = el("p", { class: "field-error recording-error", role: "alert" });
    setShown(this.error, false);
    this.video = el("video", { controls: true, preload: "auto", class: "recording-player", id: `recording-${safe}-player` });
    this.video.setAttribute("playsinline", "");
    this.video.setAttribute("aria-labelledby", this.heading.id);
    this.video.style.width = "100%";
    this.video.style.maxWidth = "720px";
    this.video.style.background = "#000";
    this.parts = el("div", { class: "actions recording-parts", role: "group", "aria-label": "Parts of this recording" });
    this.video.addEventListener("ended", () => this.next());
    this.video.addEventListener("error", () => {
      if (!this.video.getAttribute("src")) return;
      this.error.textContent = "This part of the recording could not be played.";
      setShown(this.error, true);
    });
    this.video.addEventListener("loadeddata", () => setShown(this.error, false));
    this.node = el("article", { class: "recording", dataset: { id: this.id } },
      this.heading, this.statusEl, this.preparing, this.video, this.partEl, this.parts, this.error);
    this.node.style.margin = "0 0 24px";
    this.update(recording);
  }

  // The segments that hold media, in order.
  playable() {
    return (this.recording.segments || [])
      .filter((s) => s && Number.isInteger(s.segment) && s.chunks > 0 && mediaUrl(s))
      .sort((a, b) => a.segment - b.segment);
  }

  // Whether the page should ask again: still recording, or a closed part not yet seekable.
  pending() {
    const r = this.recording;
    if (r.status === "recording") return true;
    return this.playable().some((s) => !s.seekable);
  }

  update(recording) {
    this.recording = recording;
    const r = recording;
    const segments = this.playable();
    this.node.dataset.status = r.status || "";
    this.heading.replaceChildren("Recording started ",
      r.started_at ? el("time", { datetime: r.started_at, text: r.started_at }) : "at an unknown time");
    localiseTimes(this.heading);
    const parts = plural(segments.length, "part", "parts");
    const status = STATUS_TEXT[r.status] || String(r.status || "");
    this.statusEl.textContent = `${status} · ${parts}`;
    const waiting = segments.filter((s) => !s.seekable).length;
    this.preparing.textContent = r.status === "recording"
      ? "The recording is still being made: it can be played once it has finished."
      : waiting
        ? "Being prepared for seeking: you can already play it from the start; jumping to a moment works in a few seconds."
        : "";
    this.preparing.dataset.waiting = String(waiting);
    setShown(this.preparing, Boolean(this.preparing.textContent));

    // One button per part, to jump to it.
    if (segments.length > 1) {
      const buttons = segments.map((s, i) => {
        const b = button("", `Part ${i + 1}${s.mode === "audio" ? " (audio only)" : " (video)"}`, "secondary");
        b.removeAttribute("id");
        b.dataset.segment = String(s.segment);
        b.addEventListener("click", () => this.load(i, true));
        return b;
      });
      this.parts.replaceChildren(...buttons);
      setShown(this.parts, true);
    } else {
      this.parts.replaceChildren();
      setShown(this.parts, false);
    }

    if (!segments.length) {
      setShown(this.video, false);
      this.partEl.textContent = r.status === "recording" ? "" : "This recording holds no media.";
      setShown(this.partEl, Boolean(this.partEl.textContent));
      return;
    }
    setShown(this.video, true);
    const current = segments[Math.min(this.index, segments.length - 1)];
    if (!this.video.getAttribute("src")) {
      this.load(0, false);
    } else if (current && current.seekable && !this.loadedSeekable && this.idle()) {
      // The seekable version of the part in the player is ready: load it where the player is.
      this.load(this.index, false, this.video.currentTime || 0);
    }
    this.showPart();
  }

  // Not playing and not in the middle of loading.
  idle() {
    return this.video.paused || this.video.ended;
  }

  showPart() {
    const segments = this.playable();
    const s = segments[this.index];
    if (!s) return;
    this.partEl.textContent = segments.length > 1
      ? `Part ${this.index + 1} of ${segments.length}${s.mode === "audio" ? " (audio only)" : ""}`
      : s.mode === "audio" ? "Audio only" : "";
    setShown(this.partEl, Boolean(this.partEl.textContent));
    for (const b of this.parts.querySelectorAll("button")) {
      b.setAttribute("aria-pressed", String(b.dataset.segment === String(s.segment)));
    }
  }

  load(index, play, at = 0) {
    const segments = this.playable();
    const s = segments[index];
    if (!s) return;
    this.index = index;
    this.loadedSeekable = Boolean(s.seekable);
    this.video.dataset.segment = String(s.segment);
    this.video.dataset.seekable = String(Boolean(s.seekable));
    setShown(this.error, false);
    this.video.src = mediaUrl(s);
    this.video.load();
    if (at > 0) {
      this.video.addEventListener("loadedmetadata", () => {
        if (Number.isFinite(this.video.duration) && at < this.video.duration) this.video.currentTime = at;
      }, { once: true });
    }
    if (play) {
      const p = this.video.play();
      if (p && typeof p.catch === "function") p.catch(() => {});
    }
    this.showPart();
  }

  // The part in the player ended: the next one plays.
  next() {
    const segments = this.playable();
    if (this.index + 1 >= segments.length) return;
    this.load(this.index + 1, true);
  }
}

// --------------------------------------------------------------------------- the list

class Recordings {
  constructor(section) {
    this.section = section;
    this.consultation = section.dataset.consultation || "";
    this.views = new Map();
    this.started = Date.now();
    this.timer = null;
    this.loading = section.querySelector("#recordings-loading");
    this.message = el("p", { id: "recordings-message", class: "muted", role: "status", "aria-live": "polite" });
    this.list = el("div", { id: "recordings-list" });
    if (this.loading) this.loading.remove();
    section.append(this.message, this.list);
  }

  url() {
    return "/api/v1/recordings?consultation=" + encodeURIComponent(this.consultation);
  }

  say(text, error = false) {
    this.message.textContent = text || "";
    this.message.className = error ? "field-error" : "muted";
    this.message.setAttribute("role", error ? "alert" : "status");
    setShown(this.message, Boolean(text));
  }

  async load() {
    let data;
    try {
      data = await getJSON(this.url());
    } catch (e) {
      if (e.status === 503) this.say("Recordings are not available on this server.");
      else if (e.status === 403 || e.status === 404) this.say("You cannot see the recordings of this consultation.");
      else {
        this.say(`The recordings could not be loaded: ${e.message}`, true);
        this.schedule();
      }
      this.section.dataset.state = "error";
      return;
    }
    const recordings = (data.recordings || [])
      .filter((r) => r && typeof r.id === "string" && r.status !== "erased")
      .sort((a, b) => String(a.started_at).localeCompare(String(b.started_at)));
    this.section.dataset.state = "loaded";
    this.say(recordings.length ? "" : "This consultation has no recordings.");
    const seen = new Set();
    for (const r of recordings) {
      seen.add(r.id);
      let view = this.views.get(r.id);
      if (view) view.update(r);
      else {
        view = new RecordingView(r);
        this.views.set(r.id, view);
      }
      this.list.append(view.node); // keeps the order
    }
    for (const [id, view] of this.views) {
      if (seen.has(id)) continue;
      view.video.removeAttribute("src");
      view.node.remove();
      this.views.delete(id);
    }
    if ([...this.views.values()].some((v) => v.pending())) this.schedule();
  }

  schedule() {
    clearTimeout(this.timer);
    if (Date.now() - this.started > POLL_GIVE_UP_MS) return;
    this.timer = setTimeout(() => this.load(), POLL_MS);
  }
}

const section = document.getElementById("recordings");
if (section && section.dataset.consultation) {
  const recordings = new Recordings(section);
  recordings.load();
}
