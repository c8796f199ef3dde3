import assert from "node:assert/strict";
import { mulberry32 } from "../../lib/random.ts";
import {
  authAction,
  parseFrame,
  parseMessages,
  parseTimestamp,
  quoteLongIds,
  subscribeAction,
} from "./alpaca_protocol.ts";
import {
  AUTHENTICATED,
  CANCEL_ERROR,
  CONNECTED,
  CORRECTION,
  CRYPTO_TRADE_ID,
  CRYPTO_TRADE_TEXT,
  DATA_FIXTURES,
  ERROR_FRAMES,
  IMBALANCE,
  LULD,
  REST_QUOTE_EMPTY,
  STATUS_HALT,
  SUBSCRIPTION_CRYPTO,
  SUBSCRIPTION_STOCKS,
  SUBSCRIPTION_TEST_STREAM,
} from "./testing/alpaca_fixtures.ts";

const TS = "2021-02-22T15:51:44.208Z";
const TS_MS = Date.parse(TS);

Deno.test("parseFrame() reads a stock trade", () => {
  const r = parseFrame(
    JSON.stringify([{
      T: "t",
      S: "AAPL",
      i: 52983525029461,
      x: "V",
      p: 128.14,
      s: 1,
      t: TS,
      c: ["@"],
      z: "C",
    }]),
  );
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.messages, [
    {
      kind: "trade",
      symbol: "AAPL",
      price: 128.14,
      size: 1,
      exchangeTs: TS_MS,
      tradeId: "52983525029461",
      venue: "V",
      conditions: ["@"],
      tape: "C",
    },
  ]);
});

Deno.test("parseFrame() reads a quote", () => {
  const r = parseFrame(
    JSON.stringify([{
      T: "q",
      S: "AMD",
      bx: "U",
      bp: 87.66,
      bs: 1,
      ax: "Q",
      ap: 87.68,
      as: 4,
      t: TS,
      c: ["R"],
      z: "C",
    }]),
  );
  assert.deepEqual(r.messages, [
    {
      kind: "quote",
      symbol: "AMD",
      bidPrice: 87.66,
      bidSize: 1,
      askPrice: 87.68,
      askSize: 4,
      exchangeTs: TS_MS,
    },
  ]);
});

Deno.test("parseFrame() reads a bar", () => {
  const r = parseFrame(
    JSON.stringify([{
      T: "b",
      S: "SPY",
      o: 388.985,
      h: 389.13,
      l: 388.975,
      c: 389.12,
      v: 49378,
      t: TS,
      n: 461,
      vw: 389.06,
    }]),
  );
  assert.deepEqual(r.messages, [
    {
      kind: "bar",
      symbol: "SPY",
      open: 388.985,
      high: 389.13,
      low: 388.975,
      close: 389.12,
      volume: 49378,
      exchangeTs: TS_MS,
    },
  ]);
});

Deno.test("parseFrame() reads a crypto order book snapshot and a delta", () => {
  const r = parseFrame(JSON.stringify([
    {
      T: "o",
      S: "BTC/USD",
      t: TS,
      b: [{ p: 27000.5, s: 0.1 }],
      a: [{ p: 27001, s: 0.2 }],
      r: true,
    },
    { T: "o", S: "BTC/USD", t: TS, b: [{ p: 27000.5, s: 0 }], a: [] },
  ]));
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.messages.map((m) => m.kind === "orderbook" && [m.reset, m.bids, m.asks]), [
    [true, [{ price: 27000.5, size: 0.1 }], [{ price: 27001, size: 0.2 }]],
    [false, [{ price: 27000.5, size: 0 }], []],
  ]);
});

Deno.test("parseFrame() reads success, error and subscription control messages", () => {
  const r = parseFrame(JSON.stringify([
    { T: "success", msg: "connected" },
    { T: "error", code: 402, msg: "auth failed" },
    { T: "subscription", trades: ["AAPL"], quotes: [], bars: [], orderbooks: ["BTC/USD"] },
  ]));
  assert.deepEqual(r.messages, [
    { kind: "success", msg: "connected" },
    { kind: "error", code: 402, msg: "auth failed" },
    {
      kind: "subscription",
      lists: { trades: ["AAPL"], quotes: [], bars: [], orderbooks: ["BTC/USD"] },
    },
  ]);
});

