// One delay proxy in its own thread, so several proxies do not delay one another's chunks.
import { parentPort, workerData } from "node:worker_threads";
import net from "node:net";

const { rttMs, jitterMs, seed } = workerData;
let state = seed >>> 0;
const random = () => {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
let target = 0;
const added = { up: [], down: [] };
const sockets = new Set();

function relay(from, to, direction) {
  let last = 0;
  const queue = [];
  let waiting = false;
  // Timers fire a millisecond or more late; the last stretch is spun out with setImmediate so
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
      if (wait > 2) setTimeout(pump, wait - 1.5);
      else setImmediate(pump);
    }
  };
  from.on("data", (chunk) => {
    const received = performance.now();
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
  if (message.stats) parentPort.postMessage({ added });
  if (message.close) {
    for (const socket of sockets) socket.destroy();
    server.close(() => process.exit(0));
  }
});
