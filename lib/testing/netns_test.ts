import assert from "node:assert/strict";
import { Network, run, unsupported } from "./netns.ts";
import { waitFor } from "./tools.ts";

const why = await unsupported();
const NET = { prefix: "tnt", subnet: "10.213.1", hosts: ["a", "b", "c"] } as const;

/** A TCP server in `host` that accepts and closes every connection, for `seconds`. */
function listen(net: Network, host: string, port: number, seconds: number): Deno.ChildProcess {
  const code = `import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("${net.address(host)}", ${port})); s.listen(64); s.settimeout(0.2)
end = time.time() + ${seconds}
while time.time() < end:
    try:
        c, _ = s.accept(); c.close()
    except socket.timeout:
        pass`;
  return new Deno.Command("ip", {
    args: ["netns", "exec", net.namespace(host), "/usr/bin/python3", "-c", code],
    stdout: "null",
    stderr: "null",
  }).spawn();
}

/** True when `from` opens a TCP connection to `to`:`port` within `seconds`. */
async function connects(
  net: Network,
  from: string,
  to: string,
  port: number,
  seconds = 3,
): Promise<boolean> {
  const r = await net.exec(from, [
    "timeout",
    String(seconds),
    "bash",
    "-c",
    `exec 3<>/dev/tcp/${net.address(to)}/${port}`,
  ]);
  return r.code === 0;
}

/** Waits until `from` reaches `to` (its server may still be starting). */
async function reaches(net: Network, from: string, to: string, port: number): Promise<boolean> {
  return await waitFor(`${from} to reach ${to}`, () => connects(net, from, to, port), {
    timeoutMs: 15_000,
    everyMs: 100,
  });
}

/** Namespaces of this test that exist now. */
async function namespaces(): Promise<string[]> {
  const out = (await run(["ip", "netns", "list"])).stdout;
  return out.split("\n").map((l) => l.split(" ")[0]).filter((n) => n.startsWith(`${NET.prefix}-`));
}

Deno.test({
  name: "Network puts hosts on one switch, partitions two of them and heals, and leaves nothing",
  ignore: why !== undefined,
  sanitizeResources: false,
  fn: async () => {
    const net = await Network.create(NET);
    const servers: Deno.ChildProcess[] = [];
    try {
      assert.deepEqual(
        (await namespaces()).sort(),
        ["tnt-a", "tnt-b", "tnt-c", "tnt-switch"],
      );
      // Started here, reached below by polling (the probe waits for them).
      for (const h of ["b", "c"]) servers.push(listen(net, h, 7000, 60));
      assert.ok(await reaches(net, "a", "b", 7000), "a reaches b");
      assert.ok(await reaches(net, "a", "c", 7000), "a reaches c");

      await net.partition("a", "b");
      assert.equal(await connects(net, "a", "b", 7000), false, "a no longer reaches b");
      assert.ok(await reaches(net, "a", "c", 7000), "a still reaches c");
      assert.ok(await reaches(net, "c", "b", 7000), "c still reaches b");
      assert.ok((await net.dropped("b")).partition > 0);

      await net.heal();
      assert.ok(await reaches(net, "a", "b", 7000), "a reaches b again");

      // The test's own namespace reaches every host through the switch.
      const conn = await Deno.connect({ hostname: net.address("b"), port: 7000 });
      conn.close();
    } finally {
      for (const s of servers) {
        try {
          s.kill("SIGKILL");
        } catch { /* gone */ }
        await s.status;
      }
      await net.destroy();
    }
    assert.deepEqual(await namespaces(), []);
    assert.notEqual((await run(["ip", "link", "show", "tntroot"])).code, 0, "root veth removed");
  },
});

Deno.test({
  name: "Network.loss() drops about that share of the packets a host sends",
  ignore: why !== undefined,
  sanitizeResources: false,
  fn: async () => {
    await using net = await Network.create(NET);
    await net.loss(0.05);
    const send = `import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(4000):
    s.sendto(b"x", ("${net.address("b")}", 9))`;
    const r = await net.exec("a", ["/usr/bin/python3", "-c", send]);
    assert.equal(r.code, 0, r.stderr);
    const { loss } = await net.dropped("b");
    // 4000 packets at 5%: 200 expected, standard deviation 14.
    assert.ok(loss > 120 && loss < 280, `${loss} of 4000 dropped`);
    await net.loss(0);
    assert.equal((await net.dropped("b")).loss, 0);
  },
});

Deno.test({
  name: "Network.create() removes what a crashed run left, processes included",
  ignore: why !== undefined,
  sanitizeResources: false,
  fn: async () => {
    // A crashed run: its namespaces and a process still running in one of them.
    await run(["ip", "netns", "add", "tnt-a"]);
    await run(["ip", "netns", "add", "tnt-switch"]);
    const orphan = new Deno.Command("ip", {
      args: ["netns", "exec", "tnt-a", "sleep", "120"],
      stdout: "null",
      stderr: "null",
    }).spawn();
    await new Promise((r) => setTimeout(r, 200));
    const net = await Network.create(NET);
    try {
      const status = await orphan.status;
      assert.equal(status.signal, "SIGKILL", "the orphan was killed");
      assert.equal((await namespaces()).length, 4);
    } finally {
      await net.destroy();
    }
    assert.deepEqual(await namespaces(), []);
  },
});

Deno.test({
  name: "Network.create() refuses a prefix that would not fit interface names",
  ignore: why !== undefined,
  fn: async () => {
    await assert.rejects(
      () => Network.create({ prefix: "much-too-long", subnet: "10.213.1", hosts: ["a"] }),
      /prefix/,
    );
  },
});
