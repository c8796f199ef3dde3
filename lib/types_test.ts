import assert from "node:assert/strict";
import { SCHEMAS, validatorsFor } from "./types.ts";

const levels = (p: number) => Array.from({ length: 10 }, (_, i) => [p + i * 0.01, 100 + i]);
const SAMPLES = {
  trade: {
    symbol: "AAPL",
    price: 228.1,
    size: 5,
    exchange: "sim",
    exchangeTs: 1.7e12,
    receivedTs: 1.7e12 + 0.25,
    tradeId: "t1",
  },
  quote: {
    symbol: "AAPL",
    bidPrice: 228,
    bidSize: 100,
    askPrice: 228.01,
    askSize: 0,
    exchange: "sim",
    exchangeTs: 1.7e12,
    receivedTs: 1.7e12,
  },
  book: {
    symbol: "BTC/USD",
    bids: levels(97000),
    asks: levels(97001),
    mid: 97000.5,
    spreadBps: 0.1,
    imbalance: -1,
    crossed: false,
    exchange: "sim",
    exchangeTs: 1.7e12,
    receivedTs: 1.7e12,
  },
} as const;

const ODD: unknown[] = [
  undefined,
  null,
  0,
  -1,
  -0,
  1.5,
  1e300,
  NaN,
  Infinity,
  -Infinity,
  "",
  "x",
  "x".repeat(21),
  true,
  [],
  [1],
  [1, 2],
  [1, 2, 3],
  [[1, 2]],
  [[0, 1]],
  [[1, -1]],
  [[1, 2, 3]],
  {},
  { a: 1 },
];

/** Every way of changing one field (or a level) of a valid sample to an odd value. */
function* variants(sample: Record<string, unknown>): Generator<unknown> {
  yield sample;
  yield { ...sample, extra: 1 };
  yield [sample];
  for (const key of Object.keys(sample)) {
    const { [key]: _, ...without } = sample;
    yield without;
    for (const v of ODD) yield { ...sample, [key]: v };
    const value = sample[key];
    if (Array.isArray(value)) {
      for (const v of ODD) yield { ...sample, [key]: [...value.slice(0, 3), v] };
      yield { ...sample, [key]: [] };
    }
  }
}

Deno.test("validatorsFor: the fast path accepts only what zod accepts, and returns what zod returns", () => {
  const v = validatorsFor(["trade", "quote", "book"]);
  let accepted = 0;
  let rejected = 0;
  for (const [type, sample] of Object.entries(SAMPLES)) {
    const schema = SCHEMAS[type as keyof typeof SAMPLES];
    for (const body of variants(sample)) {
      const zod = schema.safeParse(body);
      let fast: { ok: true; value: unknown } | { ok: false; error: unknown };
      try {
        fast = { ok: true, value: v[type](body) };
      } catch (error) {
        fast = { ok: false, error };
      }
      assert.equal(fast.ok, zod.success, `${type}: ${JSON.stringify(body)}`);
      if (fast.ok && zod.success) {
        assert.deepEqual(fast.value, zod.data);
        accepted++;
      } else {
        rejected++;
      }
    }
  }
  assert.ok(accepted > 10 && rejected > 100, `accepted ${accepted}, rejected ${rejected}`);
});

Deno.test("validatorsFor: a trade without tradeId, and a book with null figures, pass", () => {
  const v = validatorsFor(["trade", "book"]);
  const { tradeId: _, ...trade } = SAMPLES.trade;
  assert.deepEqual(v.trade(trade), trade);
  const book = { ...SAMPLES.book, mid: null, spreadBps: null, imbalance: null, crossed: true };
  assert.deepEqual(v.book(book), book);
});
