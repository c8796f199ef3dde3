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

interface SymbolState {
  readonly symbol: string;
  readonly tick: number;
  readonly decimals: number;
  readonly lot: number;
  readonly maxSpread: number;
  bid: number; // ticks
  spread: number; // ticks, >= 1
  readonly bidSizes: number[];
  readonly askSizes: number[];
  /** The bids and asks as last published (the base of the next delta). */
  readonly emittedBids: EmittedSide;
  readonly emittedAsks: EmittedSide;
  snapshotSent: boolean;
  tradeId: number;
}

/**
 * One side of a symbol's book as last published: `depth` consecutive levels from the best one
 * (`best`, ticks) away from the touch, and their sizes. The levels are always consecutive, so two
 * numbers and an array say what a map of levels would, with nothing allocated per message.
 */
interface EmittedSide {
  /** False until the first snapshot. */
  known: boolean;
  best: number;
  readonly sizes: Float64Array;
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
  readonly #random: () => number;
  readonly #symbols: SymbolState[];
  readonly #rate: number;
  readonly #depth: number;
  /** Virtual time (ms since start) of the next message. */
  #nextAt = 0;
  #burst = false;
  #stateEndsAt: number;

  /** @throws {RangeError} If `bookDepth` is not an integer of at least 0. */
  constructor(options: SimMarketOptions) {
    if (!(Number.isInteger(options.bookDepth) && options.bookDepth >= 0)) {
      throw new RangeError(
        `Cannot create the sim market: bookDepth ${options.bookDepth} is not an integer >= 0`,
      );
    }
    this.#random = mulberry32(options.seed);
    this.#rate = options.ticksPerSecond;
    this.#depth = options.bookDepth;
    this.#stateEndsAt = this.#exp(CALM.meanMs);
    this.#symbols = options.symbols.map((symbol) => {
      const tick = options.tickSize[symbol] ?? 0.01;
      const start = options.startPrices[symbol] ?? 100;
      const crypto = symbol.includes("/");
      const state: SymbolState = {
        symbol,
        tick,
        decimals: decimalsOf(tick),
        lot: crypto ? 0.001 : 1,
        maxSpread: crypto ? 20 : 8,
        bid: Math.max(this.#depth + 1, Math.round(start / tick) - 1),
        spread: crypto ? 4 : 2,
        bidSizes: [],
        askSizes: [],
        emittedBids: { known: false, best: 0, sizes: new Float64Array(this.#depth) },
        emittedAsks: { known: false, best: 0, sizes: new Float64Array(this.#depth) },
        snapshotSent: false,
        tradeId: 0,
      };
      for (let i = 0; i < this.#depth; i++) {
        state.bidSizes.push(this.#size(state, i));
        state.askSizes.push(this.#size(state, i));
      }
      return state;
    });
  }

  /**
   * The messages due by virtual time `elapsedMs` (since the start), at most `max`,
   * time-stamped `wallMs`. The first call also returns a book snapshot per symbol.
   */
  due(elapsedMs: number, wallMs: number, max = Infinity): unknown[] {
    const out: unknown[] = [];
    const timestamp = formatTimestamp(wallMs);
    for (const state of this.#symbols) {
      if (!state.snapshotSent) {
        out.push(this.#book(state, timestamp, true));
        state.snapshotSent = true;
      }
    }
    while (this.#nextAt <= elapsedMs && out.length < max) {
      out.push(this.#event(timestamp));
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
    const regime = this.#burst ? BURST : CALM;
    this.#nextAt += this.#exp(1000 / (this.#rate * regime.factor));
    if (this.#nextAt >= this.#stateEndsAt) {
      this.#burst = !this.#burst;
      this.#stateEndsAt = this.#nextAt + this.#exp((this.#burst ? BURST : CALM).meanMs);
    }
  }

  #exp(mean: number): number {
    return -Math.log(1 - this.#random()) * mean;
  }

  #size(state: SymbolState, level: number): number {
    const lots = 1 + Math.floor(this.#random() * (5 + level * 3)) * (state.lot === 1 ? 100 : 1);
    return Math.round(lots * state.lot * 1000) / 1000;
  }

  #event(timestamp: string): unknown {
    const state = this.#symbols[Math.floor(this.#random() * this.#symbols.length)];
    this.#evolve(state);
    const kind = this.#random();
    if (kind < 0.25) return this.#trade(state, timestamp);
    if (kind < 0.5) return this.#quote(state, timestamp);
    return this.#book(state, timestamp, false);
  }

  /** Random walk of the best bid; spread mean-reverts, wider in bursts; sizes churn. */
  #evolve(state: SymbolState): void {
    const walk = this.#random();
    if (walk < 0.08) state.bid += 1;
    else if (walk < 0.16 && state.bid > this.#depth + 1) state.bid -= 1;
    const target = this.#burst ? Math.min(state.maxSpread, 4 * (state.lot === 1 ? 1 : 2)) : 1;
    const widen = this.#random();
    if (widen < 0.06) state.spread = Math.min(state.maxSpread, state.spread + 1);
    else if (widen < 0.12 && state.spread > target) state.spread -= 1;
    const level = Math.floor(this.#random() * this.#depth);
    if (this.#random() < 0.5) state.bidSizes[level] = this.#size(state, level);
    else state.askSizes[level] = this.#size(state, level);
  }

  #price(state: SymbolState, ticks: number): number {
    return ticksToPrice(ticks, state.tick, state.decimals);
  }

  #trade(state: SymbolState, timestamp: string): unknown {
    const buy = this.#random() < 0.5;
    const touch = buy ? state.askSizes[0] : state.bidSizes[0];
    const size = Math.max(state.lot, Math.round(touch * this.#random() / state.lot) * state.lot);
    return {
      T: "t",
      S: state.symbol,
      i: ++state.tradeId,
      x: "SIM",
      p: this.#price(state, buy ? state.bid + state.spread : state.bid),
      s: Math.round(size * 1000) / 1000,
      t: timestamp,
      tks: buy ? "B" : "S",
    };
  }

  #quote(state: SymbolState, timestamp: string): unknown {
    return {
      T: "q",
      S: state.symbol,
      bp: this.#price(state, state.bid),
      bs: state.bidSizes[0],
      ap: this.#price(state, state.bid + state.spread),
      as: state.askSizes[0],
      t: timestamp,
    };
  }

  /** A snapshot, or the levels that changed since the last book message (size 0 = removed). */
  #book(state: SymbolState, timestamp: string, reset: boolean): unknown {
    const askBest = state.bid + state.spread;
    const bidLevels = this.#side(state, state.emittedBids, state.bid, -1, state.bidSizes, reset);
    const askLevels = this.#side(state, state.emittedAsks, askBest, 1, state.askSizes, reset);
    return {
      T: "o",
      S: state.symbol,
      t: timestamp,
      b: bidLevels,
      a: askLevels,
      ...(reset ? { r: true } : {}),
    };
  }

  /**
   * One side's levels for a book message: every level when `reset` (or before the first
   * snapshot), else the published levels now gone (size 0) and then the levels whose size
   * changed, each best first; `emitted` becomes the side as published. The side's levels run
   * from `best` by `step` ticks (-1 for bids, 1 for asks).
   */
  #side(
    state: SymbolState,
    emitted: EmittedSide,
    best: number,
    step: 1 | -1,
    sizes: readonly number[],
    reset: boolean,
  ): { p: number; s: number }[] {
    const depth = this.#depth;
    const out: { p: number; s: number }[] = [];
    const diff = !reset && emitted.known;
    if (diff) {
      for (let i = 0; i < depth; i++) {
        const ticks = emitted.best + step * i;
        const at = step === 1 ? ticks - best : best - ticks;
        if (at < 0 || at >= depth) out.push({ p: this.#price(state, ticks), s: 0 });
      }
    }
    for (let i = 0; i < depth; i++) {
      const ticks = best + step * i;
      const size = sizes[i];
      if (diff) {
        // Not (ticks - emitted.best) * step: for the best bid that is -0, which V8 cannot use as
        // an array index without leaving its fast path.
        const at = step === 1 ? ticks - emitted.best : emitted.best - ticks;
        if (at >= 0 && at < depth && emitted.sizes[at] === size) continue;
      }
      out.push({ p: this.#price(state, ticks), s: size });
    }
    emitted.known = true;
    emitted.best = best;
    for (let i = 0; i < depth; i++) emitted.sizes[i] = sizes[i];
    return out;
  }
}
