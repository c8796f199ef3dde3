/**
 * A seeded simulated market: for each symbol an L2 book on a tick grid whose best
 * bid walks randomly, whose spread widens and tightens (wider in bursts), with
 * trades at the touch and quotes of the top. Activity alternates between calm and
 * bursts, keeping the long-run rate at the configured messages per second.
 * Messages are produced in the Alpaca v2 wire format, so the sim goes through the
 * same parser and core as a real feed. Plain class, no I/O, no clock: the same seed
 * gives the same sequence.
 * @module
 */
import { formatTimestamp } from "./alpaca_protocol.ts";
import { decimalsOf, ticksToPrice } from "./price.ts";
import { mulberry32 } from "../../lib/random.ts";

/** Options of {@link SimMarket}. */
export interface SimMarketOptions {
  readonly seed: number;
  readonly symbols: readonly string[];
  /** Long-run messages per second across all symbols. */
  readonly ticksPerSecond: number;
  /** Levels per side. */
  readonly bookDepth: number;
  readonly startPrices: Readonly<Record<string, number>>;
  /** Tick size per symbol; default 0.01. */
  readonly tickSize: Readonly<Record<string, number>>;
}

interface SymState {
  readonly symbol: string;
  readonly tick: number;
  readonly decimals: number;
  readonly lot: number;
  readonly maxSpread: number;
  bid: number; // ticks
  spread: number; // ticks, >= 1
  readonly bidSizes: number[];
  readonly askSizes: number[];
  emittedBids: Map<number, number>;
  emittedAsks: Map<number, number>;
  snapshotSent: boolean;
  tradeId: number;
}

const CALM = { factor: 0.75, meanMs: 4000 };
const BURST = { factor: 2.0, meanMs: 1000 };

/**
 * The simulated market.
 *
 * @example
 * ```ts
 * const sim = new SimMarket({ seed: 42, symbols: ["AAPL"], ticksPerSecond: 100, bookDepth: 5,
 *   startPrices: { AAPL: 228.14 }, tickSize: { AAPL: 0.01 } });
 * const msgs = sim.due(1_000, Date.now()); // about 100 Alpaca-format messages for the first second
 * ```
 */
export class SimMarket {
  readonly #rnd: () => number;
  readonly #syms: SymState[];
  readonly #rate: number;
  readonly #depth: number;
  /** Virtual time (ms since start) of the next message. */
  #nextAt = 0;
  #burst = false;
  #stateEndsAt: number;

