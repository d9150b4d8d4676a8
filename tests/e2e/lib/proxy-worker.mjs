// One delay proxy in its own thread, so several proxies do not delay one another's chunks.
import { parentPort, workerData } from "node:worker_threads";
import net from "node:net";
import { seeded } from "./replay.mjs";

const { rttMs, jitterMs, seed, echoLoss = 0 } = workerData;
const random = seeded(seed);
// Loss draws its own stream: which probes are dropped depends only on the seed.
const lossRandom = seeded(seed ^ 0x9e3779b9);
let target = 0;
const added = { up: [], down: [] };
// Echo probes the proxy dropped on their way to the browser.
let dropped = 0;
const sockets = new Set();

/**
 * Loss without breaking TCP: on the way down, the stream is cut into WebSocket frames (server
 * frames are not masked, RFC 6455 section 5.2) and whole echo probes (binary, first byte 0x01)
 * are dropped with probability `echoLoss`. Everything else passes unchanged and in order.
 */
function frameFilter() {
  let buffer = Buffer.alloc(0);
  // "head" until the response head is through; then "frames" after a 101, or "plain" for
  // ordinary HTTP, which passes untouched.
  let mode = "head";
  return (chunk) => {
    if (mode === "plain") return chunk;
    buffer = Buffer.concat([buffer, chunk]);
    const kept = [];
    if (mode === "head") {
      const end = buffer.indexOf("\r\n\r\n");
      if (end < 0) return Buffer.alloc(0);
      mode = buffer.subarray(0, 12).toString() === "HTTP/1.1 101" ? "frames" : "plain";
      if (mode === "plain") {
        const all = buffer;
        buffer = Buffer.alloc(0);
        return all;
      }
      kept.push(buffer.subarray(0, end + 4));
      buffer = buffer.subarray(end + 4);
    }
    for (;;) {
      if (buffer.length < 2) break;
      const opcode = buffer[0] & 0x0f;
      let length = buffer[1] & 0x7f;
      let header = 2;
      if (length === 126) {
        if (buffer.length < 4) break;
        length = buffer.readUInt16BE(2);
        header = 4;
      } else if (length === 127) {
        if (buffer.length < 10) break;
        length = Number(buffer.readBigUInt64BE(2));
        header = 10;
      }
      if (buffer.length < header + length) break;
      const frame = buffer.subarray(0, header + length);
      buffer = buffer.subarray(header + length);
      if (opcode === 2 && length > 0 && frame[header] === 0x01 && lossRandom() < echoLoss) dropped += 1;
      else kept.push(frame);
    }
    return Buffer.concat(kept);
  };
}

function relay(from, to, direction) {
  const filter = direction === "down" && echoLoss > 0 ? frameFilter() : (chunk) => chunk;
  let last = 0;
  const queue = [];
  let waiting = false;
  // Timers fire a millisecond or more late (up to 3 ms on this loaded 2-core machine); the last
  // 3.5 ms are spun out with setImmediate so
  // chunks leave within a few tens of microseconds of when they are due.
  const pump = () => {
    waiting = false;
    const now = performance.now();
    while (queue.length && queue[0].due <= now) {
      const { chunk, received } = queue.shift();
      if (!to.destroyed) to.write(chunk);
      added[direction].push(performance.now() - received);
    }
    if (queue.length) {
      waiting = true;
      const wait = queue[0].due - performance.now();
      if (wait > 4) setTimeout(pump, wait - 3.5);
      else setImmediate(pump);
    }
  };
  from.on("data", (raw) => {
    const received = performance.now();
    const chunk = filter(raw);
    if (chunk.length === 0) return;
    const due = Math.max(received + rttMs / 2 + (random() * 2 - 1) * jitterMs, last);
    last = due;
    queue.push({ chunk, received, due });
    if (!waiting) pump();
  });
  from.on("close", () => setTimeout(() => to.destroy(), rttMs));
  from.on("error", () => to.destroy());
}

const server = net.createServer((client) => {
  const upstream = net.connect(target, "127.0.0.1");
  client.setNoDelay(true);
  upstream.setNoDelay(true);
  sockets.add(client).add(upstream);
  relay(client, upstream, "up");
  relay(upstream, client, "down");
});
server.listen(0, "127.0.0.1", () => parentPort.postMessage({ port: server.address().port }));
parentPort.on("message", (message) => {
  if (message.target) target = message.target;
  if (message.stats) parentPort.postMessage({ added, dropped });
  if (message.close) {
    for (const socket of sockets) socket.destroy();
    server.close(() => process.exit(0));
  }
});
