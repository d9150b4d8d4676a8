// The onsite probe for host pages: `start({endpoint, session, token})` connects to an edge and
// returns a handle; `handle.attach(element)` captures key and pointer timings there (never which
// key); the handle is an EventTarget that fires "status", "connected", "disconnected", "done" and
// "problem". See index.d.ts for the types.
import init, { Probe } from "./onsite_probe.js";

let ready;

/** Loads the WebAssembly once, from next to this file unless `wasmUrl` says otherwise. */
function load(wasmUrl) {
  ready ??= init(wasmUrl ? { module_or_path: wasmUrl } : undefined);
  return ready;
}

/** The edge's WebSocket URL from its base URL (`https://onsite.example`) or the URL itself. */
function socketUrl(endpoint) {
  const url = new URL(endpoint, location.href);
  if (url.protocol === "http:" || url.protocol === "https:") {
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.pathname = "/api/v1/ws";
  }
  return url.toString();
}

/** A running probe. */
class OnsiteProbe extends EventTarget {
  #probe;
  #last = {};

  constructor(endpoint, session, token) {
    super();
    this.#probe = new Probe(socketUrl(endpoint), session, token, (status) => this.#changed(status));
  }

  #changed(status) {
    const last = this.#last;
    this.#last = status;
    this.dispatchEvent(new CustomEvent("status", { detail: status }));
    if (status.connected && !last.connected) this.dispatchEvent(new CustomEvent("connected", { detail: status }));
    if (!status.connected && last.connected) this.dispatchEvent(new CustomEvent("disconnected", { detail: status }));
    if (status.finished && !last.finished) this.dispatchEvent(new CustomEvent("done", { detail: status }));
    if (status.problem && status.problem !== last.problem) this.dispatchEvent(new CustomEvent("problem", { detail: status }));
  }

  /** Captures timings on `element` (or `document`). */
  attach(element) {
    this.#probe.attach(element);
    return this;
  }

  /** The current status. */
  status() {
    return this.#probe.status();
  }

  /** Sends what is left; "done" fires once the edge has everything. */
  finish() {
    this.#probe.finish();
  }
}

/** Connects to an edge for a session with the candidate's token. */
export async function start({ endpoint, session, token, wasmUrl }) {
  if (!endpoint || !session || !token) throw new TypeError("start() needs endpoint, session and token");
  await load(wasmUrl);
  return new OnsiteProbe(endpoint, session, token);
}

/** Reads `session` and `token` from a candidate link (`…/candidate#session=…&token=…`). */
export function fromCandidateLink(link) {
  const url = new URL(link);
  const params = new URLSearchParams(url.hash.slice(1));
  return { endpoint: url.origin, session: params.get("session"), token: params.get("token") };
}
