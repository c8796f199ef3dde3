/**
 * CURVE key pairs of the four services, in ZeroMQ certificate files (the `zcert` format
 * that libzmq's tools and pyzmq's `zmq.auth.load_certificate` read), one pair per
 * service in `security.keysDir`:
 *
 * - `<service>.key`: the public key, for the services it talks to (mode 0644);
 * - `<service>.key_secret`: the public and secret keys, for the service itself (mode
 *   0600, owner only).
 *
 * Keys are Z85 text (40 characters for 32 bytes). Every key read from a file is checked
 * before a socket sees it: zeromq.js crashes the process (SIGSEGV, no message) when a
 * malformed key reaches a socket constructor.
 *
 * A fresh directory (no key file at all) is filled with a pair for every service on
 * first use, so one host needs no setup. A directory that holds some keys but not the
 * ones needed is an error naming the missing file: on several hosts each host has its
 * own secret and the others' public files, copied there, and a key created on the wrong
 * host would only fail later as a silent handshake failure.
 *
 * @example
 * ```ts
 * const store = KeyStore.open("data/keys");
 * store.ensureAll(SERVICES); // creates the four pairs in a fresh directory
 * const own = store.keyPair("risk-manager");
 * const peer = store.publicKey("execution-engine");
 * ```
 * @module
 */
import * as zmq from "zeromq";
import { dirname, join } from "node:path";

/** A CURVE key pair, Z85 text. */
export interface KeyPair {
  readonly publicKey: string;
  readonly secretKey: string;
}

/** Thrown when a key cannot be created or read; the message names the file and why. */
export class KeyError extends Error {
  override name = "KeyError";
}

const Z85 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
const Z85_INDEX = new Map([...Z85].map((c, i) => [c, i]));

/** True for a 40-character Z85 text that decodes to 32 bytes (a CURVE key). */
export function isZ85Key(text: unknown): boolean {
  if (typeof text !== "string" || text.length !== 40) return false;
  for (let i = 0; i < 40; i += 5) {
    let v = 0;
    for (let j = i; j < i + 5; j++) {
      const d = Z85_INDEX.get(text[j]);
      if (d === undefined) return false;
      v = v * 85 + d;
    }
    if (v > 0xffff_ffff) return false;
  }
  return true;
}

/**
 * Encodes bytes (a multiple of 4 long) as Z85 text.
 *
 * @throws {RangeError} If the length is not a multiple of 4.
 */
export function z85Encode(bytes: Uint8Array): string {
  if (bytes.length % 4 !== 0) {
    throw new RangeError(`Cannot encode Z85: ${bytes.length} bytes is not a multiple of 4`);
  }
  let out = "";
  for (let i = 0; i < bytes.length; i += 4) {
    let v = ((bytes[i] << 24) >>> 0) + (bytes[i + 1] << 16) + (bytes[i + 2] << 8) + bytes[i + 3];
    let chunk = "";
    for (let j = 0; j < 5; j++) {
      chunk = Z85[v % 85] + chunk;
      v = Math.floor(v / 85);
    }
    out += chunk;
  }
  return out;
}

/** A short, safe-to-log name of a public key: its first 8 Z85 characters. */
export function fingerprint(publicKey: string): string {
  return publicKey.slice(0, 8);
}

/** A new random key pair (libsodium's, through libzmq). */
export function generateKeyPair(): KeyPair {
  const k = zmq.curveKeyPair();
  return { publicKey: k.publicKey, secretKey: k.secretKey };
}

/** The text of a public certificate file. */
function publicCertificate(name: string, publicKey: string): string {
  return `#   ****  Generated on ${new Date().toISOString()} by the trading system  ****\n` +
    `#   ZeroMQ CURVE Public Certificate of ${name}\n` +
    "#   Exchange securely, or use a secure mechanism to verify the contents\n" +
    "#   of this file after exchange. Store public certificates in your home\n" +
    "#   directory, in the .curve subdirectory.\n\n" +
    "metadata\n" +
    `    name = "${name}"\n` +
    "curve\n" +
    `    public-key = "${publicKey}"\n`;
}

