// A userspace TCP proxy that stands for distance: every chunk in each direction is delayed by
// half the round trip plus jitter of zero median, delivered in order (netem is not available
// here); it can also drop whole echo probes, to stand for packet loss. Each proxy runs in its
// own thread and records the delay it actually added and the probes it dropped.
import { Worker } from "node:worker_threads";

/** Starts a proxy on a free loopback port; `setTarget(port)` points it at a server. */
export async function startDelayProxy({ rttMs, jitterMs = 0, seed = 1, echoLoss = 0 }) {
  const worker = new Worker(new URL("./proxy-worker.mjs", import.meta.url), { workerData: { rttMs, jitterMs, seed, echoLoss } });
  const next = () => new Promise((resolve) => worker.once("message", resolve));
  const { port } = await next();
  return {
    port,
    setTarget: (target) => worker.postMessage({ target }),
    /** The delays it added, per direction (ms). */
    async added() {
      worker.postMessage({ stats: true });
      return (await next()).added;
    },
    /** How many echo probes it dropped on their way to the browser. */
    async dropped() {
      worker.postMessage({ stats: true });
      return (await next()).dropped;
    },
    close: () => new Promise((resolve) => {
      worker.once("exit", resolve);
      worker.postMessage({ close: true });
    }),
  };
}
