import assert from "node:assert/strict";
import { Recorder, recordLine } from "./recorder.ts";

Deno.test("Recorder writes one NDJSON line per frame and keeps text frames verbatim", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/sub/rec.ndjson`;
    const rec = Recorder.open(path);
    rec.write({ receivedTs: 1.5, frame: [{ T: "t" }] });
    rec.write({ receivedTs: 2, frame: "not json {" });
    await rec.close();
    const lines = (await Deno.readTextFile(path)).trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(lines, [{ ts: 1.5, frame: [{ T: "t" }] }, { ts: 2, text: "not json {" }]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("recordLine() of a text frame is one line", () => {
  assert.ok(!recordLine({ receivedTs: 1, frame: "a\nb" }).includes("\n"));
});
