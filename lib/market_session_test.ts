import assert from "node:assert/strict";
import {
  AlpacaSchedule,
  ALWAYS_OPEN,
  easternTime,
  parseAlpacaCalendar,
  parseAlpacaClock,
  sessionOf,
  UtcHours,
} from "./market_session.ts";
import {
  CALENDAR_2022_05_16,
  CALENDAR_2025_01_02,
  CLOCK_AFTER_CLOSE,
  CLOCK_OPEN,
} from "./testing/alpaca_session_fixtures.ts";

Deno.test("easternTime() turns New York wall times into UTC, in winter and in summer", () => {
  assert.equal(easternTime("2025-01-02", "09:30"), Date.parse("2025-01-02T14:30:00Z"));
  assert.equal(easternTime("2025-01-02", "0400"), Date.parse("2025-01-02T09:00:00Z"));
  assert.equal(easternTime("2022-05-16", "16:00"), Date.parse("2022-05-16T20:00:00Z"));
  assert.equal(easternTime("2022-05-16", "2000"), Date.parse("2022-05-17T00:00:00Z"));
});

Deno.test("parseAlpacaClock() reads Alpaca's clock and refuses a malformed one", () => {
  assert.deepEqual(parseAlpacaClock(CLOCK_OPEN), {
    timestamp: Date.parse("2022-04-28T14:07:04.451-04:00"),
    isOpen: true,
    nextOpen: Date.parse("2022-04-29T09:30:00-04:00"),
    nextClose: Date.parse("2022-04-28T16:00:00-04:00"),
  });
  for (
    const bad of [null, [], {}, { ...CLOCK_OPEN, is_open: "true" }, {
      ...CLOCK_OPEN,
      next_open: "soon",
    }]
  ) {
    assert.equal(parseAlpacaClock(bad), undefined);
  }
});

Deno.test("parseAlpacaCalendar() reads both time formats and refuses a malformed day", () => {
  const [day] = parseAlpacaCalendar(CALENDAR_2025_01_02)!;
  assert.deepEqual(day, {
    date: "2025-01-02",
    open: Date.parse("2025-01-02T14:30:00Z"),
    close: Date.parse("2025-01-02T21:00:00Z"),
    sessionOpen: Date.parse("2025-01-02T09:00:00Z"),
    sessionClose: Date.parse("2025-01-03T01:00:00Z"),
  });
  assert.equal(
    parseAlpacaCalendar([{ date: "2025-01-02", open: "9:30", close: "16:00" }]),
    undefined,
  );
  assert.equal(parseAlpacaCalendar({}), undefined);
  // Without session_open/close (the older docs' shape) the extended session is the regular one.
  const [old] = parseAlpacaCalendar([{ date: "2025-01-02", open: "09:30", close: "16:00" }])!;
  assert.equal(old.sessionOpen, old.open);
});

Deno.test("AlpacaSchedule follows the clock until its next boundary, then the calendar", () => {
  const clock = parseAlpacaClock(CLOCK_OPEN)!;
  const alone = new AlpacaSchedule(clock, []);
  assert.equal(alone.at(clock.timestamp).state, "open");
  assert.equal(alone.at(clock.timestamp).nextClose, clock.nextClose);
  assert.equal(alone.at(clock.nextClose + 1).state, "unknown", "a stale clock and no calendar");
});

Deno.test("AlpacaSchedule tells after-hours, the overnight close, the open and a holiday apart", () => {
  const clock = parseAlpacaClock(CLOCK_AFTER_CLOSE)!;
  const days = parseAlpacaCalendar(CALENDAR_2022_05_16)!;
  const schedule = new AlpacaSchedule(clock, days);
  assert.equal(schedule.at(clock.timestamp).state, "extended", "16:32 New York time");
  assert.equal(schedule.at(Date.parse("2022-05-17T02:00:00Z")).state, "closed", "22:00 ET");
  assert.equal(schedule.at(Date.parse("2022-05-17T09:00:00Z")).state, "extended", "05:00 ET");
  const open = schedule.at(Date.parse("2022-05-17T14:00:00Z"));
  assert.deepEqual(open, {
    state: "open",
    nextOpen: null,
    nextClose: Date.parse("2022-05-17T20:00:00Z"),
  });
  assert.equal(
    schedule.at(Date.parse("2022-05-18T14:00:00Z")).state,
    "unknown",
    "beyond the calendar",
  );
  // A weekday missing from a calendar that covers it is a holiday.
  const gap = new AlpacaSchedule(undefined, [
    days[0],
    ...parseAlpacaCalendar(CALENDAR_2025_01_02)!,
  ]);
  assert.equal(gap.at(Date.parse("2023-07-04T15:00:00Z")).state, "closed");
});

Deno.test("UtcHours opens Monday to Friday only and says when it next opens and closes", () => {
  const hours = new UtcHours({ open: "14:30", close: "21:00" });
  const friday = Date.parse("2025-01-03T15:00:00Z");
  assert.deepEqual(hours.at(friday), {
    state: "open",
    nextOpen: Date.parse("2025-01-06T14:30:00Z"),
    nextClose: Date.parse("2025-01-03T21:00:00Z"),
  });
  assert.equal(hours.at(Date.parse("2025-01-04T15:00:00Z")).state, "closed", "Saturday");
  assert.equal(hours.at(Date.parse("2025-01-03T21:00:00Z")).state, "closed", "at the close");
  assert.throws(() => new UtcHours({ open: "21:00", close: "14:30" }), /must be before close/);
});

Deno.test("sessionOf() keeps crypto open around the clock", () => {
  const closed = new UtcHours({ open: "14:30", close: "21:00" });
  const sunday = Date.parse("2025-01-05T03:00:00Z");
  assert.equal(sessionOf("BTC/USD", closed, sunday).state, "open");
  assert.equal(sessionOf("AAPL", closed, sunday).state, "closed");
  assert.equal(sessionOf("AAPL", ALWAYS_OPEN, sunday).state, "open");
});