/** The text of a secret certificate file. */
function secretCertificate(name: string, pair: KeyPair): string {
  return `#   ****  Generated on ${new Date().toISOString()} by the trading system  ****\n` +
    `#   ZeroMQ CURVE **Secret** Certificate of ${name}\n` +
    "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n\n" +
    "metadata\n" +
    `    name = "${name}"\n` +
    "curve\n" +
    `    public-key = "${pair.publicKey}"\n` +
    `    secret-key = "${pair.secretKey}"\n`;
}

/**
 * Reads the keys of a certificate file's text.
 *
 * @throws {KeyError} If a key is missing or is not a valid Z85 key.
 */
export function parseCertificate(
  text: string,
  path: string,
  wantSecret: boolean,
): { publicKey: string; secretKey?: string } {
  const field = (name: string) => {
    const m = new RegExp(`^\\s*${name}\\s*=\\s*"([^"]*)"\\s*$`, "m").exec(text);
    return m?.[1];
  };
  const publicKey = field("public-key");
  if (publicKey === undefined || !isZ85Key(publicKey)) {
    throw new KeyError(
      `Cannot read key file "${path}": "public-key" must be a 40-character Z85 key, got ${
        publicKey === undefined ? "nothing" : `${publicKey.length} characters`
      }`,
    );
  }
  if (!wantSecret) return { publicKey };
  const secretKey = field("secret-key");
  if (secretKey === undefined || !isZ85Key(secretKey)) {
    throw new KeyError(
      `Cannot read key file "${path}": "secret-key" must be a 40-character Z85 key, got ${
        secretKey === undefined ? "nothing" : `${secretKey.length} characters`
      }`,
    );
  }
  return { publicKey, secretKey };
}

/** The key files of one directory. */
export class KeyStore {
  /** Secret files readable by others when they were read (a warning for the log). */
  readonly exposed: string[] = [];

  private constructor(readonly dir: string) {}

  /** A store over `dir` (nothing is read or created yet). */
  static open(dir: string): KeyStore {
    return new KeyStore(dir);
  }

  /** Path of the public certificate of `name`. */
  publicPath(name: string): string {
    return join(this.dir, `${name}.key`);
  }

  /** Path of the secret certificate of `name`. */
  secretPath(name: string): string {
    return join(this.dir, `${name}.key_secret`);
  }

