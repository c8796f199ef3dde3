/**
 * The reliable sender's outbox journal: unacknowledged messages and the stream's
 * `(epoch, last seq)` in SQLite, so a restarted sender resends what was pending and
 * continues its stream. Not execution-engine's order journal.
 *
 * Schema: `meta(key, value)` holding `pub`, `epoch`, `last_seq`; `outbox(seq, frame)`
 * holding each unacknowledged message's frame text (lib/envelope.ts; a frame of the JSON
 * release is converted when the journal is opened). WAL with `synchronous=FULL`
 * (durability `power`, the default: a commit survives a power loss) or `NORMAL`
 * (`process`: it survives a crash of the process, a power loss may roll back the last
 * commits); checkpoints on a worker thread (lib/wal_checkpoint.ts).
 *
 * @example
 * ```ts
 * const { journal, restored } = await OutboxJournal.open("data/orders.sqlite", "risk-manager/orders");
 * journal.append([{ seq: restored.lastSeq + 1, frame: "{...}" }], restored.lastSeq + 1);
 * journal.deleteUpTo(restored.lastSeq + 1);
 * journal.close();
 * ```
 * @module
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { decode, encodeFrame, type Envelope } from "../envelope.ts";
import { offloadCheckpoints } from "../wal_checkpoint.ts";

/** One journaled message. */
export interface JournaledMessage {
  readonly seq: number;
  /** The envelope's frame text (lib/envelope.ts). */
  readonly frame: string;
  /** The decoded envelope, when the frame still decodes. */
  readonly env?: Envelope;
}

/** What a journal held when it was opened. */
export interface RestoredStream {
  readonly epoch: number;
  readonly lastSeq: number;
  /** Unacknowledged messages, seq ascending and contiguous. */
  readonly entries: JournaledMessage[];
}

/**
 * A frame journaled by the release that spoke JSON envelopes (format version 1), in
 * the current format, with every field kept; undefined when it is not one.
 */
export function upgradeJsonFrame(frame: string): { frame: string; env: Envelope } | undefined {
  if (!frame.startsWith("{")) return undefined;
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(frame);
  } catch {
    return undefined;
  }
  if (o === null || typeof o !== "object" || o.v !== 1 || !("body" in o)) return undefined;
  const env: Envelope = {
    v: 2,
    type: o.type as string,
    seq: o.seq as number,
    pub: o.pub as string,
    epoch: o.epoch as number,
    ts: o.ts as number,
    trace: o.trace as string,
    body: o.body,
  };
  try {
    const upgraded = encodeFrame([env]);
    return { frame: upgraded, env: decode(upgraded) };
  } catch {
    return undefined;
  }
}

/** How hard a commit is made durable: `process` (synchronous NORMAL) or `power` (FULL). */
export type JournalDurability = "process" | "power";

/** Options of {@link OutboxJournal.open}. */
export interface OutboxJournalOptions {
  /** `power` (default) or `process`; see the module doc. */
  readonly durability?: JournalDurability;
}

/** The SQLite outbox of one reliable sender. */
export class OutboxJournal {
  readonly #db: DatabaseSync;
  readonly #release: () => void;
  readonly #insert: StatementSync;
  readonly #setMeta: StatementSync;
  readonly #deleteUpTo: StatementSync;

  private constructor(db: DatabaseSync, path: string, setMeta: StatementSync) {
    this.#db = db;
    // Checkpoints (the fsyncs) on a worker thread, not inside a send's commit.
    this.#release = offloadCheckpoints(db, path);
    this.#insert = db.prepare("INSERT OR REPLACE INTO outbox (seq, frame) VALUES (?, ?)");
    this.#setMeta = setMeta;
    this.#deleteUpTo = db.prepare("DELETE FROM outbox WHERE seq <= ?");
  }

