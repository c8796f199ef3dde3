import assert from "node:assert/strict";
import type { ServiceName } from "../../lib/metrics.ts";
import { type Child, type ChildExit, Supervisor, type SupervisorEvent } from "./supervisor.ts";

/** A child the test ends by hand. */
class FakeChild implements Child {
  static next = 100;
  readonly pid = FakeChild.next++;
  readonly signals: Deno.Signal[] = [];
  readonly status: Promise<ChildExit>;
  #end!: (e: ChildExit) => void;
  constructor(readonly service: ServiceName, readonly restarts: number, readonly onTerm = 0) {
    this.status = new Promise((r) => (this.#end = r));
  }
  exit(code: number, signal: string | null = null): void {
    this.#end({ code, signal });
  }
  kill(signal: Deno.Signal): void {
    this.signals.push(signal);
    this.exit(signal === "SIGTERM" ? this.onTerm : 137, signal === "SIGKILL" ? "SIGKILL" : null);
  }
}

const ORDER: ServiceName[] = ["execution-engine", "risk-manager", "signal-bridge", "market-data"];

function harness(over: { stableAfterMs?: number; now?: () => number } = {}) {
  const spawned: FakeChild[] = [];
  const events: SupervisorEvent[] = [];
  const sup = new Supervisor({
    services: ORDER,
    spawn: (service, restarts) => {
      const c = new FakeChild(service, restarts);
      spawned.push(c);
      return c;
    },
    reasonOf: (service, exit) => `${service} said why (code ${exit.code})`,
    onEvent: (e) => events.push(e),
    initialBackoffMs: 5,
    maxBackoffMs: 40,
    startSpacingMs: 1,
    stopGraceMs: 200,
    ...over,
  });
  const latest = (s: ServiceName) => spawned.filter((c) => c.service === s).at(-1)!;
  const until = async (what: string, cond: () => boolean) => {
    for (let i = 0; i < 400 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
    assert.ok(cond(), what);
  };
  return { sup, spawned, events, latest, until };
}

Deno.test("Supervisor restarts a crashed service with a doubling backoff and tells it its restart count", async () => {
  const { sup, spawned, events, latest, until } = harness();
  const done = sup.run();
  await until("all four started", () => spawned.length === 4);
  assert.deepEqual(spawned.map((c) => c.service), ORDER);
  for (let crash = 1; crash <= 4; crash++) {
    latest("market-data").exit(137, "SIGKILL");
    await until(`restart ${crash}`, () => latest("market-data").restarts === crash);
  }
  const delays = events.filter((e) => e.kind === "restarting").map((e) =>
    (e as { inMs: number }).inMs
  );
  assert.deepEqual(delays, [5, 10, 20, 40]);
  assert.equal(spawned.filter((c) => c.service === "risk-manager").length, 1, "others untouched");
  sup.stop("test over");
  assert.deepEqual(await done, { code: 0, fatal: undefined });
  assert.ok(spawned.every((c) => c.signals.length <= 1));
});

Deno.test("Supervisor resets the backoff after a stable run", async () => {
  let clock = 0;
  const { sup, spawned, events, latest, until } = harness({
    stableAfterMs: 1000,
    now: () => clock,
  });
  const done = sup.run();
  await until("started", () => spawned.length === 4);
  latest("signal-bridge").exit(1);
  await until("first restart", () => latest("signal-bridge").restarts === 1);
  clock += 5000; // the restarted one runs for 5 s before it crashes again
  latest("signal-bridge").exit(1);
  await until("second restart", () => latest("signal-bridge").restarts === 2);
  const delays = events.filter((e) => e.kind === "restarting").map((e) =>
    (e as { inMs: number }).inMs
  );
  assert.deepEqual(delays, [5, 5]);
  sup.stop("test over");
  await done;
});

Deno.test("Supervisor stops everything when a service fails in a way a restart cannot fix, and says why", async () => {
  for (const code of [2, 3]) {
    const { sup, spawned, latest, until } = harness();
    const done = sup.run();
    await until("started", () => spawned.length === 4);
    latest("risk-manager").exit(code);
    const result = await done;
    assert.equal(result.code, code);
    assert.deepEqual(result.fatal, {
      service: "risk-manager",
      code,
      reason: `risk-manager said why (code ${code})`,
    });
    assert.equal(spawned.length, 4, "no restart");
    assert.ok(
      spawned.filter((c) => c.service !== "risk-manager").every((c) => c.signals[0] === "SIGTERM"),
    );
  }
});

Deno.test("Supervisor.stop() ends a pending restart and reports a child that did not stop cleanly", async () => {
  const spawned: FakeChild[] = [];
  const sup = new Supervisor({
    services: ["market-data", "signal-bridge"],
    spawn: (service, restarts) => {
      const c = new FakeChild(service, restarts, service === "signal-bridge" ? 1 : 0);
      spawned.push(c);
      return c;
    },
    initialBackoffMs: 10_000,
    startSpacingMs: 1,
  });
  const done = sup.run();
  for (let i = 0; i < 100 && spawned.length < 2; i++) await new Promise((r) => setTimeout(r, 5));
  spawned[0].exit(1); // market-data crashes: a restart in 10 s is pending
  await new Promise((r) => setTimeout(r, 10));
  sup.stop("Ctrl-C");
  const result = await done;
  assert.equal(result.code, 1, "signal-bridge exited 1 on SIGTERM");
  assert.equal(spawned.length, 2, "the pending restart never happened");
  assert.ok(sup.status().every((s) => s.state === "stopped"));
});
