/**
 * Position reconciliation with the venue: risk-manager's book against the positions
 * execution-engine reports in answer to a `positions_request` (Alpaca's positions, or the
 * paper venue's net fills). Plain class, no I/O: the core feeds it the answers, the
 * symbols' activity and their open orders, and applies the policy to what it confirms.
 *
 * A fill on its way makes a one-off difference normal (with Alpaca, `GET /v2/positions`
 * and a fill's `position_qty` can be ahead of its report, and a fill whose stream update
 * was missed reaches the book through the engine's order look-up before the venue's
 * positions are read again). So a difference is only a **mismatch** when it shows in an
 * answer and again in a later one whose venue positions were read after the first's
 * (`readAt` grew: the paper venue's answer is always current, Alpaca's after its next
 * `GET /v2/positions`), with, all along, no open order in the symbol and nothing happening
 * in it (no order approved, no execution report applied): then no fill can be in flight
 * and the venue has looked again. Quantities closer than 1e-9 are equal.
 *
 * - A difference while the symbol has an open order is `in_flight`; without one it is
 *   `suspect`, and it is confirmed as `mismatch` by the first later answer with a newer
 *   `readAt` that still shows it. An answer where the two agree, an open order, or activity
 *   in the symbol ends the suspicion (activity starts a new one).
 * - A symbol stays mismatched (counted once) until an answer shows the two agree.
 * - An answer whose venue never read its positions (`readAt` 0) compares nothing; a
 *   `truncated` answer compares only the symbols it carries.
 *
 * @example
 * ```ts
 * const rec = new PositionReconciler();
 * rec.touch("AAPL"); // an approval or a report in AAPL
 * const result = rec.compare(answer, book, (s) => openOrdersIn(s) > 0, Date.now());
 * for (const d of result.newMismatches) applyPolicy(d);
 * ```
 * @module
 */
import type { VenuePositionsAnswer } from "../../lib/types.ts";
import { cleanQty } from "./sizing.ts";

/** What `positionMismatch` does with a confirmed mismatch: halt trading, or take the venue's quantity. */
export type MismatchPolicy = "halt" | "adopt";

/** One symbol whose quantity differs between the book and the venue. */
export interface PositionDifference {
  readonly symbol: string;
  /** Risk-manager's signed quantity. */
  readonly ours: number;
  /** The venue's signed quantity. */
  readonly venue: number;
  /** The venue's average entry price, USD (0 when it gave none). */
  readonly venueAvgPrice: number;
  /** `venue - ours`. */
  readonly diff: number;
  /** `in_flight` (the symbol has open orders), `suspect` (no confirmation yet), `mismatch` (confirmed). */
  readonly status: "in_flight" | "suspect" | "mismatch";
}

/** The outcome of comparing one answer. */
export interface PositionComparison {
  readonly requestId: string;
  /** The answer's number since start (1, 2, ...). */
  readonly answer: number;
  /** When it was compared, epoch ms. */
  readonly at: number;
  readonly venue: string;
  /** When the venue last read its positions in full, epoch ms (0: never). */
  readonly readAt: number;
  readonly truncated: boolean;
  /** False when nothing was compared (the venue never read its positions). */
  readonly compared: boolean;
  /** Every symbol that differs now. */
  readonly differences: readonly PositionDifference[];
  /** The differences this answer confirmed as mismatches (count them; apply the policy). */
  readonly newMismatches: readonly PositionDifference[];
  /** Symbols mismatched before that agree now. */
  readonly resolved: readonly string[];
}

/** The quantities of risk-manager's book the comparison reads. */
export interface BookQuantities {
  /** Signed quantity of `symbol`. */
  qty(symbol: string): number;
  /** Every symbol with a non-zero quantity. */
  heldSymbols(): Iterable<string>;
}

