// A userspace TCP proxy that stands for distance: every chunk in each direction is delayed by
// half the round trip plus jitter, delivered in order (netem is not available here). It records
// the delay it actually added, so tests compare against what was really injected.
import net from "node:net";

/** Starts a proxy on a free loopback port towards `target()` (a port, read at each connection). */
export async function startDelayProxy({ target, rttMs, jitterMs = 0, random = Math.random }) {
  const added = { up: [], down: [] };
  const sockets = new Set();
  const relay = (from, to, direction) => {
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
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(target(), "127.0.0.1");
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    sockets.add(client).add(upstream);
    relay(client, upstream, "up");
    relay(upstream, client, "down");
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: server.address().port,
    added,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}
