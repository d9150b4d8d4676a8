// Types of the onsite probe package (index.js).

/** What the probe reports about itself. */
export interface ProbeStatus {
  connected: boolean;
  /** Presses captured so far (timings only, never which key). */
  keystrokes: number;
  pointerSamples: number;
  ackedBatches: number;
  unackedBatches: number;
  /** Times the connection was lost and made again (unacknowledged batches are resent). */
  reconnects: number;
  finished: boolean;
  /** A sentence for people when something went wrong, or null. */
  problem: string | null;
}

export interface StartOptions {
  /** The edge's base URL (`https://onsite.example`) or its WebSocket URL. */
  endpoint: string;
  session: string;
  /** The candidate link's token. */
  token: string;
  /** Where `onsite_probe_bg.wasm` is served, if not next to this file. */
  wasmUrl?: string | URL;
}

export interface OnsiteProbeEventMap {
  status: CustomEvent<ProbeStatus>;
  connected: CustomEvent<ProbeStatus>;
  disconnected: CustomEvent<ProbeStatus>;
  done: CustomEvent<ProbeStatus>;
  problem: CustomEvent<ProbeStatus>;
}

export interface OnsiteProbe extends EventTarget {
  attach(element: EventTarget): OnsiteProbe;
  status(): ProbeStatus;
  finish(): void;
  addEventListener<K extends keyof OnsiteProbeEventMap>(type: K, listener: (event: OnsiteProbeEventMap[K]) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
}

export function start(options: StartOptions): Promise<OnsiteProbe>;

export function fromCandidateLink(link: string): { endpoint: string; session: string | null; token: string | null };

/** Messages the candidate widget posts to the page that frames it (only to the `host=` origin). */
export type WidgetMessage =
  | { source: "onsite"; type: "onsite:ready" }
  | { source: "onsite"; type: "onsite:consented" }
  | { source: "onsite"; type: "onsite:step"; step: number; of: number; name: "consent" | "typing" | "rhythm" | "tracking" | "finishing" }
  | { source: "onsite"; type: "onsite:progress"; keystrokes: number; target: number }
  | { source: "onsite"; type: "onsite:problem"; message: string; connected: boolean }
  | { source: "onsite"; type: "onsite:done" };
