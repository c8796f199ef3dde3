/**
 * A messaging peer in its own process, driven line by line for multi-process
 * tests (see {@linkcode PeerProcess} in ./peer_process.ts).
 *
 * ```sh
 * deno run -A lib/testing/zmq_peer.ts <pub|sub|send|recv> --endpoint <ep> [--endpoint <ep>…]
 *   [--service S] [--name N] [--heartbeat-ms MS] [--journal PATH] [--window N]
 *   [--resend-ms MS] [--poll-ms MS] [--sender PUB] [--echo]
 * ```
 *
 * Commands on stdin (one a line): `publish <n>` (pub: n messages of type
 * `tick`, body `{ i }` counting from 1 across commands), `heartbeat` (pub: one
 * heartbeat now), `send <n>` (send: n messages of type `order`), `stats`,
 * `exit`. Events on stdout, one JSON object a line: `ready`, `published`,
 * `queued`, `acked`, `msg` (with `--echo`), `stats`, `closed`. Logs go to
 * stderr. SIGTERM and end of stdin close gracefully; exit code 0.
 *
 * @module
 */

import { configure, type LogRecord } from "@logtape/logtape";
import { setImmediate } from "node:timers";
import { Registry } from "prom-client";
import { Publisher, ReliableReceiver, ReliableSender, Subscriber } from "../messaging/mod.ts";

interface Args {
  role: string;
  endpoints: string[];
  service: string;
  name: string;
  heartbeatMs?: number;
  journal?: string;
  window?: number;
  resendMs?: number;
  pollMs: number;
  /** recv: the pub of the sender it connects to. */
  sender?: string;
  echo: boolean;
}

