/**
 * A growable byte writer and a byte reader for the wire format (lib/envelope.ts,
 * lib/body_codecs.ts): little-endian numbers, and short strings as UTF-8 with a one-byte
 * length.
 *
 * @example
 * ```ts
 * const w = new ByteWriter();
 * w.f64(1.5);
 * w.str("AAPL");
 * const r = new ByteReader(w.bytes());
 * r.f64(); // 1.5
 * r.str(r.u8()); // "AAPL"
 * ```
 * @module
 */

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

/** Appends little-endian numbers and short strings to a buffer that grows as needed. */
export class ByteWriter {
  /** The buffer; replaced when it grows, so read it after writing. */
  buf: Uint8Array;
  /** A view of {@linkcode ByteWriter.buf}. */
  view: DataView;
  /** The next byte to write. */
  pos = 0;

  /** @param capacity The initial size in bytes (default 1024). */
  constructor(capacity = 1024) {
    this.buf = new Uint8Array(capacity);
    this.view = new DataView(this.buf.buffer);
  }

  /** Makes room for `n` more bytes at `pos`; returns `pos` (which it does not move). */
  reserve(n: number): number {
    const need = this.pos + n;
    if (need > this.buf.length) {
      const next = new Uint8Array(Math.max(need, this.buf.length * 2));
      next.set(this.buf.subarray(0, this.pos));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    return this.pos;
  }

  /** Writes one byte (0-255). */
  u8(v: number): void {
    this.reserve(1);
    this.buf[this.pos++] = v;
  }

  /** Writes an unsigned 16-bit integer. */
  u16(v: number): void {
    this.reserve(2);
    this.view.setUint16(this.pos, v, true);
    this.pos += 2;
  }

  /** Writes a 64-bit float. */
  f64(v: number): void {
    this.reserve(8);
    this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
  }

  /**
   * Writes `s` as UTF-8 at `pos` and returns its length in bytes, without a length
   * prefix; returns -1 (writing nothing) when it is longer than 255 bytes.
   */
  str(s: string): number {
    const n = s.length;
    if (n > 255) return -1;
    const at = this.reserve(n * 3);
    const buf = this.buf;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        const { written } = utf8.encodeInto(s, buf.subarray(at, at + n * 3));
        if (written > 255) return -1;
        this.pos = at + written;
        return written;
      }
      buf[at + i] = c;
    }
    this.pos = at + n;
    return n;
  }

  /** Writes `s` as a one-byte length and UTF-8; false (writing nothing) when over 255 bytes. */
  str8(s: string): boolean {
    const at = this.reserve(1);
    this.pos = at + 1;
    const n = this.str(s);
    if (n < 0) {
      this.pos = at;
      return false;
    }
    this.buf[at] = n;
    return true;
  }

  /** Appends raw bytes. */
  raw(bytes: Uint8Array): void {
    const at = this.reserve(bytes.length);
    this.buf.set(bytes, at);
    this.pos = at + bytes.length;
  }

  /** The bytes written so far (a view, valid until the next write). */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}

/** Short ASCII strings read are interned up to this length. */
const INTERN_MAX_BYTES = 32;
/** Most interned strings kept (the table is emptied when full, so it stays bounded). */
const INTERN_MAX_ENTRIES = 4096;
const interned = new Map<number, string>();

function sameAscii(s: string, buf: Uint8Array, at: number, n: number): boolean {
  if (s.length !== n) return false;
  for (let i = 0; i < n; i++) if (s.charCodeAt(i) !== buf[at + i]) return false;
  return true;
}

/** Thrown by {@linkcode ByteReader} when a read runs past the end or a string is not UTF-8. */
export class ByteReadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ByteReadError";
  }
}

/** Reads little-endian numbers and strings from bytes, checking every bound. */
export class ByteReader {
  /** The bytes. */
  readonly buf: Uint8Array;
  /** A view of {@linkcode ByteReader.buf}. */
  readonly view: DataView;
  /** The next byte to read. */
  pos = 0;

  constructor(buf: Uint8Array) {
    this.buf = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /** Fails unless `n` more bytes are there. */
  need(n: number): void {
    if (this.pos + n > this.buf.length) {
      throw new ByteReadError(`${n} bytes needed at ${this.pos}, only ${this.buf.length} there`);
    }
  }

  /** Reads one byte. */
  u8(): number {
    this.need(1);
    return this.buf[this.pos++];
  }

  /** Reads an unsigned 16-bit integer. */
  u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }

  /** Reads a 64-bit float. */
  f64(): number {
    this.need(8);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** Reads `n` bytes of UTF-8. */
  str(n: number): string {
    this.need(n);
    const buf = this.buf;
    const at = this.pos;
    this.pos = at + n;
    if (n <= INTERN_MAX_BYTES) {
      // Short strings (types, names, symbols) repeat: the same string object each time.
      let h = n;
      for (let i = at; i < at + n; i++) {
        const c = buf[i];
        if (c >= 0x80) return this.#utf8(at, n);
        h = Math.imul(h ^ c, 16777619);
      }
      const known = interned.get(h);
      if (known !== undefined && sameAscii(known, buf, at, n)) return known;
      let s = "";
      for (let i = at; i < at + n; i++) s += String.fromCharCode(buf[i]);
      if (interned.size >= INTERN_MAX_ENTRIES) interned.clear();
      interned.set(h, s);
      return s;
    }
    return this.#utf8(at, n);
  }

  /** Reads a one-byte length, then that many bytes of UTF-8. */
  str8(): string {
    return this.str(this.u8());
  }

  #utf8(at: number, n: number): string {
    try {
      return utf8Decoder.decode(this.buf.subarray(at, at + n));
    } catch {
      throw new ByteReadError(`the ${n} bytes at ${at} are not UTF-8`);
    }
  }
}
