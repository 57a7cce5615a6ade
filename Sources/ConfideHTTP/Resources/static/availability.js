// The availability editor works as a plain form (it always offers blank rows); this adds
// "Add another" buttons that append more rows from a <template>.
for (const button of document.querySelectorAll("button[data-add-row]")) {
  const kind = button.dataset.addRow;
  const template = document.getElementById(kind + "-template");
  const container = document.getElementById(kind + "-rows");
  if (!template || !container) continue;
  button.hidden = false;
  button.addEventListener("click", () => {
    const index = Number(container.dataset.next || "0");
    container.dataset.next = String(index + 1);
    const html = template.innerHTML.replaceAll("__i__", String(index)).replaceAll("__n__", String(index + 1));
    container.insertAdjacentHTML("beforeend", html);
    const first = container.lastElementChild && container.lastElementChild.querySelector("select, input");
    if (first) first.focus();
  });
}

// Ticking "Remove" greys the row out, so it is clear what saving will drop.
document.addEventListener("change", (event) => {
  const box = event.target;
  if (box instanceof HTMLInputElement && box.type === "checkbox" && box.name.endsWith("_remove")) {
    const row = box.closest("fieldset");
    if (row) row.classList.toggle("removed", box.checked);
  }
});
