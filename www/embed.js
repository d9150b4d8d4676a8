// The example portal's script: frames the candidate widget and checks each message's origin and
// source before believing it; runs the probe package (./probe/index.js) on the notes field.
import { start, fromCandidateLink } from "./probe/index.js";

// The links are capabilities, so they come in this page's fragment (#candidate=…&live=…), which
// browsers never send to a server, a proxy or a referrer; a query string would be.
const params = new URLSearchParams(location.hash.slice(1));
const candidate = params.get("candidate");
const frame = document.getElementById("widget");
const progress = document.getElementById("progress");
const events = document.getElementById("events");
// Out of the address bar and this history entry, too, once read.
if (location.hash) history.replaceState(null, "", location.pathname);

const inQuery = new URLSearchParams(location.search);
if (inQuery.has("candidate") || inQuery.has("live")) {
  progress.textContent = "This page takes its links after a # (embed.html#candidate=…), never after a ?: a link in the query string is sent to the server. Ask for a new link.";
} else if (!candidate) {
  progress.textContent = "Open this page with #candidate=<candidate link>.";
} else {
  const widgetOrigin = new URL(candidate).origin;
  // The widget posts to this page's origin only, and only when told it here.
  frame.src = `${candidate}&host=${encodeURIComponent(location.origin)}`;
  window.addEventListener("message", (event) => {
    // Believe only the widget's own origin and frame.
    if (event.origin !== widgetOrigin || event.source !== frame.contentWindow || event.data?.source !== "onsite") return;
    const { type, ...fields } = event.data;
    const item = document.createElement("li");
    item.dataset.type = type;
    item.textContent = `${type} ${JSON.stringify(Object.fromEntries(Object.entries(fields).filter(([k]) => k !== "source")))}`;
    events.append(item);
    if (type === "onsite:step") progress.textContent = `Step ${fields.step} of ${fields.of}: ${fields.name}`;
    if (type === "onsite:progress") progress.textContent = `Typing: ${fields.keystrokes} of ${fields.target} key presses`;
    if (type === "onsite:problem") progress.textContent = `The check reports: ${fields.message}`;
    if (type === "onsite:done") progress.textContent = "The check is complete. Thank you.";
  });
}

const live = inQuery.has("live") ? null : params.get("live");
if (live) {
  document.getElementById("live").hidden = false;
  const status = document.getElementById("live-status");
  const probe = await start(fromCandidateLink(live));
  probe.attach(document.getElementById("notes"));
  probe.addEventListener("status", ({ detail }) => {
    status.textContent = `${detail.connected ? "connected" : "connecting…"} · ${detail.keystrokes} key presses · ${detail.ackedBatches} batches stored${detail.finished ? " · done" : ""}`;
  });
  probe.addEventListener("done", () => status.dataset.done = "true");
  document.getElementById("live-finish").addEventListener("click", () => probe.finish());
}
