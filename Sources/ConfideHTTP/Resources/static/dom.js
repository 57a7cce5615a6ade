// Small DOM and fetch helpers shared by the page scripts (call.js, recordings.js, triage.js). Plain ES module.

export function el(tag, props = {}, ...children) {
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

// Shows or hides an element. The `hidden` attribute alone loses to a class that sets `display`
// (.badge, .actions, .grid), so the inline display is set too.
export function setShown(node, on) {
  node.hidden = !on;
  node.style.display = on ? "" : "none";
}

export function button(id, text, extraClass) {
  return el("button", { type: "button", id, class: extraClass || undefined, text });
}

// The text of an RFC 9457 problem reply ("title: detail"), or a wording for its status.
export async function readProblem(reply, wording = {}) {
  try {
    const body = await reply.json();
    const parts = [body.title, body.detail].filter((s) => typeof s === "string" && s.trim());
    if (parts.length) return parts.join(": ");
  } catch {
    // not JSON: fall through
  }
  if (wording[reply.status]) return wording[reply.status];
  if (reply.status === 401) return "Your session has ended: sign in again.";
  if (reply.status === 404) return "This was not found, or it is not available to you.";
  return `The server answered ${reply.status}.`;
}

async function replyJSON(reply, wording) {
  if (!reply.ok) {
    const error = new Error(await readProblem(reply, wording));
    error.status = reply.status;
    throw error;
  }
  if (reply.status === 204) return null;
  try {
    return await reply.json();
  } catch {
    return null;
  }
}

// A cookie-authenticated JSON read.
export async function fetchJSON(url, wording) {
  const reply = await fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } });
  return replyJSON(reply, wording);
}

// A cookie-authenticated JSON write (POST, PUT, DELETE): the page's CSRF token goes in a header.
export async function sendJSON(method, url, csrf, body, wording) {
  const reply = await fetch(url, {
    method,
    credentials: "same-origin",
    cache: "no-store",
    headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRF-Token": csrf || "" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return replyJSON(reply, wording);
}
