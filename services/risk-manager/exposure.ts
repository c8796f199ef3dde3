/**
 * Worst-case exposure: the gross and net market value of the positions if every open
 * order filled in the direction that makes each figure worst, in every symbol, not only
 * the one being checked.
 * @module
 */

/** One symbol's position, open orders and price, as the exposure figures read them. */
export interface SymbolExposure {
  /** Signed position. */
  readonly qty: number;
  /** Unfilled quantity of the open buy orders. */
  readonly buy: number;
  /** Unfilled quantity of the open sell orders. */
  readonly sell: number;
  /** The price the symbol is valued at, USD. */
  readonly price: number;
}

/** Worst-case gross and net market value, USD. */
export interface WorstCase {
  /** Sum over symbols of the larger of `|qty + buy|` and `|qty - sell|`, times the price. */
  readonly gross: number;
  /**
   * The signed net value with the larger magnitude of the two extremes: every buy fills
   * and no sell (`Σ (qty + buy) * price`), or every sell and no buy (`Σ (qty - sell) * price`).
   */
  readonly net: number;
}

/**
 * The worst-case gross and net exposure of `symbols`.
 *
 * @example
 * ```ts
 * worstCaseExposure([{ qty: 0, buy: 10, sell: 0, price: 100 }, { qty: 0, buy: 0, sell: 2, price: 400 }]);
 * // { gross: 1800, net: 1000 }: AAPL's buy may fill and MSFT's sell may not
 * ```
 */
export function worstCaseExposure(symbols: Iterable<SymbolExposure>): WorstCase {
  const sums = new WorstCaseSums();
  for (const s of symbols) sums.add(s.qty, s.buy, s.sell, s.price);
  return { gross: sums.gross, net: sums.net };
}

/**
 * {@link worstCaseExposure}'s sums, built one symbol at a time and reusable without
 * allocating: the risk-manager keeps a few and fills them on every signal.
 *
 * @example
 * ```ts
 * const sums = new WorstCaseSums().add(0, 10, 0, 100).add(0, 0, 2, 400);
 * [sums.gross, sums.net]; // [1800, 1000]
 * ```
 */
export class WorstCaseSums {
  /** Sum of the worst absolute value of each symbol, USD. */
  gross = 0;
  /** Net value if every buy fills and no sell, USD. */
  up = 0;
  /** Net value if every sell fills and no buy, USD. */
  down = 0;

  /** The signed net value with the larger magnitude of {@link up} and {@link down}. */
  get net(): number {
    return Math.abs(this.up) >= Math.abs(this.down) ? this.up : this.down;
  }

  /** Back to no symbols. */
  reset(): this {
    this.gross = 0;
    this.up = 0;
    this.down = 0;
    return this;
  }

  /** The same sums as `other`. */
  copy(other: WorstCaseSums): this {
    this.gross = other.gross;
    this.up = other.up;
    this.down = other.down;
    return this;
  }

  /** Adds a symbol: signed position `qty`, open `buy` and `sell` leaves, valued at `price`. */
  add(qty: number, buy: number, sell: number, price: number): this {
    const high = qty + buy;
    const low = qty - sell;
    this.gross += Math.max(Math.abs(high), Math.abs(low)) * price;
    this.up += high * price;
    this.down += low * price;
    return this;
  }
}
