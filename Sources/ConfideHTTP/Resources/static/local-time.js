// Shows every <time datetime="…"> instant in the viewer's own time zone.
// The server renders the practice's wall-clock time; this keeps it in the title.
const format = new Intl.DateTimeFormat(undefined, {
  weekday: "short",
  day: "numeric",
  month: "short",
  year: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  timeZoneName: "short",
});

export function localiseTimes(root = document) {
  for (const el of root.querySelectorAll("time[datetime]")) {
    if (el.dataset.localised === "1") continue;
    const value = el.getAttribute("datetime") || "";
    if (!value.includes("T")) continue; // a plain date has no zone
    const instant = new Date(value);
    if (Number.isNaN(instant.getTime())) continue;
    const practiceText = el.textContent.trim();
    if (practiceText && !el.title) el.title = "At the practice: " + practiceText;
    el.textContent = format.format(instant);
    el.dataset.localised = "1";
  }
}

localiseTimes();
