import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { decode, encodeFrame, type Envelope } from "../envelope.ts";
import { OutboxJournal } from "./outbox_journal.ts";
import { removeDir } from "../testing/tools.ts";

const envelope = (seq: number): Envelope => ({
  v: 2,
  type: "order",
  seq,
  pub: "rm/orders",
  epoch: 5,
  ts: 1,
  trace: "0".repeat(32),
  body: { seq },
});
const frame = (seq: number) => encodeFrame([envelope(seq)]);

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "outbox_journal_test_" });
  try {
    await fn(dir);
  } finally {
    await removeDir(dir);
  }
}

Deno.test("OutboxJournal keeps unacknowledged messages and the stream across a reopen", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/o.sqlite`;
    const first = await OutboxJournal.open(path, "rm/orders");
    assert.equal(first.restored.lastSeq, 0);
    assert.deepEqual(first.restored.entries, []);
    const epoch = first.restored.epoch;
    first.journal.append([1, 2, 3, 4].map((seq) => ({ seq, frame: frame(seq) })), 4);
    first.journal.deleteUpTo(2);
    first.journal.close();

    const again = await OutboxJournal.open(path, "rm/orders");
    assert.equal(again.restored.epoch, epoch);
    assert.equal(again.restored.lastSeq, 4);
    assert.deepEqual(again.restored.entries.map((e) => e.seq), [3, 4]);
    assert.deepEqual(again.restored.entries.map((e) => e.env?.body), [{ seq: 3 }, { seq: 4 }]);
    again.journal.close();
  });
});

Deno.test("OutboxJournal refuses a file that belongs to another sender", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/o.sqlite`;
    (await OutboxJournal.open(path, "rm/orders")).journal.close();
    await assert.rejects(
      OutboxJournal.open(path, "ee/execution_reports"),
      /belongs to "rm\/orders", not "ee\/execution_reports"/,
    );
  });
});

Deno.test("OutboxJournal refuses an outbox whose sequence has a hole", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/o.sqlite`;
    const { journal } = await OutboxJournal.open(path, "rm/orders");
    journal.append([1, 2, 3].map((seq) => ({ seq, frame: frame(seq) })), 3);
    journal.close();
    const db = new DatabaseSync(path);
    // The checkpoint worker may still hold the file for a moment after close().
    db.exec("PRAGMA busy_timeout = 2000; DELETE FROM outbox WHERE seq = 2");
    db.close();
    await assert.rejects(
      OutboxJournal.open(path, "rm/orders"),
      /outbox seq 3 breaks the sequence \(expected 2, last 3\)/,
    );
  });
});

Deno.test("OutboxJournal keeps a frame that no longer decodes, without its envelope", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/o.sqlite`;
    const { journal } = await OutboxJournal.open(path, "rm/orders");
    journal.append([{ seq: 1, frame: "{broken" }], 1);
    journal.close();
    const again = await OutboxJournal.open(path, "rm/orders");
    assert.deepEqual(again.restored.entries, [{ seq: 1, frame: "{broken", env: undefined }]);
    again.journal.close();
  });
});

Deno.test("OutboxJournal converts the JSON frames of the first release, keeping stream and seq", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/o.sqlite`;
    const { journal } = await OutboxJournal.open(path, "rm/orders");
    // What the JSON release journaled (lib/envelope.ts of format version 1).
    const v1 = (seq: number) => JSON.stringify({ ...envelope(seq), v: 1 });
    journal.append([1, 2].map((seq) => ({ seq, frame: v1(seq) })), 2);
    journal.close();
    const again = await OutboxJournal.open(path, "rm/orders");
    assert.deepEqual(again.restored.entries.map((e) => e.env), [envelope(1), envelope(2)]);
    assert.deepEqual(again.restored.entries.map((e) => decode(e.frame)), [
      envelope(1),
      envelope(2),
    ]);
    again.journal.close();
    const third = await OutboxJournal.open(path, "rm/orders");
    assert.deepEqual(third.restored.entries.map((e) => e.frame), [frame(1), frame(2)], "stored");
    third.journal.close();
  });
});
