/**
 * What Alpaca's market data stream really sends, as test fixtures: every payload here is
 * copied from Alpaca's documentation or an official SDK's tests, with its source beside
 * it. Frames (the text the server sends) are kept as raw strings where the numbers matter
 * (a crypto trade id above 2^53 cannot survive a JavaScript object literal).
 *
 * Sources:
 * - docs: docs.alpaca.markets/docs/real-time-stock-pricing-data,
 *   /docs/streaming-market-data, /docs/real-time-crypto-pricing-data (current pages);
 * - old docs: alpacahq/alpaca-docs `content/api-references/market-data-api/stock-pricing-data/realtime.md`;
 * - Go SDK: alpacahq/alpaca-trade-api-go `marketdata/stream/errors.go`;
 * - alpaca-py: alpacahq/alpaca-py `tests/data/test_websockets.py` (its `t` values are a msgpack
 *   `Timestamp(seconds=10, nanoseconds=10)`, written here as the same instant in RFC 3339,
 *   `1970-01-01T00:00:10.00000001Z`, the form the JSON stream uses);
 * - JS SDK: alpacahq/alpaca-trade-api-js `test/support/mock-streaming.js`.
 * Not found anywhere (so not here): a streaming quote with a zero side (only a REST quote
 * with both sides zero, below), a subscription answer listing `imbalances`.
 * @module
 */

/** `connected` greeting. Source: docs, streaming-market-data. */
export const CONNECTED = '[{"T":"success","msg":"connected"}]';
/** `authenticated` answer. Source: docs, streaming-market-data. */
export const AUTHENTICATED = '[{"T":"success","msg":"authenticated"}]';
/**
 * A stock subscription answer with every list; corrections and cancelErrors follow trades.
 * Source: docs, streaming-market-data (the sample exchange after
 * `{"action":"subscribe","trades":["AAPL"],"quotes":["AMD","CLDR"],"bars":["*"]}`).
 */
export const SUBSCRIPTION_STOCKS =
  '[{"T":"subscription","trades":["AAPL"],"quotes":["AMD","CLDR"],"bars":["*"],"updatedBars":[],"dailyBars":[],"statuses":[],"lulds":[],"corrections":["AAPL"],"cancelErrors":["AAPL"]}]';
/** The test stream's three-list answer (lists may be missing). Source: docs, streaming-market-data. */
export const SUBSCRIPTION_TEST_STREAM =
  '[{"T":"subscription","trades":[],"quotes":["FAKEPACA"],"bars":["FAKEPACA"]}]';
/** A crypto subscription answer. Source: docs, real-time-crypto-pricing-data. */
export const SUBSCRIPTION_CRYPTO =
  '[{"T":"subscription","trades":[],"quotes":[],"orderbooks":[],"bars":["BTC/USD"],"updatedBars":[],"dailyBars":[]}]';

/**
 * Error frames by code. 400-407, 409 and 500: old docs (verbatim frames; 406 also on the
 * current page); 408: old docs only (removed from the current table); 410: the current
 * docs' table gives code and message, the Go SDK the same pair (`ErrSubscriptionChangeInvalidForFeed`),
 * framed like the others; 411: Go SDK only (`ErrInsufficientScope`), not in any doc page
 * found; 412, 413: docs, real-time-option-data (option stream only).
 */
export const ERROR_FRAMES: Readonly<Record<number, string>> = {
  400: '[{"T":"error","code":400,"msg":"invalid syntax"}]',
  401: '[{"T":"error","code":401,"msg":"not authenticated"}]',
  402: '[{"T":"error","code":402,"msg":"auth failed"}]',
  403: '[{"T":"error","code":403,"msg":"already authenticated"}]',
  404: '[{"T":"error","code":404,"msg":"auth timeout"}]',
  405: '[{"T":"error","code":405,"msg":"symbol limit exceeded"}]',
  406: '[{"T":"error","code":406,"msg":"connection limit exceeded"}]',
  407: '[{"T":"error","code":407,"msg":"slow client"}]',
  408: '[{"T":"error","code":408,"msg":"v2 not enabled"}]',
  409: '[{"T":"error","code":409,"msg":"insufficient subscription"}]',
  410: '[{"T":"error","code":410,"msg":"invalid subscribe action for this feed"}]',
  411: '[{"T":"error","code":411,"msg":"insufficient scope"}]',
  412: '[{"T":"error","code":412,"msg":"option messages are only available in MsgPack format"}]',
  413: '[{"T":"error","code":413,"msg":"star subscription is not allowed for option quotes"}]',
  500: '[{"T":"error","code":500,"msg":"internal error"}]',
};