  /**
   * Creates a key pair for each of `names` when the directory holds no key file at all
   * (a fresh install), and does nothing otherwise. Returns the names created.
   *
   * @throws {KeyError} If the directory or a file cannot be created.
   */
  ensureAll(names: readonly string[]): string[] {
    if (this.#hasAnyKey()) return [];
    // Written aside, then moved into place in one rename: services starting at once on
    // a fresh directory agree on one set (the loser's rename fails, it reads the winner's).
    const parent = dirname(this.dir);
    Deno.mkdirSync(parent, { recursive: true });
    const aside = Deno.makeTempDirSync({ dir: parent, prefix: ".keys-" });
    try {
      const written = new KeyStore(aside).create(names, { overwrite: false });
      Deno.chmodSync(aside, 0o700);
      try {
        Deno.renameSync(aside, this.dir);
        return written;
      } catch (e) {
        if (this.#hasAnyKey()) return []; // another process won the race
        throw new KeyError(`Cannot create key directory "${this.dir}": ${(e as Error).message}`);
      }
    } finally {
      try {
        Deno.removeSync(aside, { recursive: true });
      } catch { /* moved into place */ }
    }
  }

  /**
   * Writes a new key pair for each of `names` (`deno task keys`). Without `overwrite`,
   * an existing pair is kept. Returns the names written.
   *
   * @throws {KeyError} If the directory or a file cannot be created.
   */
  create(names: readonly string[], { overwrite }: { overwrite: boolean }): string[] {
    try {
      Deno.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw new KeyError(`Cannot create key directory "${this.dir}": ${(e as Error).message}`);
    }
    const written: string[] = [];
    for (const name of names) {
      const secretPath = this.secretPath(name);
      if (!overwrite && exists(secretPath)) continue;
      const pair = generateKeyPair();
      try {
        // The secret first and exclusively (createNew): two services starting at once on
        // a fresh directory must not end with two different pairs for one name.
        writeFile(secretPath, secretCertificate(name, pair), 0o600, !overwrite);
        writeFile(this.publicPath(name), publicCertificate(name, pair.publicKey), 0o644, false);
      } catch (e) {
        if (e instanceof Deno.errors.AlreadyExists) continue;
        throw new KeyError(
          `Cannot write key files of ${name} in "${this.dir}": ${(e as Error).message}`,
        );
      }
      written.push(name);
    }
    return written;
  }

  /**
   * Writes what the host of `service` needs into `dir`: its own secret file (owner-only)
   * and the public file of every one of `identities`, replacing what is there, and no
   * other secret. The directory is created owner-only. Returns the files written.
   *
   * @throws {KeyError} If a key is missing here or a file cannot be written there.
   */
  exportHost(service: string, identities: readonly string[], dir: string): string[] {
    const secret = this.#read(this.secretPath(service), `the secret key of ${service}`);
    const publics = identities.map((name) =>
      [name, this.#read(this.publicPath(name), `the public key of ${name}`)] as const
    );
    const host = new KeyStore(dir);
    try {
      Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
      Deno.chmodSync(dir, 0o700);
      for (const e of Deno.readDirSync(dir)) {
        // Whatever secret an older export left here that is not this service's goes.
        if (e.name.endsWith(".key_secret") && e.name !== `${service}.key_secret`) {
          Deno.removeSync(join(dir, e.name));
        }
      }
      writeFile(host.secretPath(service), secret, 0o600, false);
      Deno.chmodSync(host.secretPath(service), 0o600);
      for (const [name, text] of publics) writeFile(host.publicPath(name), text, 0o644, false);
    } catch (e) {
      throw new KeyError(
        `Cannot write the keys of ${service}'s host into "${dir}": ${(e as Error).message}`,
      );
    }
    return [host.secretPath(service), ...publics.map(([name]) => host.publicPath(name))];
  }

  /**
   * The key pair of `name`, from its secret file.
   *
   * @throws {KeyError} If the file is missing or malformed.
   */
  keyPair(name: string): KeyPair {
    const path = this.secretPath(name);
    const text = this.#read(path, `the secret key of ${name}`);
    try {
      const mode = Deno.statSync(path).mode;
      if (mode !== null && (mode & 0o077) !== 0) this.exposed.push(path);
    } catch { /* read just worked; the mode is advisory */ }
    const { publicKey, secretKey } = parseCertificate(text, path, true);
    return { publicKey, secretKey: secretKey! };
  }

  /**
   * The public key of `name`, from its public file.
   *
   * @throws {KeyError} If the file is missing or malformed.
   */
  publicKey(name: string): string {
    const path = this.publicPath(name);
    return parseCertificate(this.#read(path, `the public key of ${name}`), path, false).publicKey;
  }

  #read(path: string, what: string): string {
    try {
      return Deno.readTextFileSync(path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        throw new KeyError(
          `Cannot read ${what}: "${path}" does not exist (run \`deno task keys\` on one host, ` +
            `then copy each service's .key_secret to its host and every .key to every host)`,
        );
      }
      throw new KeyError(`Cannot read ${what} from "${path}": ${(e as Error).message}`);
    }
  }

  #hasAnyKey(): boolean {
    try {
      for (const e of Deno.readDirSync(this.dir)) {
        if (e.name.endsWith(".key") || e.name.endsWith(".key_secret")) return true;
      }
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return false;
      throw new KeyError(`Cannot read key directory "${this.dir}": ${(e as Error).message}`);
    }
    return false;
  }
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function writeFile(path: string, text: string, mode: number, createNew: boolean): void {
  const file = Deno.openSync(path, {
    write: true,
    create: true,
    createNew,
    truncate: true,
    mode,
  });
  try {
    const bytes = new TextEncoder().encode(text);
    for (let off = 0; off < bytes.length;) off += file.writeSync(bytes.subarray(off));
    // The umask may have narrowed the mode; a secret must never be wider than asked.
    Deno.chmodSync(path, mode);
  } finally {
    file.close();
  }
}