  constructor(options: SimMarketOptions) {
    this.#rnd = mulberry32(options.seed);
    this.#rate = options.ticksPerSecond;
    this.#depth = options.bookDepth;
    this.#stateEndsAt = this.#exp(CALM.meanMs);
    this.#syms = options.symbols.map((symbol) => {
      const tick = options.tickSize[symbol] ?? 0.01;
      const start = options.startPrices[symbol] ?? 100;
      const crypto = symbol.includes("/");
      const s: SymState = {
        symbol,
        tick,
        decimals: decimalsOf(tick),
        lot: crypto ? 0.001 : 1,
        maxSpread: crypto ? 20 : 8,
        bid: Math.max(this.#depth + 1, Math.round(start / tick) - 1),
        spread: crypto ? 4 : 2,
        bidSizes: [],
        askSizes: [],
        emittedBids: new Map(),
        emittedAsks: new Map(),
        snapshotSent: false,
        tradeId: 0,
      };
      for (let i = 0; i < this.#depth; i++) {
        s.bidSizes.push(this.#size(s, i));
        s.askSizes.push(this.#size(s, i));
      }
      return s;
    });
  }

  /** True while the market is in a burst. */
  get bursting(): boolean {
    return this.#burst;
  }

  /**
   * The messages due by virtual time `elapsedMs` (since the start), at most `max`,
   * time-stamped `wallMs`. The first call also returns a book snapshot per symbol.
   */
  due(elapsedMs: number, wallMs: number, max = Infinity): unknown[] {
    const out: unknown[] = [];
    const t = formatTimestamp(wallMs);
    for (const s of this.#syms) {
      if (!s.snapshotSent) {
        out.push(this.#book(s, t, true));
        s.snapshotSent = true;
      }
    }
    while (this.#nextAt <= elapsedMs && out.length < max) {
      out.push(this.#event(t));
      this.#advance();
    }
    return out;
  }

  /** Moves the virtual clock to `elapsedMs` without producing what was due (catch-up after a stall). */
  skipTo(elapsedMs: number): void {
    if (this.#nextAt < elapsedMs) this.#nextAt = elapsedMs;
  }

  /** The virtual time of the next message. */
  get nextAt(): number {
    return this.#nextAt;
  }

  #advance(): void {
    const st = this.#burst ? BURST : CALM;
    this.#nextAt += this.#exp(1000 / (this.#rate * st.factor));
    if (this.#nextAt >= this.#stateEndsAt) {
      this.#burst = !this.#burst;
      this.#stateEndsAt = this.#nextAt + this.#exp((this.#burst ? BURST : CALM).meanMs);
    }
  }

  #exp(mean: number): number {
    return -Math.log(1 - this.#rnd()) * mean;
  }

  #size(s: SymState, level: number): number {
    const lots = 1 + Math.floor(this.#rnd() * (5 + level * 3)) * (s.lot === 1 ? 100 : 1);
    return Math.round(lots * s.lot * 1000) / 1000;
  }

  #event(t: string): unknown {
    const s = this.#syms[Math.floor(this.#rnd() * this.#syms.length)];
    this.#evolve(s);
    const r = this.#rnd();
    if (r < 0.25) return this.#trade(s, t);
    if (r < 0.5) return this.#quote(s, t);
    return this.#book(s, t, false);
  }

  /** Random walk of the best bid; spread mean-reverts, wider in bursts; sizes churn. */
  #evolve(s: SymState): void {
    const r = this.#rnd();
    if (r < 0.08) s.bid += 1;
    else if (r < 0.16 && s.bid > this.#depth + 1) s.bid -= 1;
    const target = this.#burst ? Math.min(s.maxSpread, 4 * (s.lot === 1 ? 1 : 2)) : 1;
    const w = this.#rnd();
    if (w < 0.06) s.spread = Math.min(s.maxSpread, s.spread + 1);
    else if (w < 0.12 && s.spread > target) s.spread -= 1;
    const lvl = Math.floor(this.#rnd() * this.#depth);
    if (this.#rnd() < 0.5) s.bidSizes[lvl] = this.#size(s, lvl);
    else s.askSizes[lvl] = this.#size(s, lvl);
  }

  #price(s: SymState, ticks: number): number {
    return ticksToPrice(ticks, s.tick, s.decimals);
  }

  #trade(s: SymState, t: string): unknown {
    const buy = this.#rnd() < 0.5;
    const touch = buy ? s.askSizes[0] : s.bidSizes[0];
    const size = Math.max(s.lot, Math.round(touch * this.#rnd() / s.lot) * s.lot);
    return {
      T: "t",
      S: s.symbol,
      i: ++s.tradeId,
      x: "SIM",
      p: this.#price(s, buy ? s.bid + s.spread : s.bid),
      s: Math.round(size * 1000) / 1000,
      t,
      tks: buy ? "B" : "S",
    };
  }

  #quote(s: SymState, t: string): unknown {
    return {
      T: "q",
      S: s.symbol,
      bp: this.#price(s, s.bid),
      bs: s.bidSizes[0],
      ap: this.#price(s, s.bid + s.spread),
      as: s.askSizes[0],
      t,
    };
  }

  /** A snapshot, or the levels that changed since the last book message (size 0 = removed). */
  #book(s: SymState, t: string, reset: boolean): unknown {
    const bids = new Map<number, number>();
    const asks = new Map<number, number>();
    for (let i = 0; i < this.#depth; i++) {
      bids.set(s.bid - i, s.bidSizes[i]);
      asks.set(s.bid + s.spread + i, s.askSizes[i]);
    }
    const b = reset ? this.#levels(s, bids) : this.#diff(s, s.emittedBids, bids);
    const a = reset ? this.#levels(s, asks) : this.#diff(s, s.emittedAsks, asks);
    s.emittedBids = bids;
    s.emittedAsks = asks;
    return { T: "o", S: s.symbol, t, b, a, ...(reset ? { r: true } : {}) };
  }

  #levels(s: SymState, m: Map<number, number>): { p: number; s: number }[] {
    return [...m].map(([ticks, size]) => ({ p: this.#price(s, ticks), s: size }));
  }

  #diff(
    s: SymState,
    prev: Map<number, number>,
    next: Map<number, number>,
  ): { p: number; s: number }[] {
    const out: { p: number; s: number }[] = [];
    for (const [ticks] of prev) if (!next.has(ticks)) out.push({ p: this.#price(s, ticks), s: 0 });
    for (const [ticks, size] of next) {
      if (prev.get(ticks) !== size) out.push({ p: this.#price(s, ticks), s: size });
    }
    return out;
  }
}