/** A stock trade, odd lot (`I`). Source: docs, real-time-stock-pricing-data (Trades example). */
export const STOCK_TRADE = {
  "T": "t",
  "i": 96921,
  "S": "AAPL",
  "x": "D",
  "p": 126.55,
  "s": 1,
  "t": "2021-02-22T15:51:44.208Z",
  "c": ["@", "I"],
  "z": "C",
} as const;
/**
 * One frame of three pre-market AAPL trades (`T` Form T, `I` odd lot). Source: docs,
 * real-time-stock-pricing-data.
 */
export const STOCK_TRADE_BATCH =
  '[{"T":"t","S":"AAPL","i":628,"x":"K","p":162.92,"s":3,"c":["@","F","T","I"],"z":"C","t":"2023-04-06T11:54:26.838232225Z"},{"T":"t","S":"AAPL","i":75,"x":"Z","p":162.92,"s":3,"c":["@","F","T","I"],"z":"C","t":"2023-04-06T11:54:26.838562809Z"},{"T":"t","S":"AAPL","i":1465,"x":"P","p":162.91,"s":71,"c":["@","F","T","I"],"z":"C","t":"2023-04-06T11:54:26.83915973Z"}]';
/** A stock quote. Source: docs, real-time-stock-pricing-data (Quotes example). */
export const STOCK_QUOTE = {
  "T": "q",
  "S": "AMD",
  "bx": "U",
  "bp": 87.66,
  "bs": 1,
  "ax": "Q",
  "ap": 87.68,
  "as": 4,
  "t": "2021-02-22T15:51:45.335689322Z",
  "c": ["R"],
  "z": "C",
} as const;
/**
 * A quote with both sides zero, as Alpaca's REST API returns one after the close (the
 * stream's quote has the same fields plus `T` and `S`). Source: old docs
 * `content/api-references/market-data-api/stock-pricing-data/historical.md` (Quote
 * example). No streaming example of a zero side was found.
 */
export const REST_QUOTE_EMPTY = {
  "t": "2022-04-13T20:00:00.063514032Z",
  "ax": "V",
  "ap": 0,
  "as": 0,
  "bx": "V",
  "bp": 0,
  "bs": 0,
  "c": ["R"],
  "z": "C",
} as const;
/** A minute bar. Source: docs, real-time-stock-pricing-data (Bars example). */
export const MINUTE_BAR = {
  "T": "b",
  "S": "SPY",
  "o": 388.985,
  "h": 389.13,
  "l": 388.975,
  "c": 389.12,
  "v": 49378,
  "t": "2021-02-22T19:15:00Z",
} as const;
/** A daily bar. Source: old docs (Daily Bar Schema example). */
export const DAILY_BAR = {
  "T": "d",
  "S": "SPY",
  "o": 388.985,
  "h": 389.13,
  "l": 388.975,
  "c": 389.12,
  "v": 749378,
  "t": "2021-02-16T04:00:00Z",
} as const;
/**
 * An updated bar (no JSON example in the docs). Source: JS SDK `barUpdate_AAPL` (its `t`
 * at :30 seconds contradicts the docs' "t set to the start of the minute"; kept as is).
 */
