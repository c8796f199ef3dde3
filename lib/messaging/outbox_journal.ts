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
import type { GroupCommit } from "../group_commit.ts";

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

/** The tables of an outbox: `meta` and `outbox` in its own file, prefixed when attached. */
interface Tables {
  readonly meta: string;
  readonly outbox: string;
}

const OWN_FILE: Tables = { meta: "meta", outbox: "outbox" };
/** The tables of an outbox attached to another store's database. */
export const ATTACHED_TABLES: Tables = { meta: "outbox_meta", outbox: "outbox" };

/**
 * The SQLite outbox of one reliable sender: in its own file ({@link OutboxJournal.open}),
 * where every append is a commit of its own, or attached to the database of the state it
 * goes with ({@link OutboxJournal.attach}), where appends join that database's group
 * commit, so a message and the state that decided it are made durable together.
 */
export class OutboxJournal {
  readonly #db: DatabaseSync;
  readonly #group: GroupCommit | undefined;
  readonly #release: () => void;
  readonly #insert: StatementSync;
  readonly #setMeta: StatementSync;
  readonly #deleteUpTo: StatementSync;
  readonly #tables: Tables;

  private constructor(
    db: DatabaseSync,
    tables: Tables,
    setMeta: StatementSync,
    group: GroupCommit | undefined,
    release: () => void,
  ) {
    this.#db = db;
    this.#tables = tables;
    this.#group = group;
    this.#release = release;
    this.#insert = db.prepare(
      `INSERT OR REPLACE INTO ${tables.outbox} (seq, frame) VALUES (?, ?)`,
    );
    this.#setMeta = setMeta;
    this.#deleteUpTo = db.prepare(`DELETE FROM ${tables.outbox} WHERE seq <= ?`);
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
    } catch (cause) {
      throw new Error(`Cannot open journal ${JSON.stringify(path)}: ${(cause as Error).message}`, {
        cause,
      });
    }
    try {
      const { setMeta, restored } = OutboxJournal.#load(db, OWN_FILE, pub, path);
      // Checkpoints (the fsyncs) on a worker thread, not inside a send's commit.
      const release = offloadCheckpoints(db, path);
      return {
        journal: new OutboxJournal(db, OWN_FILE, setMeta, undefined, release),
        restored,
      };
    } catch (error) {
      db.close();
      throw error;
    }
  }

  /**
   * The journal of sender `pub` in the tables `outbox_meta` and `outbox` of another
   * store's database, whose group commit its writes join. The owner of the database
   * closes it; {@link OutboxJournal.close} leaves it open.
   *
   * @throws {Error} If the tables belong to another sender or the outbox breaks the
   *   sequence.
   */
  static attach(
    db: DatabaseSync,
    group: GroupCommit,
    pub: string,
    where = "the state database",
  ): { journal: OutboxJournal; restored: RestoredStream } {
    const { setMeta, restored } = OutboxJournal.#load(db, ATTACHED_TABLES, pub, where);
    return {
      journal: new OutboxJournal(db, ATTACHED_TABLES, setMeta, group, () => {}),
      restored,
    };
  }

  /**
   * Copies the journal file at `path` (of sender `pub`) into the attached tables of `db`
   * in one transaction, unless they already hold a stream: what the release with a
   * separate outbox file left unacknowledged is sent from the new place, same epoch, same
   * seq. Returns how many messages it copied (0 when the tables were already there).
   * The caller moves the file away afterwards.
   *
   * @throws {Error} If the file belongs to another sender or cannot be read.
   */
  static async importFile(db: DatabaseSync, path: string, pub: string): Promise<number> {
    OutboxJournal.#createTables(db, ATTACHED_TABLES);
    const present = db.prepare(`SELECT COUNT(*) AS n FROM ${ATTACHED_TABLES.meta}`).get();
    if (Number(present?.n ?? 0) > 0) return 0;
    const { journal, restored } = await OutboxJournal.open(path, pub);
    journal.close();
    db.exec("BEGIN IMMEDIATE");
    try {
      const setMeta = db.prepare(
        `INSERT INTO ${ATTACHED_TABLES.meta} (key, value) VALUES (?, ?)`,
      );
      setMeta.run("pub", pub);
      setMeta.run("epoch", String(restored.epoch));
      setMeta.run("last_seq", String(restored.lastSeq));
      const insert = db.prepare(`INSERT INTO ${ATTACHED_TABLES.outbox} (seq, frame) VALUES (?, ?)`);
      for (const e of restored.entries) insert.run(e.seq, e.frame);
      db.exec("COMMIT");
    } catch (error) {
      db.exec("ROLLBACK");
      throw error;
    }
    return restored.entries.length;
  }

  static #createTables(db: DatabaseSync, tables: Tables): void {
    db.exec(
      `CREATE TABLE IF NOT EXISTS ${tables.meta} (key TEXT PRIMARY KEY, value TEXT NOT NULL);` +
        `CREATE TABLE IF NOT EXISTS ${tables.outbox} (seq INTEGER PRIMARY KEY, frame TEXT NOT NULL);`,
    );
  }

  static #load(
    db: DatabaseSync,
    tables: Tables,
    pub: string,
    where: string,
  ): { setMeta: StatementSync; restored: RestoredStream } {
    try {
      OutboxJournal.#createTables(db, tables);
    } catch (cause) {
      throw new Error(`Cannot open journal ${JSON.stringify(where)}: ${(cause as Error).message}`, {
        cause,
      });
    }
    const meta = new Map<string, string>();
    for (const row of db.prepare(`SELECT key, value FROM ${tables.meta}`).all()) {
      meta.set(String(row.key), String(row.value));
    }
    const setMeta = db.prepare(
      `INSERT INTO ${tables.meta} (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`,
    );
    if (meta.has("pub") && meta.get("pub") !== pub) {
      throw new Error(
        `Cannot open journal ${JSON.stringify(where)}: it belongs to ${
          JSON.stringify(meta.get("pub"))
        }, not ${JSON.stringify(pub)}`,
      );
    }
    let epoch = Number(meta.get("epoch"));
    let lastSeq = Number(meta.get("last_seq") ?? 0);
    if (!meta.has("epoch") || !Number.isFinite(epoch)) {
      epoch = Date.now();
      lastSeq = 0;
      db.exec(`DELETE FROM ${tables.outbox}`);
      setMeta.run("pub", pub);
      setMeta.run("epoch", String(epoch));
      setMeta.run("last_seq", "0");
    }
    const entries: JournaledMessage[] = [];
    const upgrade = db.prepare(`UPDATE ${tables.outbox} SET frame = ? WHERE seq = ?`);
    for (const row of db.prepare(`SELECT seq, frame FROM ${tables.outbox} ORDER BY seq`).all()) {
      const seq = Number(row.seq);
      const expected = entries.length === 0 ? seq : entries[entries.length - 1].seq + 1;
      if (seq !== expected || seq > lastSeq) {
        throw new Error(
          `Cannot open journal ${
            JSON.stringify(where)
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
    return { setMeta, restored: { epoch, lastSeq, entries } };
  }

  /** True when appends join a group commit (attached), false when each commits at once. */
  get grouped(): boolean {
    return this.#group !== undefined;
  }

  /**
   * Writes `messages` and the stream's last seq as one unit. In its own file it is
   * committed before this returns, then `onCommit` runs; attached, it joins the group
   * commit of the database and `onCommit` runs once that commit made it durable.
   *
   * @throws {Error} If SQLite refuses (nothing of it is written).
   */
  append(
    messages: readonly { seq: number; frame: string }[],
    lastSeq: number,
    onCommit?: () => void,
  ): void {
    const write = () => {
      for (const m of messages) this.#insert.run(m.seq, m.frame);
      this.#setMeta.run("last_seq", String(lastSeq));
    };
    if (this.#group !== undefined) {
      this.#group.run(write, onCommit);
      return;
    }
    this.#transaction(write);
    onCommit?.();
  }

  /**
   * Starts stream `epoch` in one durable commit (made before this returns, attached
   * too): the outbox becomes `messages` (renumbered by the caller from 1) and the last
   * seq their count.
   *
   * @throws {Error} If SQLite refuses (nothing of it is written).
   */
  restart(epoch: number, messages: readonly { seq: number; frame: string }[]): void {
    const write = () => {
      this.#db.exec(`DELETE FROM ${this.#tables.outbox}`);
      for (const m of messages) this.#insert.run(m.seq, m.frame);
      this.#setMeta.run("epoch", String(epoch));
      this.#setMeta.run("last_seq", String(messages.length));
    };
    if (this.#group !== undefined) {
      this.#group.run(write);
      this.#group.flush();
      return;
    }
    this.#transaction(write);
  }

  /**
   * Deletes every message with seq <= `upto` (acknowledged). Needs no sync of its own:
   * attached, it joins the next commit (or is committed without one); a delete lost to a
   * power cut only makes a restart resend what the receiver drops as a duplicate.
   *
   * @throws {Error} If SQLite refuses.
   */
  deleteUpTo(upto: number): void {
    if (this.#group !== undefined) {
      this.#group.runLazy(() => this.#deleteUpTo.run(upto));
      return;
    }
    this.#deleteUpTo.run(upto);
  }

  /** Attached: commits the database's pending group now. In its own file there is none. */
  flush(): void {
    this.#group?.flush();
  }

  /** Stops the checkpoint worker for its own file and closes it; attached, does nothing. */
  close(): void {
    if (this.#group !== undefined) return;
    this.#release();
    this.#db.close();
  }

  #transaction(write: () => void): void {
    this.#db.exec("BEGIN");
    try {
      write();
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
}