/** Compares the book with the venue's answers over time (see the module comment). */
export class PositionReconciler {
  #answers = 0;
  #activitySeq = 0;
  /** symbol -> the activity number of its latest approval or report. */
  readonly #activity = new Map<string, number>();
  /** symbol -> the venue's `readAt` of the answer that first showed a quiet difference, and the activity then. */
  readonly #suspects = new Map<string, { readAt: number; activity: number }>();
  /** symbol -> its difference when it was confirmed (still unresolved). */
  readonly #mismatched = new Map<string, PositionDifference>();

  /** Notes activity in `symbol`: an order approved, or an execution report applied. */
  touch(symbol: string): void {
    this.#activity.set(symbol, ++this.#activitySeq);
  }

  /** The symbols mismatched now (confirmed and not yet agreeing again). */
  mismatched(): PositionDifference[] {
    return [...this.#mismatched.values()];
  }

  /** Forgets `symbol`'s mismatch (the policy made the book agree: `adopt`). */
  resolve(symbol: string): void {
    this.#mismatched.delete(symbol);
    this.#suspects.delete(symbol);
  }

  /**
   * Compares `answer` with `book` at `now` (epoch ms); `hasOpenOrders` tells whether a
   * symbol has an order not yet final.
   */
  compare(
    answer: VenuePositionsAnswer,
    book: BookQuantities,
    hasOpenOrders: (symbol: string) => boolean,
    now: number,
  ): PositionComparison {
    const number = ++this.#answers;
    const base = {
      requestId: answer.requestId,
      answer: number,
      at: now,
      venue: answer.venue,
      readAt: answer.readAt,
      truncated: answer.truncated,
    };
    if (answer.readAt <= 0) {
      return { ...base, compared: false, differences: [], newMismatches: [], resolved: [] };
    }
    const venue = new Map<string, { qty: number; avgEntryPrice: number }>();
    for (const p of answer.positions) {
      const held = venue.get(p.symbol);
      venue.set(p.symbol, {
        qty: (held?.qty ?? 0) + p.qty,
        avgEntryPrice: p.avgEntryPrice,
      });
    }
    const symbols = new Set<string>([
      ...book.heldSymbols(),
      ...venue.keys(),
      ...this.#suspects.keys(),
      ...this.#mismatched.keys(),
    ]);
    const differences: PositionDifference[] = [];
    const newMismatches: PositionDifference[] = [];
    const resolved: string[] = [];
    for (const symbol of [...symbols].sort()) {
      const theirs = venue.get(symbol);
      // A truncated answer says nothing of the symbols it left out.
      if (theirs === undefined && answer.truncated) continue;
      const ours = book.qty(symbol);
      const venueQty = theirs?.qty ?? 0;
      const diff = cleanQty(venueQty - ours);
      if (diff === 0) {
        this.#suspects.delete(symbol);
        if (this.#mismatched.delete(symbol)) resolved.push(symbol);
        continue;
      }
      const activity = this.#activity.get(symbol) ?? 0;
      const row = (status: PositionDifference["status"]): PositionDifference => ({
        symbol,
        ours,
        venue: venueQty,
        venueAvgPrice: theirs?.avgEntryPrice ?? 0,
        diff,
        status,
      });
      if (this.#mismatched.has(symbol)) {
        differences.push(row("mismatch"));
        continue;
      }
      if (hasOpenOrders(symbol)) {
        this.#suspects.delete(symbol);
        differences.push(row("in_flight"));
        continue;
      }
      const suspect = this.#suspects.get(symbol);
      if (suspect && suspect.activity === activity && answer.readAt > suspect.readAt) {
        const confirmed = row("mismatch");
        this.#suspects.delete(symbol);
        this.#mismatched.set(symbol, confirmed);
        differences.push(confirmed);
        newMismatches.push(confirmed);
        continue;
      }
      // The first quiet answer with this difference (or activity since the last one): an
      // answer read by the venue after this one confirms it, if nothing happens meanwhile.
      if (!suspect || suspect.activity !== activity) {
        this.#suspects.set(symbol, { readAt: answer.readAt, activity });
      }
      differences.push(row("suspect"));
    }
    return { ...base, compared: true, differences, newMismatches, resolved };
  }
}
