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
  let gross = 0;
  let up = 0;
  let down = 0;
  for (const s of symbols) {
    const high = s.qty + s.buy;
    const low = s.qty - s.sell;
    gross += Math.max(Math.abs(high), Math.abs(low)) * s.price;
    up += high * s.price;
    down += low * s.price;
  }
  return { gross, net: Math.abs(up) >= Math.abs(down) ? up : down };
}
