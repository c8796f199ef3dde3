/**
 * Bare zeromq.js peers for the pipeline benchmark: the same sockets and the same
 * stall-free receive path as lib/messaging (SocketPoller), but no envelope, no
 * schema, no metrics. They set the yardstick the services are compared with.
 *
 * ```sh
 * deno run -A bench/bare_zmq.ts relay --in tcp://127.0.0.1:A --out tcp://127.0.0.1:B
 * deno run -A bench/bare_zmq.ts pub --out tcp://127.0.0.1:B --size 300 --seconds 5
 * ```
 * `relay` forwards every frame from a SUB (connect `--in`) to a PUB (bind `--out`).
 * `pub` publishes frames of `--size` bytes as fast as it can for `--seconds`, then
 * prints `{"sent":N}`. Frames are sent as strings, as lib/messaging does: zeromq.js
 * under Deno leaks memory on Uint8Array frames over 128 bytes.
 * Both print `ready` on stdout once bound, and stop on SIGTERM.
 * @module
 */
import * as zmq from "zeromq";
import { setImmediate } from "node:timers";
import { SocketPoller } from "../lib/zmq_poll.ts";

/** A SUB socket whose frames are handed to `onFrame`, without ever awaiting a pending receive. */
export function bareSubscriber(
  endpoint: string,
  onFrame: (frame: Uint8Array) => void,
): { close(): Promise<void> } {
  const sub = new zmq.Subscriber({ receiveTimeout: 0, linger: 0, receiveHighWaterMark: 100_000 });
  sub.connect(endpoint);
  sub.subscribe();
  const poller = SocketPoller.start(sub, async () => {
    let n = 0;
    while (sub.readable && n < 10_000) {
      const [frame] = await sub.receive();
      onFrame(frame);
      n++;
    }
    return n >= 10_000 ? 0 : undefined;
  }, { maxWaitMs: 50 });
  return {
    async close() {
      await poller.stop();
      sub.close();
    },
  };
}

/** A PUB socket bound at `endpoint`. */
export async function barePublisher(endpoint: string): Promise<zmq.Publisher> {
  const pub = new zmq.Publisher({ sendTimeout: 0, linger: 0, sendHighWaterMark: 100_000 });
  await pub.bind(endpoint);
  return pub;
}

function arg(name: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  if (i < 0 || i + 1 >= Deno.args.length) throw new Error(`bare_zmq: --${name} is required`);
  return Deno.args[i + 1];
}

async function relay(): Promise<void> {
  const pub = await barePublisher(arg("out"));
  // With sendTimeout 0 a send completes inside the call, so frames go out in order.
  const text = new TextDecoder();
  const sub = bareSubscriber(arg("in"), (f) => void pub.send(text.decode(f)).catch(() => {}));
  console.log("ready");
  await new Promise<void>((resolve) => {
    Deno.addSignalListener("SIGTERM", () => resolve());
  });
  await sub.close();
  pub.close();
}

async function publish(): Promise<void> {
  const pub = await barePublisher(arg("out"));
  const size = Number(arg("size"));
  const seconds = Number(arg("seconds"));
  console.log("ready");
  // Subscribers need a moment to connect (the slow-joiner problem).
  await new Promise((r) =>
    setTimeout(r, Number(Deno.args.includes("--warmup") ? arg("warmup") : 500))
  );
  const frame = "x".repeat(size);
  let sent = 0;
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < 1000; i++) {
      try {
        await pub.send(frame);
        sent++;
      } catch { /* dropped at HWM */ }
    }
    await new Promise((r) => setImmediate(r));
  }
  console.log(JSON.stringify({ sent }));
  pub.close();
}

if (import.meta.main) {
  const role = Deno.args[0];
  if (role === "relay") await relay();
  else if (role === "pub") await publish();
  else throw new Error(`bare_zmq: unknown role ${role}`);
}
