// Benchmark of the browser probe in headless Chromium: the key handler's cost against an empty
// JavaScript listener measured in the same page and run, the memory 10,000 key events take, and
// the probe's wasm size gzipped. Ends with one `name: value unit` line per figure.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { startEdge, launchBrowser } from "../e2e/harness.mjs";

const ROUNDS = 400; // timed batches per listener
const PER_BATCH = 25; // key-down/key-up pairs per timed batch (timers step by 5 µs)
const MEMORY_EVENTS = 10_000;

const edge = await startEdge();
const browser = await launchBrowser();
try {
  const page = await browser.newPage();
  await page.goto(`${edge.url}/`); // cross-origin isolated: performance.now() steps by 5 µs
  const result = await page.evaluate(
    async ({ ROUNDS, PER_BATCH, MEMORY_EVENTS }) => {
      const { default: init, Capture } = await import("/probe/onsite_probe.js");
      const wasm = await init();
      const empty = document.createElement("div");
      const probed = document.createElement("div");
      document.body.append(empty, probed);
      for (const kind of ["keydown", "keyup"]) empty.addEventListener(kind, () => {}, true);
      const capture = new Capture(probed);
      const codes = ["KeyA", "KeyS", "KeyD", "KeyF", "Space", "KeyJ", "KeyK", "KeyL"];
      const events = codes.map((code) => [new KeyboardEvent("keydown", { code, key: "x" }), new KeyboardEvent("keyup", { code, key: "x" })]);
      const time = (target) => {
        const start = performance.now();
        for (let i = 0; i < PER_BATCH; i++) {
          const [down, up] = events[i % events.length];
          target.dispatchEvent(down);
          target.dispatchEvent(up);
        }
        // Nanoseconds per event.
        return ((performance.now() - start) * 1e6) / (PER_BATCH * 2);
      };
      for (let i = 0; i < 50; i++) {
        time(empty);
        time(probed);
      }
      const samples = { empty: [], probed: [] };
      for (let i = 0; i < ROUNDS; i++) {
        // Alternate which goes first, so neither always runs on a warmer cache.
        if (i % 2 === 0) {
          samples.empty.push(time(empty));
          samples.probed.push(time(probed));
        } else {
          samples.probed.push(time(probed));
          samples.empty.push(time(empty));
        }
        capture.drain();
      }
      const before = wasm.memory.buffer.byteLength;
      const heapBefore = performance.memory?.usedJSHeapSize ?? 0;
      for (let i = 0; i < MEMORY_EVENTS / 2; i++) {
        const [down, up] = events[i % events.length];
        probed.dispatchEvent(down);
        probed.dispatchEvent(up);
      }
      return {
        samples,
        presses: capture.presses(),
        wasmGrowth: wasm.memory.buffer.byteLength - before,
        wasmTotal: wasm.memory.buffer.byteLength,
        heapGrowth: (performance.memory?.usedJSHeapSize ?? 0) - heapBefore,
        crossOriginIsolated,
      };
    },
    { ROUNDS, PER_BATCH, MEMORY_EVENTS },
  );
  const quantile = (values, q) => {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  };
  const wasmBytes = readFileSync(new URL("../../dist/probe/onsite_probe_bg.wasm", import.meta.url));
  const gzipBytes = gzipSync(wasmBytes, { level: 9 }).length;
  const figures = {
    empty_listener_median_ns: [quantile(result.samples.empty, 0.5), "ns"],
    empty_listener_p99_ns: [quantile(result.samples.empty, 0.99), "ns"],
    probe_handler_median_ns: [quantile(result.samples.probed, 0.5), "ns"],
    probe_handler_p99_ns: [quantile(result.samples.probed, 0.99), "ns"],
    probe_handler_ratio_median: [quantile(result.samples.probed, 0.5) / quantile(result.samples.empty, 0.5), "x"],
    probe_handler_ratio_p99: [quantile(result.samples.probed, 0.99) / quantile(result.samples.empty, 0.99), "x"],
    probe_memory_10k_events: [result.wasmGrowth, "bytes"],
    probe_wasm_memory_total: [result.wasmTotal, "bytes"],
    probe_wasm_bytes: [wasmBytes.length, "bytes"],
    probe_wasm_gzip: [gzipBytes, "bytes"],
  };
  console.log(`(cross-origin isolated: ${result.crossOriginIsolated}; ${ROUNDS} batches of ${PER_BATCH * 2} events per listener; each figure is per dispatched event, dispatch included)`);
  for (const [name, [value, unit]] of Object.entries(figures)) {
    console.log(`${name}: ${Number.isInteger(value) ? value : value.toFixed(2)} ${unit}`);
  }
} finally {
  await browser.close();
  await edge.stop();
}