Deno.test("parseFrame() keeps the good messages of a frame with a bad one", () => {
  const r = parseFrame(JSON.stringify([
    { T: "t", S: "AAPL", p: -1, s: 1, t: TS },
    { T: "t", S: "AAPL", p: 1, s: 1, t: TS },
    { T: "zz" },
    { T: "q", S: "AAPL", bp: 1, bs: 1, ap: 2, as: 1, t: "yesterday" },
    { T: "t", S: 42, p: 1, s: 1, t: TS },
    7,
  ]));
  assert.equal(r.messages.length, 1);
  assert.deepEqual(r.errors.map((e) => e.reason), [
    "invalid_field",
    "unknown_type",
    "invalid_timestamp",
    "invalid_symbol",
    "not_object",
  ]);
});

Deno.test("parseFrame() reports a frame that is not JSON or not an array", () => {
  assert.deepEqual(parseFrame("{oops").errors.map((e) => e.reason), ["invalid_json"]);
  assert.deepEqual(parseFrame('{"T":"t"}').errors.map((e) => e.reason), ["not_array"]);
  assert.deepEqual(parseMessages(null).errors.map((e) => e.reason), ["not_array"]);
});

Deno.test("parseTimestamp() keeps sub-millisecond precision and offsets", () => {
  assert.ok(
    Math.abs(parseTimestamp("2021-02-22T15:51:44.208123456Z")! - (TS_MS + 0.123456)) < 1e-3,
  );
  assert.equal(parseTimestamp("2021-02-22T16:51:44+01:00"), Date.parse("2021-02-22T15:51:44Z"));
  for (const bad of ["", "2021-02-22", 5, null, "2021-02-22T15:51:44.208", "x".repeat(100)]) {
    assert.equal(parseTimestamp(bad), undefined, String(bad));
  }
});

/** parseTimestamp as it was before the same-second shortcut: the regular expression alone. */
function parseTimestampByRegex(value: unknown): number | undefined {
  if (typeof value !== "string" || value.length > 40) return undefined;
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(
    value,
  );
  if (!m) return undefined;
  const base = Date.parse(m[1] + m[3]);
  if (!Number.isFinite(base) || base < 0) return undefined;
  return m[2] === undefined ? base : base + Number("0." + m[2]) * 1000;
}

Deno.test("parseTimestamp()'s same-second shortcut agrees with the regular expression on 20k near-misses", () => {
  const random = mulberry32(20261203);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  const seconds = [
    "2021-02-22T15:51:44",
    "2021-02-22T15:51:45",
    "2026-12-03T23:59:59",
    "1969-12-31T23:59:59",
    "2016-12-31T23:59:60",
    "2021-02-22t15:51:44",
  ];
  const zones = ["Z", "+01:00", "-05:30", "z", "+0100", "", "Z ", "+01:00Z"];
  const fractions = () => {
    const n = Math.floor(random() * 12); // 0 to 11 digits: 10 and 11 are too many
    let d = "";
    for (let i = 0; i < n; i++) d += String(Math.floor(random() * 10));
    return pick(["", ".", `.${d}`, `.${d}`, `.${d}`, `,${d}`, `.${d}x`]);
  };
  let fast = 0;
  for (let i = 0; i < 20_000; i++) {
    const value = pick(seconds) + fractions() + pick(zones);
    const expected = parseTimestampByRegex(value);
    assert.equal(parseTimestamp(value), expected, value);
    if (expected !== undefined) fast++;
  }
  assert.ok(fast > 1_000, `only ${fast} valid timestamps drawn`);
});

Deno.test("parseTimestamp()'s cache holds only accepted seconds (pre-1970, a leap second, the first call)", async () => {
  // A copy of the module with nothing cached yet.
  const fresh = await import("./alpaca_protocol.ts?fresh_timestamp_cache");
  assert.equal(fresh.parseTimestamp("2021-02-22T15:51:44"), undefined);
  assert.equal(parseTimestamp("2021-02-22T15:51:44Z"), 1614009104000);
  for (const s of ["1969-12-31T23:59:59", "2016-12-31T23:59:60"]) {
    assert.equal(parseTimestamp(`${s}Z`), undefined);
    assert.equal(parseTimestamp(`${s}.5Z`), undefined, `${s}.5Z after ${s}Z`);
  }
  assert.equal(parseTimestamp("2021-02-22T15:51:44.5Z"), 1614009104500);
  assert.equal(parseTimestamp("2021-02-22T15:51:44.5+01:00"), 1614005504500);
});

