// Small DOM helpers shared by the page scripts (call.js, recordings.js). Plain ES module.

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
