import assert from "node:assert/strict";
import {
  ackFrame,
  byeAckFrame,
  byeFrame,
  dataHeader,
  FRAME_KINDS,
  heartbeatFrame,
  helloFrame,
  nackFrame,
  parseByeAck,
  parseReceiverFrame,
  parseSenderFrame,
} from "./reliable_frames.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const id = { pub: "risk-manager/orders", epoch: 1_764_000_000_000 };

Deno.test("every frame a sender writes is read back by parseSenderFrame()", () => {
  assert.deepEqual(parseSenderFrame(bytes(dataHeader(41)), true), { k: "msg", base: 41 });
  assert.deepEqual(parseSenderFrame(bytes(heartbeatFrame(id, 7, 12)), false), {
    k: "hb",
    ...id,
    base: 7,
    sent: 12,
  });
  assert.deepEqual(parseByeAck(bytes(byeAckFrame(id))), id);
});

Deno.test("every frame a receiver writes is read back by parseReceiverFrame()", () => {
  assert.deepEqual(parseReceiverFrame(bytes(ackFrame(id, 9)), id), { k: "ack", upto: 9 });
  assert.deepEqual(parseReceiverFrame(bytes(nackFrame(id, 3)), id), { k: "nack", from: 3 });
  assert.deepEqual(parseReceiverFrame(bytes(byeFrame(id)), id), { k: "bye" });
  assert.deepEqual(parseReceiverFrame(bytes(helloFrame()), id), { k: "hello" });
});

Deno.test("the frame kinds on the wire are the named constants", () => {
  const kinds = [
    JSON.parse(dataHeader(1)).k,
    JSON.parse(heartbeatFrame(id, 1, 0)).k,
    JSON.parse(ackFrame(id, 1)).k,
    JSON.parse(nackFrame(id, 1)).k,
    JSON.parse(byeFrame(id)).k,
    JSON.parse(byeAckFrame(id)).k,
    JSON.parse(helloFrame()).k,
  ];
  assert.deepEqual(kinds, Object.values(FRAME_KINDS));
});

Deno.test("parseSenderFrame() names what is wrong with a malformed header", () => {
  const err = (s: string | Uint8Array, withBody: boolean) => {
    const r = parseSenderFrame(typeof s === "string" ? bytes(s) : s, withBody);
    return "error" in r ? r.error : "ok";
  };
  assert.equal(err(new Uint8Array([0xff, 0xfe]), true), "not_json");
  assert.equal(err("not json", true), "not_json");
  assert.equal(err("null", true), "not_json");
  assert.equal(err("[1]", true), "not_json");
  assert.equal(err('{"k":"msg"}', true), "bad_envelope");
  assert.equal(err('{"k":"msg","base":0}', true), "bad_envelope");
  assert.equal(err('{"k":"msg","base":1.5}', true), "bad_envelope");
  assert.equal(err('{"k":"msg","base":1}', false), "bad_envelope");
  assert.equal(err('{"k":"hb","base":1,"pub":"p","epoch":1}', false), "bad_envelope");
  assert.equal(err('{"k":"hb","base":1,"pub":"p","epoch":1,"sent":0}', true), "bad_envelope");
  assert.equal(err('{"k":"what","base":1}', true), "bad_envelope");
  // The lowest unacknowledged seq cannot be past the highest sent.
  assert.equal(err('{"k":"hb","base":9,"pub":"p","epoch":1,"sent":7}', false), "bad_envelope");
  assert.equal(err('{"k":"hb","base":9,"pub":"p","epoch":1,"sent":8}', false), "ok");
});

Deno.test("parseReceiverFrame() ignores another stream's frames and flags malformed ones", () => {
  assert.equal(parseReceiverFrame(bytes(ackFrame({ ...id, epoch: 1 }, 9)), id), null);
  assert.equal(parseReceiverFrame(bytes(ackFrame({ ...id, pub: "x/y" }, 9)), id), null);
  for (const bad of ["null", "1", "not json", '"ack"']) {
    assert.deepEqual(
      (parseReceiverFrame(bytes(bad), id) as { error: string }).error,
      "not_json",
      bad,
    );
  }
  const malformed = [
    `{"k":"ack","upto":"9","pub":"${id.pub}","epoch":${id.epoch}}`,
    `{"k":"nack","pub":"${id.pub}","epoch":${id.epoch}}`,
    `{"k":"welcome","pub":"${id.pub}","epoch":${id.epoch}}`,
  ];
  for (const m of malformed) {
    assert.equal((parseReceiverFrame(bytes(m), id) as { error: string }).error, "bad_envelope");
  }
  assert.equal(parseByeAck(bytes(ackFrame(id, 1))), undefined);
  assert.equal(parseByeAck(bytes("garbage")), undefined);
});
