/**
 * The paper exchange as tests and the bench use it: no latency, no slippage, no partial
 * fills or random rejections unless asked, driven by a {@link ManualScheduler}, with an
 * AAPL quote (99.99 / 100.01) already in its price book.
 * @module
 */
import { PriceBook } from "../price_book.ts";
import { SimVenue, type SimVenueOptions } from "../sim_venue.ts";
import { makeQuote } from "./fixtures.ts";
import { ManualScheduler } from "./manual_scheduler.ts";

/** The symbols the paper venue of the tests trades. */
export const TEST_SYMBOLS: readonly string[] = ["AAPL", "MSFT", "BTC/USD"];

/** A paper venue, the scheduler that runs its fills, and the prices it fills against. */
export interface PaperVenue {
  readonly venue: SimVenue;
  readonly scheduler: ManualScheduler;
  readonly prices: PriceBook;
}

/** A quiet paper venue; options may be overridden. */
export function makePaperVenue(over: Partial<SimVenueOptions> = {}): PaperVenue {
  const scheduler = new ManualScheduler();
  const prices = new PriceBook();
  prices.quote(makeQuote());
  const venue = new SimVenue({
    seed: 1,
    latencyMs: 0,
    slippageBps: 0,
    partialFillProbability: 0,
    rejectProbability: 0,
    buyingPower: 1_000_000,
    hoursUtc: null,
    symbols: TEST_SYMBOLS,
    schedule: scheduler.schedule,
    ...over,
  }, prices);
  return { venue, scheduler, prices };
}
