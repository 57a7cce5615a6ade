// The clinician's waiting room, kept live: every server-sent event on /api/v1/events only says
// that something changed (it carries no patient data); the list is then fetched again through
// the signed-in JSON API and re-rendered.
import { localiseTimes } from "./local-time.js";

const STATUS = { "checked-in": "Waiting", "in-progress": "In progress" };
const MODALITY = { video: "Video", audio: "Phone (audio)", "in-person": "In person" };

function item(c) {
  const li = document.createElement("li");
  li.dataset.consultation = c.id;
  const link = document.createElement("a");
  link.href = "/clinic/consultations/" + encodeURIComponent(c.id);
  link.textContent = c.patient_name || "Patient";
  const when = document.createElement("time");
  when.dateTime = c.start;
  when.textContent = c.start_display;
  const status = document.createElement("span");
  status.className = "badge";
  status.textContent = STATUS[c.status] || c.status;
  li.append(link, " · ", when, " · ", MODALITY[c.modality] || c.modality, " · ", status);
  if (c.modality === "video" || c.modality === "audio") {
    const call = document.createElement("a");
    call.className = "call-link";
    call.href = "/clinic/consultations/" + encodeURIComponent(c.id) + "/call";
    call.textContent = c.status === "in-progress" ? "Rejoin call" : "Start call";
    li.append(" · ", call);
  }
  return li;
}

function start(root) {
  const list = root.querySelector("#waiting-list");
  const empty = root.querySelector("#waiting-empty");
  const live = document.getElementById("live-status");
  let busy = false;
  let again = false;

  function say(text) {
    if (live && live.textContent !== text) live.textContent = text;
  }

  function render(consultations) {
    const items = consultations.map(item);
    list.replaceChildren(...items);
    list.hidden = items.length === 0;
    empty.hidden = items.length !== 0;
    localiseTimes(list);
  }

  async function refresh() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    try {
      const reply = await fetch("/api/v1/waiting-room", {
        credentials: "same-origin",
        cache: "no-store",
        headers: { Accept: "application/json" },
      });
      if (reply.ok) {
        render((await reply.json()).consultations || []);
      } else if (reply.status === 401 || reply.status === 403) {
        say("Your session has ended: sign in again to see the waiting room.");
      }
    } catch {
      say("Connection lost; trying again…");
    } finally {
      busy = false;
      if (again) {
        again = false;
        refresh();
      }
    }
  }

  const events = new EventSource("/api/v1/events");
  events.addEventListener("open", () => {
    say("Live: this list updates by itself.");
    refresh(); // catch up on anything missed while disconnected
  });
  events.addEventListener("consultation", () => refresh());
  events.addEventListener("error", () => {
    say(events.readyState === EventSource.CLOSED ? "Live updates stopped: reload the page." : "Reconnecting…");
  });
  root.dataset.live = "on";
}

const root = document.getElementById("waiting-room");
if (root) start(root);
