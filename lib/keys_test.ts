import assert from "node:assert/strict";
import {
  generateKeyPair,
  isZ85Key,
  KeyError,
  KeyStore,
  parseCertificate,
  z85Encode,
} from "./keys.ts";

async function withDir(fn: (dir: string) => void | Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "keys_test_" });
  try {
    await fn(`${dir}/keys`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a fresh key directory gets a pair per service, secrets readable by the owner only", async () => {
  await withDir((dir) => {
    const store = KeyStore.open(dir);
    assert.deepEqual(store.ensureAll(["a", "b"]), ["a", "b"]);
    assert.deepEqual(store.ensureAll(["a", "b"]), [], "a second run creates nothing");
    const a = store.keyPair("a");
    assert.ok(isZ85Key(a.publicKey) && isZ85Key(a.secretKey));
    assert.equal(store.publicKey("a"), a.publicKey);
    assert.notEqual(store.publicKey("b"), a.publicKey);
    assert.equal(Deno.statSync(store.secretPath("a")).mode! & 0o777, 0o600);
    assert.equal(Deno.statSync(dir).mode! & 0o777, 0o700);
    assert.deepEqual(store.exposed, []);
  });
});

Deno.test("a key directory that holds some keys is not filled up: the missing file is named", async () => {
  await withDir((dir) => {
    const store = KeyStore.open(dir);
    store.create(["a"], { overwrite: false });
    assert.deepEqual(store.ensureAll(["a", "b"]), []);
    assert.throws(
      () => store.publicKey("b"),
      (e) =>
        e instanceof KeyError && /the public key of b: ".*\/b\.key" does not exist/.test(e.message),
    );
    assert.throws(
      () => store.keyPair("b"),
      /the secret key of b: ".*b\.key_secret" does not exist/,
    );
  });
});

Deno.test("create() keeps existing pairs unless asked to overwrite them", async () => {
  await withDir((dir) => {
    const store = KeyStore.open(dir);
    store.create(["a"], { overwrite: false });
    const before = store.keyPair("a");
    assert.deepEqual(store.create(["a"], { overwrite: false }), []);
    assert.deepEqual(store.keyPair("a"), before);
    assert.deepEqual(store.create(["a"], { overwrite: true }), ["a"]);
    assert.notEqual(store.keyPair("a").secretKey, before.secretKey);
  });
});

Deno.test("a malformed or tampered certificate is refused with the file and field named", async () => {
  await withDir((dir) => {
    const store = KeyStore.open(dir);
    store.create(["a"], { overwrite: false });
    const path = store.secretPath("a");
    const text = Deno.readTextFileSync(path);
    Deno.writeTextFileSync(path, text.replace(/secret-key = "[^"]+"/, 'secret-key = "short"'));
    assert.throws(
      () => store.keyPair("a"),
      /Cannot read key file ".*a\.key_secret": "secret-key" must be a 40-character Z85 key, got 5 characters/,
    );
    Deno.chmodSync(path, 0o644);
    Deno.writeTextFileSync(path, text);
    store.keyPair("a");
    assert.deepEqual(store.exposed, [path], "a secret others can read is reported");
  });
  assert.throws(() => parseCertificate("curve\n", "x", false), /"public-key" must be/);
});

Deno.test("isZ85Key() accepts exactly the 40-character Z85 texts of 32 bytes", () => {
  const { publicKey } = generateKeyPair();
  assert.ok(isZ85Key(publicKey));
  assert.ok(isZ85Key(z85Encode(new Uint8Array(32).fill(255))));
  assert.ok(!isZ85Key(publicKey.slice(1)));
  assert.ok(!isZ85Key(publicKey.slice(1) + " "));
  assert.ok(!isZ85Key("#".repeat(40)), "a group above 2^32 is not Z85");
  assert.ok(!isZ85Key(undefined));
  assert.throws(() => z85Encode(new Uint8Array(3)), /not a multiple of 4/);
  // The Z85 reference vector (ZeroMQ RFC 32).
  assert.equal(
    z85Encode(new Uint8Array([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b])),
    "HelloWorld",
  );
});

Deno.test("services starting at once on a fresh key directory agree on one set of keys", async () => {
  await withDir(async (dir) => {
    const script = `import { KeyStore } from "${new URL("./keys.ts", import.meta.url).href}";
      const s = KeyStore.open(${JSON.stringify(dir)});
      s.ensureAll(["a", "b", "c", "d"]);
      console.log(JSON.stringify(["a", "b", "c", "d"].map((n) => s.publicKey(n))));`;
    const runs = await Promise.all(
      Array.from(
        { length: 4 },
        () =>
          new Deno.Command(Deno.execPath(), { args: ["eval", script], stdout: "piped" }).output(),
      ),
    );
    const seen = runs.map((r) => new TextDecoder().decode(r.stdout).trim());
    assert.ok(runs.every((r) => r.code === 0));
    assert.equal(new Set(seen).size, 1, "every process read the same four keys");
    const leftovers = [...Deno.readDirSync(`${dir}/..`)].filter((e) => e.name.startsWith(".keys-"));
    assert.deepEqual(leftovers, []);
  });
});

Deno.test("exportHost() gives a host its own secret and every public key, and no other secret", async () => {
  await withDir((dir) => {
    const store = KeyStore.open(dir);
    store.create(["a", "b", "c"], { overwrite: false });
    const host = `${dir}-host-b`;
    // What an older export for another service left behind must go.
    Deno.mkdirSync(host, { recursive: true });
    Deno.copyFileSync(store.secretPath("a"), `${host}/a.key_secret`);
    store.exportHost("b", ["a", "b", "c"], host);
    const names = [...Deno.readDirSync(host)].map((e) => e.name).sort();
    assert.deepEqual(names, ["a.key", "b.key", "b.key_secret", "c.key"]);
    assert.equal(Deno.statSync(`${host}/b.key_secret`).mode! & 0o777, 0o600);
    assert.equal(Deno.statSync(host).mode! & 0o777, 0o700);
    const there = KeyStore.open(host);
    assert.deepEqual(there.keyPair("b"), store.keyPair("b"));
    assert.equal(there.publicKey("c"), store.publicKey("c"));
    assert.throws(() => there.keyPair("a"), KeyError);
    assert.throws(
      () => store.exportHost("d", ["a"], `${dir}-host-d`),
      (e: unknown) => e instanceof KeyError && /secret key of d/.test(e.message),
    );
    Deno.removeSync(host, { recursive: true });
  });
});
