import assert from "node:assert/strict";
import { parseEndpoint } from "./mod.ts";

Deno.test("parseEndpoint() reads bind:, connect: and plain addresses", () => {
  assert.deepEqual(parseEndpoint("bind:tcp://127.0.0.1:5555", "connect"), {
    mode: "bind",
    address: "tcp://127.0.0.1:5555",
  });
  assert.deepEqual(parseEndpoint("connect:tcp://h:1", "bind"), {
    mode: "connect",
    address: "tcp://h:1",
  });
  assert.deepEqual(parseEndpoint("tcp://h:1", "bind"), { mode: "bind", address: "tcp://h:1" });
  assert.deepEqual(parseEndpoint("ipc:///tmp/x", "connect"), {
    mode: "connect",
    address: "ipc:///tmp/x",
  });
  assert.throws(
    () => parseEndpoint("127.0.0.1:5555", "bind"),
    /Cannot parse endpoint "127.0.0.1:5555"/,
  );
  assert.throws(() => parseEndpoint("listen:tcp://h:1", "bind"), /Cannot parse endpoint/);
});