Deno.test("parseFrame() survives 10k random malformed frames without throwing", () => {
  let seed = 12345;
  const rnd = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)];
  const values = (): unknown =>
    pick<unknown>([
      null,
      -1,
      0,
      1e308,
      NaN,
      "",
      "x",
      true,
      [],
      {},
      [1, 2],
      { p: 1 },
      "2021-02-22T15:51:44Z",
      TS,
      [{ p: 1, s: -1 }],
      [{ p: "1", s: 1 }],
      128.14,
      -0,
      Number.MAX_VALUE,
    ]);
  const good = JSON.stringify([
    { T: "t", S: "AAPL", p: 1, s: 1, t: TS },
    { T: "o", S: "BTC/USD", t: TS, b: [{ p: 1, s: 1 }], a: [], r: true },
  ]);
  let errors = 0;
  for (let i = 0; i < 10_000; i++) {
    let frame: string;
    const mode = i % 4;
    if (mode === 0) {
      // Byte-level corruption of a good frame.
      const chars = [...good];
      for (let k = 0; k < 3; k++) {
        chars[Math.floor(rnd() * chars.length)] = String.fromCharCode(Math.floor(rnd() * 128));
      }
      frame = chars.join("");
    } else if (mode === 1) {
      // Truncation.
      frame = good.slice(0, Math.floor(rnd() * good.length));
    } else {
      // Structurally valid JSON with wrong field types.
      const msg: Record<string, unknown> = {
        T: pick(["t", "q", "b", "o", "success", "error", "subscription", 1, null]),
      };
      for (
        const k of [
          "S",
          "p",
          "s",
          "t",
          "bp",
          "bs",
          "ap",
          "as",
          "b",
          "a",
          "r",
          "o",
          "h",
          "l",
          "c",
          "v",
          "code",
          "msg",
        ]
      ) {
        if (rnd() < 0.6) msg[k] = values();
      }
      frame = JSON.stringify(mode === 2 ? [msg] : pick<unknown>([msg, 1, "s", null, [[msg]]]));
    }
    const r = parseFrame(frame);
    errors += r.errors.length;
    for (const m of r.messages) assert.ok(typeof m.kind === "string");
  }
  assert.ok(errors > 5000);
});

Deno.test("authAction() and subscribeAction() build the documented actions", () => {
  assert.deepEqual(JSON.parse(authAction("k", "s")), { action: "auth", key: "k", secret: "s" });
  assert.deepEqual(JSON.parse(subscribeAction(["BTC/USD"], { crypto: true, statuses: true })), {
    action: "subscribe",
    trades: ["BTC/USD"],
    quotes: ["BTC/USD"],
    bars: ["BTC/USD"],
    orderbooks: ["BTC/USD"],
  });
  assert.equal(JSON.parse(subscribeAction(["AAPL"], { crypto: false })).orderbooks, undefined);
  assert.deepEqual(JSON.parse(subscribeAction(["AAPL"], { crypto: false, statuses: true })), {
    action: "subscribe",
    trades: ["AAPL"],
    quotes: ["AAPL"],
    bars: ["AAPL"],
    statuses: ["AAPL"],
    lulds: ["AAPL"],
  });
});

Deno.test("parseFrame() reads every documented data message kind without an error", () => {
  const r = parseFrame(JSON.stringify(DATA_FIXTURES));
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.messages.map((m) => m.kind), [
    "trade",
    "quote",
    "bar",
    "daily_bar",
    "updated_bar",
    "correction",
    "cancel_error",
    "cancel_error",
    "luld",
    "status",
    "status",
    "imbalance",
    "quote",
    "bar",
    "orderbook",
    "orderbook",
  ]);
});