export const UPDATED_BAR = {
  T: "u",
  S: "AAPL",
  o: 100,
  h: 101.2,
  l: 98.67,
  c: 101.3,
  v: 2570,
  t: "2021-03-05T16:00:30Z",
  n: 1235,
  vw: 100.123457,
} as const;
/** A trade correction. Source: docs, real-time-stock-pricing-data (Trade Corrections example). */
export const CORRECTION = {
  "T": "c",
  "S": "EEM",
  "x": "M",
  "oi": 52983525033527,
  "op": 39.1582,
  "os": 440000,
  "oc": [" ", "7"],
  "ci": 52983525034326,
  "cp": 39.1809,
  "cs": 440000,
  "cc": [" ", "7"],
  "z": "B",
  "t": "2023-04-06T14:25:06.542305024Z",
} as const;
/** A trade cancel. Source: docs, real-time-stock-pricing-data (Trade Cancels/Errors example). */
export const CANCEL_ERROR = {
  "T": "x",
  "S": "GOOGL",
  "i": 465,
  "x": "D",
  "p": 105.31,
  "s": 300,
  "a": "C",
  "z": "C",
  "t": "2023-04-06T13:15:42.83540958Z",
} as const;
/** A trade cancel. Source: alpaca-py (`cancel`; `t` as noted in the module comment). */
export const CANCEL_ERROR_PY = {
  "T": "x",
  "S": "DJT",
  "i": 4868,
  "x": "D",
  "p": 36.18,
  "s": 31800,
  "a": "C",
  "z": "C",
  "t": "1970-01-01T00:00:10.00000001Z",
} as const;
/** A LULD band. Source: docs, real-time-stock-pricing-data (LULDs example). */
export const LULD = {
  "T": "l",
  "S": "IONM",
  "u": 3.24,
  "d": 2.65,
  "i": "B",
  "t": "2023-04-06T13:34:45.565004401Z",
  "z": "C",
} as const;
/** A trading halt (UTP `H`, reason `T12`). Source: docs, real-time-stock-pricing-data (Statuses example). */
export const STATUS_HALT = {
  "T": "s",
  "S": "AAPL",
  "sc": "H",
  "sm": "Trading Halt",
  "rc": "T12",
  "rm": "Trading Halted; For information requested by NASDAQ",
  "t": "2021-02-22T19:15:00Z",
  "z": "C",
} as const;
/** A trading resumption with an empty `rm`. Source: alpaca-py (`trading_status`; `t` as noted above). */
export const STATUS_RESUME = {
  "T": "s",
  "S": "STRR",
  "t": "1970-01-01T00:00:10.00000001Z",
  "sc": "T",
  "sm": "Trading Resumption",
  "rc": "C11",
  "rm": "",
  "z": "C",
} as const;
/** An order imbalance. Source: docs, real-time-stock-pricing-data (Order imbalances example). */
export const IMBALANCE = {
  "T": "i",
  "S": "INAQU",
  "p": 9.12,
  "z": "C",
  "t": "2024-12-13T19:58:09.242138635Z",
} as const;

/**
 * A crypto trade whose id is above 2^53 (raw text: the digits must reach the parser).
 * Source: docs, real-time-crypto-pricing-data (Trades example).
 */
export const CRYPTO_TRADE_TEXT =
  '{"T":"t","S":"AVAX/USD","p":47.299,"s":29.205707815,"t":"2024-03-12T10:27:48.858228144Z","i":3447222699101865076,"tks":"S"}';
/** The exact id of {@link CRYPTO_TRADE_TEXT}. */
export const CRYPTO_TRADE_ID = "3447222699101865076";
/** A crypto quote. Source: docs, real-time-crypto-pricing-data (Quotes example). */
export const CRYPTO_QUOTE = {
  "T": "q",
  "S": "BAT/USD",
  "bp": 0.35718,
  "bs": 13445.46,
  "ap": 0.3581,
  "as": 13561.902,
  "t": "2024-03-12T10:29:43.111588173Z",
} as const;
/** A crypto bar without trades (volume 0). Source: docs, real-time-crypto-pricing-data (Bars example). */
export const CRYPTO_BAR = {
  "T": "b",
  "S": "BTC/USD",
  "o": 71856.1435,
  "h": 71856.1435,
  "l": 71856.1435,
  "c": 71856.1435,
  "v": 0,
  "t": "2024-03-12T10:37:00Z",
  "n": 0,
  "vw": 0,
} as const;
/**
 * A crypto order book update whose bid side is empty. Source: docs,
 * real-time-crypto-pricing-data (Orderbooks example, MKR/USD).
 */
export const CRYPTO_BOOK_NO_BIDS = {
  "T": "o",
  "S": "MKR/USD",
  "t": "2024-03-12T10:39:39.445492807Z",
  "b": [],
  "a": [{ "p": 2614.587, "s": 12.5308 }],
} as const;
/** A crypto order book update removing a bid level (`s` 0). Source: docs, same example (CRV/USD). */
export const CRYPTO_BOOK_REMOVE = {
  "T": "o",
  "S": "CRV/USD",
  "t": "2024-03-12T10:39:40.501160019Z",
  "b": [{ "p": 0.7904, "s": 0 }],
  "a": [],
} as const;

/** Every data fixture above (objects), for a run through parser and core. */
export const DATA_FIXTURES = [
  STOCK_TRADE,
  STOCK_QUOTE,
  MINUTE_BAR,
  DAILY_BAR,
  UPDATED_BAR,
  CORRECTION,
  CANCEL_ERROR,
  CANCEL_ERROR_PY,
  LULD,
  STATUS_HALT,
  STATUS_RESUME,
  IMBALANCE,
  CRYPTO_QUOTE,
  CRYPTO_BAR,
  CRYPTO_BOOK_NO_BIDS,
  CRYPTO_BOOK_REMOVE,
] as const;