  /**
   * Opens (creating) the journal at `path` for the sender `pub` and reads back its
   * stream. A new journal starts a new epoch (now) at seq 0.
   *
   * @throws {Error} If the file cannot be opened, belongs to another sender, or its
   *   outbox breaks the sequence.
   */
  static async open(
    path: string,
    pub: string,
    options: OutboxJournalOptions = {},
  ): Promise<{ journal: OutboxJournal; restored: RestoredStream }> {
    const synchronous = (options.durability ?? "power") === "power" ? "FULL" : "NORMAL";
    const { DatabaseSync } = await import("node:sqlite");
    let db: DatabaseSync;
    try {
      db = new DatabaseSync(path);
      // The checkpoint worker (lib/wal_checkpoint.ts) may still be closing its
      // connection to this file when it is opened again: wait for it.
      db.exec("PRAGMA busy_timeout=2000");
      db.exec("PRAGMA journal_mode=WAL");
      db.exec(`PRAGMA synchronous=${synchronous}`);
      db.exec(
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);" +
          "CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY, frame TEXT NOT NULL);",
      );
    } catch (cause) {
      throw new Error(`Cannot open journal ${JSON.stringify(path)}: ${(cause as Error).message}`, {
        cause,
      });
    }
    const meta = new Map<string, string>();
    for (const row of db.prepare("SELECT key, value FROM meta").all()) {
      meta.set(String(row.key), String(row.value));
    }
    const setMeta = db.prepare(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    );
    if (meta.has("pub") && meta.get("pub") !== pub) {
      db.close();
      throw new Error(
        `Cannot open journal ${JSON.stringify(path)}: it belongs to ${
          JSON.stringify(meta.get("pub"))
        }, not ${JSON.stringify(pub)}`,
      );
    }
    let epoch = Number(meta.get("epoch"));
    let lastSeq = Number(meta.get("last_seq") ?? 0);
    if (!meta.has("epoch") || !Number.isFinite(epoch)) {
      epoch = Date.now();
      lastSeq = 0;
      db.exec("DELETE FROM outbox");
      setMeta.run("pub", pub);
      setMeta.run("epoch", String(epoch));
      setMeta.run("last_seq", "0");
    }
    const entries: JournaledMessage[] = [];
    const upgrade = db.prepare("UPDATE outbox SET frame = ? WHERE seq = ?");
    for (const row of db.prepare("SELECT seq, frame FROM outbox ORDER BY seq").all()) {
      const seq = Number(row.seq);
      const expected = entries.length === 0 ? seq : entries[entries.length - 1].seq + 1;
      if (seq !== expected || seq > lastSeq) {
        db.close();
        throw new Error(
          `Cannot open journal ${
            JSON.stringify(path)
          }: outbox seq ${seq} breaks the sequence (expected ${expected}, last ${lastSeq})`,
        );
      }
      let frame = String(row.frame);
      let env: Envelope | undefined;
      const upgraded = upgradeJsonFrame(frame);
      if (upgraded !== undefined) {
        // Written by the JSON release: resent in the current format, same stream and seq.
        upgrade.run(upgraded.frame, seq);
        frame = upgraded.frame;
        env = upgraded.env;
      } else {
        try {
          env = decode(frame);
        } catch {
          env = undefined;
        }
      }
      entries.push({ seq, frame, env });
    }
    return {
      journal: new OutboxJournal(db, path, setMeta),
      restored: { epoch, lastSeq, entries },
    };
  }

  /**
   * Writes `messages` and the stream's last seq in one transaction.
   *
   * @throws {Error} If SQLite refuses (the transaction is rolled back).
   */
  append(messages: readonly { seq: number; frame: string }[], lastSeq: number): void {
    this.#db.exec("BEGIN");
    try {
      for (const m of messages) this.#insert.run(m.seq, m.frame);
      this.#setMeta.run("last_seq", String(lastSeq));
      this.#db.exec("COMMIT");
    } catch (error) {
      try {
        this.#db.exec("ROLLBACK");
      } catch {
        // the failed statement may have ended the transaction already
      }
      throw error;
    }
  }

  /**
   * Starts stream `epoch` in one transaction: the outbox becomes `messages` (renumbered
   * by the caller from 1) and the last seq their count.
   *
   * @throws {Error} If SQLite refuses (the transaction is rolled back).
   */
  restart(epoch: number, messages: readonly { seq: number; frame: string }[]): void {
    this.#db.exec("BEGIN");
    try {
      this.#db.exec("DELETE FROM outbox");
      for (const m of messages) this.#insert.run(m.seq, m.frame);
      this.#setMeta.run("epoch", String(epoch));
      this.#setMeta.run("last_seq", String(messages.length));
      this.#db.exec("COMMIT");
    } catch (error) {
      try {
        this.#db.exec("ROLLBACK");
      } catch {
        // the failed statement may have ended the transaction already
      }
      throw error;
    }
  }

  /**
   * Deletes every message with seq <= `upto` (acknowledged).
   *
   * @throws {Error} If SQLite refuses.
   */
  deleteUpTo(upto: number): void {
    this.#deleteUpTo.run(upto);
  }

  /** Stops the checkpoint worker for this file and closes the database. */
  close(): void {
    this.#release();
    this.#db.close();
  }
}