Deno.test("parseFrame() reads a correction, a cancel, a status, a LULD band and an imbalance field by field", () => {
  const [correction, cancel, status, luld, imbalance] = parseFrame(
    JSON.stringify([CORRECTION, CANCEL_ERROR, STATUS_HALT, LULD, IMBALANCE]),
  ).messages;
  assert.deepEqual(correction, {
    kind: "correction",
    symbol: "EEM",
    venue: "M",
    tape: "B",
    originalId: "52983525033527",
    originalPrice: 39.1582,
    originalSize: 440000,
    originalConditions: [" ", "7"],
    correctedId: "52983525034326",
    correctedPrice: 39.1809,
    correctedSize: 440000,
    correctedConditions: [" ", "7"],
    exchangeTs: parseTimestamp(CORRECTION.t),
  });
  assert.deepEqual(cancel, {
    kind: "cancel_error",
    symbol: "GOOGL",
    venue: "D",
    tape: "C",
    tradeId: "465",
    price: 105.31,
    size: 300,
    action: "C",
    exchangeTs: parseTimestamp(CANCEL_ERROR.t),
  });
  assert.deepEqual(status, {
    kind: "status",
    symbol: "AAPL",
    statusCode: "H",
    statusMessage: "Trading Halt",
    reasonCode: "T12",
    reasonMessage: "Trading Halted; For information requested by NASDAQ",
    tape: "C",
    exchangeTs: parseTimestamp(STATUS_HALT.t),
  });
  assert.deepEqual(luld, {
    kind: "luld",
    symbol: "IONM",
    limitUp: 3.24,
    limitDown: 2.65,
    indicator: "B",
    tape: "C",
    exchangeTs: parseTimestamp(LULD.t),
  });
  assert.deepEqual(imbalance, {
    kind: "imbalance",
    symbol: "INAQU",
    price: 9.12,
    tape: "C",
    exchangeTs: parseTimestamp(IMBALANCE.t),
  });
});

Deno.test("parseFrame() keeps a crypto trade id above 2^53 exact", () => {
  assert.notEqual(String(JSON.parse(CRYPTO_TRADE_TEXT).i), CRYPTO_TRADE_ID, "JSON.parse rounds it");
  const [trade] = parseFrame(`[${CRYPTO_TRADE_TEXT}]`).messages;
  assert.equal(trade.kind === "trade" && trade.tradeId, CRYPTO_TRADE_ID);
  const big =
    '[{"T":"c","S":"X","oi":9007199254740993,"op":1,"os":1,"ci":18446744073709551615,"cp":1,"cs":1,"t":"2024-03-12T10:27:48Z"}]';
  const [correction] = parseFrame(big).messages;
  assert.deepEqual(
    correction.kind === "correction" && [correction.originalId, correction.correctedId],
    ["9007199254740993", "18446744073709551615"],
  );
});

Deno.test("quoteLongIds() quotes only long integer ids, never text inside a string or a float", () => {
  assert.equal(quoteLongIds('[{"i":3447222699101865076}]'), '[{"i":"3447222699101865076"}]');
  assert.equal(
    quoteLongIds('[{"T":"t", "i" : 12345678901234567 ,"p":1}]'),
    '[{"T":"t", "i" : "12345678901234567" ,"p":1}]',
  );
  for (
    const untouched of [
      '[{"S":"x,\\"i\\":12345678901234567"}]',
      '[{"i":1234567890123456.5}]',
      '[{"i":12345678901234567e3}]',
      '[{"p":12345678901234567}]',
      '[{"i":123456789012345}]',
    ]
  ) {
    assert.equal(quoteLongIds(untouched), untouched);
    JSON.parse(untouched);
  }
});

Deno.test("parseFrame() keeps a quote's zero side for the core to call it missing", () => {
  const [quote] = parseFrame(JSON.stringify([{ T: "q", S: "AAPL", ...REST_QUOTE_EMPTY }])).messages;
  assert.deepEqual(quote, {
    kind: "quote",
    symbol: "AAPL",
    bidPrice: 0,
    bidSize: 0,
    askPrice: 0,
    askSize: 0,
    exchangeTs: parseTimestamp(REST_QUOTE_EMPTY.t),
  });
  assert.equal(
    parseFrame('[{"T":"q","S":"A","bp":-1,"bs":0,"ap":1,"as":1,"t":"2024-01-01T00:00:00Z"}]')
      .errors[0].reason,
    "invalid_field",
  );
});

Deno.test("parseFrame() reads every documented error frame", () => {
  for (const [code, frame] of Object.entries(ERROR_FRAMES)) {
    const [error] = parseFrame(frame).messages;
    assert.equal(error.kind === "error" && error.code, Number(code));
  }
  for (const frame of [SUBSCRIPTION_STOCKS, SUBSCRIPTION_TEST_STREAM, SUBSCRIPTION_CRYPTO]) {
    assert.equal(parseFrame(frame).messages[0].kind, "subscription");
  }
  assert.deepEqual(parseFrame(CONNECTED).messages, [{ kind: "success", msg: "connected" }]);
  assert.deepEqual(parseFrame(AUTHENTICATED).messages, [{ kind: "success", msg: "authenticated" }]);
});