function parseArgs(argv: string[]): Args {
  const [role, ...rest] = argv;
  if (!["pub", "sub", "send", "recv"].includes(role)) {
    throw new Error(
      `Cannot start peer: role must be pub, sub, send or recv, got ${JSON.stringify(role)}`,
    );
  }
  // pollMs: the poll loops' safety-net timeout, high by default so that tests
  // prove every delivery comes from a real wake-up.
  const a: Args = {
    role,
    endpoints: [],
    service: `peer-${role}`,
    name: "test",
    pollMs: 60_000,
    echo: false,
  };
  for (let i = 0; i < rest.length; i++) {
    const flag = rest[i];
    const value = () => {
      const v = rest[++i];
      if (v === undefined) throw new Error(`Cannot start peer: ${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case "--endpoint":
        a.endpoints.push(value());
        break;
      case "--service":
        a.service = value();
        break;
      case "--name":
        a.name = value();
        break;
      case "--heartbeat-ms":
        a.heartbeatMs = Number(value());
        break;
      case "--journal":
        a.journal = value();
        break;
      case "--window":
        a.window = Number(value());
        break;
      case "--resend-ms":
        a.resendMs = Number(value());
        break;
      case "--poll-ms":
        a.pollMs = Number(value());
        break;
      case "--sender":
        a.sender = value();
        break;
      case "--echo":
        a.echo = true;
        break;
      default:
        throw new Error(`Cannot start peer: unknown flag ${JSON.stringify(flag)}`);
    }
  }
  if (a.endpoints.length === 0) throw new Error("Cannot start peer: --endpoint is required");
  return a;
}

function emit(event: string, fields: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ event, ...fields }));
}

async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buf = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      yield buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
    }
  }
  if (buf.trim()) yield buf.trim();
}

const yieldToLoop = () => new Promise((resolve) => setImmediate(resolve));

async function main(): Promise<void> {
  const args = parseArgs(Deno.args);
  await configure({
    sinks: {
      stderr: (record: LogRecord) => {
        const message = record.message.map((m) => typeof m === "string" ? m : JSON.stringify(m))
          .join("");
        console.error(JSON.stringify({ level: record.level, message }));
      },
    },
    loggers: [
      { category: ["trading"], lowestLevel: "info", sinks: ["stderr"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
    ],
  });
  const registry = new Registry();
  const base = { service: args.service, name: args.name, registry, pollMs: args.pollMs };
  let close: () => Promise<void>;
  const commands: Record<string, (n: number) => Promise<void> | void> = {};

  if (args.role === "pub") {
    const pub = await Publisher.open(args.endpoints[0], { ...base, heartbeatMs: args.heartbeatMs });
    let i = 0;
    commands.publish = async (n) => {
      for (let k = 0; k < n; k++) {
        pub.publish("tick", { i: ++i });
        if (k % 500 === 499) await yieldToLoop();
      }
      emit("published", { n, last: i, seq: pub.sequence });
    };
    commands.heartbeat = () => {
      pub.publish("heartbeat", { intervalMs: args.heartbeatMs ?? 1000 });
      emit("published", { n: 0, last: i, seq: pub.sequence });
    };
    commands.stats = () => emit("stats", { seq: pub.sequence, epoch: pub.epoch });
    close = () => pub.close();
    emit("ready", { endpoint: pub.endpoint, pub: pub.pub, epoch: pub.epoch });
  } else if (args.role === "sub") {
    const sub = await Subscriber.open(args.endpoints, base);
    let delivered = 0;
    sub.onMessage((env) => {
      delivered++;
      if (args.echo) {
        const i = (env.body as { i?: number }).i;
        emit("msg", { pub: env.pub, epoch: env.epoch, seq: env.seq, type: env.type, i });
      }
    });
    commands.stats = () => emit("stats", { ...sub.stats(), handled: delivered });
    close = () => sub.close();
    emit("ready", { endpoints: sub.endpoints });
  } else if (args.role === "send") {
    const sender = await ReliableSender.open(args.endpoints[0], {
      ...base,
      journalPath: args.journal,
      heartbeatMs: args.heartbeatMs,
      window: args.window,
      resendMs: args.resendMs,
    });
    let i = 0;
    commands.send = async (n) => {
      const acks: Promise<unknown>[] = [];
      for (let k = 0; k < n; k++) {
        acks.push(sender.send("order", { i: ++i }));
        if (k % 500 === 499) await yieldToLoop();
      }
      const last = i;
      await yieldToLoop(); // let the journal flush run
      emit("queued", { n, last, pending: sender.pending(), seq: sender.sequence });
      Promise.all(acks).then(
        () => emit("acked", { n, last }),
        (error) => emit("unacked", { n, last, error: String(error) }),
      );
    };
    commands.stats = () =>
      emit("stats", { pending: sender.pending(), seq: sender.sequence, epoch: sender.epoch });
    close = () => sender.close();
    emit("ready", {
      endpoint: sender.endpoint,
      pub: sender.pub,
      epoch: sender.epoch,
      pending: sender.pending(),
      seq: sender.sequence,
    });
  } else {
    const receiver = await ReliableReceiver.open(args.endpoints[0], {
      ...base,
      sender: args.sender,
      heartbeatMs: args.heartbeatMs,
    });
    let delivered = 0;
    receiver.onMessage((env) => {
      delivered++;
      if (args.echo) {
        const i = (env.body as { i?: number }).i;
        emit("msg", { pub: env.pub, epoch: env.epoch, seq: env.seq, i });
      }
    });
    commands.stats = () => emit("stats", { ...receiver.stats(), handled: delivered });
    close = () => receiver.close();
    emit("ready", { endpoint: receiver.endpoint });
  }

  let closing: Promise<void> | undefined;
  const shutdown = () => {
    closing ??= (async () => {
      await close();
      emit("closed");
      Deno.exit(0);
    })();
    return closing;
  };
  Deno.addSignalListener("SIGTERM", shutdown);

  for await (const line of lines(Deno.stdin.readable)) {
    if (line === "") continue;
    const [cmd, arg] = line.split(/\s+/);
    if (cmd === "exit") break;
    const run = commands[cmd];
    if (run === undefined) {
      emit("error", { message: `Unknown command ${JSON.stringify(cmd)}` });
      continue;
    }
    await run(Number(arg ?? 0));
  }
  await shutdown();
}

if (import.meta.main) {
  try {
    await main();
  } catch (error) {
    console.error(error);
    emit("error", { message: String(error) });
    Deno.exit(1);
  }
}
