/**
 * Positions and P&L from fills: average cost, long and short, reversals, marks.
 * @module
 */
import { cleanQty } from "./sizing.ts";

/** One symbol's position. `qty` is signed: positive long, negative short. */
export interface Position {
  readonly symbol: string;
  /** Signed quantity. */
  readonly qty: number;
  /** Average cost of the open quantity (0 when flat), USD. */
  readonly avgPrice: number;
  /** Realised P&L of this symbol since the store began, USD. */
  readonly realized: number;
  /** The last mark (mid), USD, or null when none is known. */
  readonly mark: number | null;
}

/** What a fill did to a position. */
export interface FillEffect {
  readonly before: Position;
  readonly after: Position;
  /** P&L realised by this fill, USD. */
  readonly realized: number;
}

/**
 * The positions of the book. Plain data, no I/O: the engine persists what changes.
 *
 * @example
 * ```ts
 * const book = new PositionBook();
 * book.applyFill("AAPL", "buy", 10, 100);
 * book.applyFill("AAPL", "sell", 15, 110).realized; // 100 (10 closed at +10), now short 5 @ 110
 * ```
 */
export class PositionBook {
  #positions = new Map<string, Position>();

  /** Restores positions (after a restart). */
  constructor(initial: Iterable<Position> = []) {
    for (const p of initial) this.#positions.set(p.symbol, Object.freeze({ ...p }));
  }

  /** The position of `symbol` (flat if none). */
  get(symbol: string): Position {
    return this.#positions.get(symbol) ??
      { symbol, qty: 0, avgPrice: 0, realized: 0, mark: null };
  }

  /** Signed quantity of `symbol`. */
  qty(symbol: string): number {
    return this.#positions.get(symbol)?.qty ?? 0;
  }

  /** Every symbol ever traded or marked, flat ones included. */
  all(): Position[] {
    return [...this.#positions.values()];
  }

  /** {@link all} without the copy: do not change the book while iterating. */
  values(): MapIterator<Position> {
    return this.#positions.values();
  }

  /**
   * Applies a fill of `qty` at `price`. Adding to a position moves the average cost;
   * reducing realises `(price - avg) * closed` for a long (the opposite for a short)
   * and keeps the average; crossing through zero closes the old side and opens the
   * rest at `price`.
   */
  applyFill(symbol: string, side: "buy" | "sell", qty: number, price: number): FillEffect {
    const before = this.get(symbol);
    const signed = side === "buy" ? qty : -qty;
    let { qty: position, avgPrice, realized } = before;
    let realizedNow = 0;
    if (position === 0 || Math.sign(position) === Math.sign(signed)) {
      const total = Math.abs(position) + qty;
      avgPrice = total > 0 ? (Math.abs(position) * avgPrice + qty * price) / total : 0;
      position = cleanQty(position + signed);
    } else {
      const closing = Math.min(qty, Math.abs(position));
      realizedNow = closing * (price - avgPrice) * Math.sign(position);
      realized += realizedNow;
      position = cleanQty(position + signed);
      if (position === 0) avgPrice = 0;
      else if (Math.sign(position) === Math.sign(signed)) avgPrice = price; // reversed
    }
    const after: Position = Object.freeze({
      symbol,
      qty: position,
      avgPrice,
      realized,
      mark: before.mark ?? price,
    });
    this.#positions.set(symbol, after);
    return { before, after, realized: realizedNow };
  }

  /**
   * Takes a quantity from outside (the venue's, on reconciliation): `symbol` becomes `qty`
   * at average cost `avgPrice`; realised P&L and the mark stay (it is not a trade).
   */
  adopt(symbol: string, qty: number, avgPrice: number): { before: Position; after: Position } {
    const before = this.get(symbol);
    const clean = cleanQty(qty);
    const after: Position = Object.freeze({
      ...before,
      qty: clean,
      avgPrice: clean === 0 ? 0 : avgPrice,
    });
    this.#positions.set(symbol, after);
    return { before, after };
  }

  /** Puts a position back as it was (undo after a failed commit). */
  restore(p: Position): void {
    this.#positions.set(p.symbol, Object.freeze({ ...p }));
  }

  /** Sets the mark of `symbol` (creates a flat entry if needed). */
  mark(symbol: string, price: number): void {
    const p = this.get(symbol);
    this.#positions.set(symbol, Object.freeze({ ...p, mark: price }));
  }

  /** Unrealised P&L of one position at its mark (0 without a mark or when flat), USD. */
  static unrealized(p: Position): number {
    return p.qty === 0 || p.mark === null ? 0 : (p.mark - p.avgPrice) * p.qty;
  }

  /** Signed market value at the mark (avg cost without a mark), USD. */
  static marketValue(p: Position): number {
    return p.qty * (p.mark ?? p.avgPrice);
  }

  /** Total unrealised P&L, USD. */
  totalUnrealized(): number {
    let s = 0;
    for (const p of this.#positions.values()) s += PositionBook.unrealized(p);
    return s;
  }

  /** Gross (sum of absolute) and net (signed sum) market value, USD. */
  exposure(): { gross: number; net: number } {
    let gross = 0;
    let net = 0;
    for (const p of this.#positions.values()) {
      const v = PositionBook.marketValue(p);
      gross += Math.abs(v);
      net += v;
    }
    return { gross, net };
  }

  /** The symbols with a non-zero position. */
  heldSymbols(): string[] {
    const out: string[] = [];
    for (const p of this.#positions.values()) if (p.qty !== 0) out.push(p.symbol);
    return out;
  }

  /** Number of symbols with a non-zero position. */
  openCount(): number {
    let n = 0;
    for (const p of this.#positions.values()) if (p.qty !== 0) n++;
    return n;
  }
}
