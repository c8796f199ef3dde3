import assert from "node:assert/strict";
import { waitFor } from "../../lib/testing/tools.ts";
import type { FeedEvent } from "./feed.ts";
import { recordLine } from "./recorder.ts";
import { ReplayFeed } from "./replay_feed.ts";

async function withRecording(lines: string[], fn: (path: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/rec.ndjson`;
    await Deno.writeTextFile(path, lines.join("\n") + "\n");
    await fn(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const T0 = 1_700_000_000_000;
const frames = Array.from(
  { length: 50 },
  (_, i) =>
    recordLine({
      receivedTs: T0 + i * 2,
      frame: [{ T: "t", S: "AAPL", p: 100 + i, s: 1, t: new Date(T0 + i * 2).toISOString() }],
    }),
);

Deno.test("ReplayFeed plays every recorded frame in order as fast as possible", async () => {
  await withRecording(frames, async (path) => {
    const got: FeedEvent[] = [];
    let passes = 0;
    const feed = new ReplayFeed({
      path,
      speed: 0,
      loop: false,
      progress: false,
      yieldEvery: 7,
      onPassEnd: () => passes++,
    });
    await feed.start((e) => got.push(e));
    await feed.done;
    assert.equal(got.length, 50);
    assert.deepEqual(
      got.map((e) => (e.frame as { p: number }[])[0].p),
      frames.map((_, i) => 100 + i),
    );
    assert.equal(passes, 1);
    assert.equal(feed.clock(), T0 + 98);
    assert.equal(feed.connected(), false);
    await feed.close();
  });
});

Deno.test("ReplayFeed at recorded speed takes about the recorded time", async () => {
  await withRecording(frames, async (path) => {
    const got: FeedEvent[] = [];
    const feed = new ReplayFeed({ path, speed: 1, loop: false, progress: false });
    const t0 = performance.now();
    await feed.start((e) => got.push(e));
    await feed.done;
    assert.equal(got.length, 50);
    assert.ok(performance.now() - t0 >= 90, "the 98 ms recording is not played instantly");
    await feed.close();
  });
});

Deno.test("ReplayFeed passes a corrupt line on as text and continues", async () => {
  await withRecording([frames[0], "garbage{", '{"ts":"x"}', frames[1]], async (path) => {
    const got: FeedEvent[] = [];
    const feed = new ReplayFeed({ path, speed: 0, loop: false, progress: false });
    await feed.start((e) => got.push(e));
    await feed.done;
    assert.deepEqual(got.map((e) => typeof e.frame), ["object", "string", "string", "object"]);
    await feed.close();
  });
});

Deno.test("ReplayFeed loops until closed", async () => {
  await withRecording(frames.slice(0, 3), async (path) => {
    let n = 0;
    const feed = new ReplayFeed({ path, speed: 0, loop: true, progress: false });
    await feed.start(() => n++);
    await waitFor("three passes", () => feed.passes >= 3);
    await feed.close();
    const after = n;
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(n, after);
  });
});

Deno.test("ReplayFeed.start() fails fast on a missing file", async () => {
  const feed = new ReplayFeed({ path: "/nonexistent/rec.ndjson", speed: 0, loop: false });
  await assert.rejects(() => feed.start(() => {}), Deno.errors.NotFound);
});
