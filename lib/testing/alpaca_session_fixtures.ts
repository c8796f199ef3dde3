/**
 * Alpaca's clock and calendar as Alpaca publishes them, for the session tests and the
 * fake servers. Each payload is copied verbatim from the source named beside it; none is
 * invented.
 * @module
 */

/**
 * `GET /v2/clock` while the market is open. Source: alpacahq/alpaca-docs
 * `data/webapi/entities/clock.yaml` (example), the same in alpaca-py
 * `tests/common/test_common_models.py` (`test_clock_timestamps`).
 */
export const CLOCK_OPEN = {
  "timestamp": "2022-04-28T14:07:04.451420928-04:00",
  "is_open": true,
  "next_open": "2022-04-29T09:30:00-04:00",
  "next_close": "2022-04-28T16:00:00-04:00",
} as const;

/**
 * `GET /v1/clock` (Broker API; the same Clock entity as the Trading API's `/v2/clock`)
 * after the close. Source: alpacahq/alpaca-py `tests/broker/broker_client/test_misc_routes.py`
 * (`test_get_clock`).
 */
export const CLOCK_AFTER_CLOSE = {
  "timestamp": "2022-05-16T16:32:24.14373588-04:00",
  "is_open": false,
  "next_open": "2022-05-17T09:30:00-04:00",
  "next_close": "2022-05-17T16:00:00-04:00",
} as const;

/**
 * `GET /v1/calendar` (Broker API; the same Calendar entity as `/v2/calendar`) for the two
 * days around {@link CLOCK_AFTER_CLOSE}. Source: alpacahq/alpaca-py
 * `tests/broker/broker_client/test_misc_routes.py` (`test_get_calendar`).
 */
export const CALENDAR_2022_05_16 = [
  {
    "date": "2022-05-16",
    "open": "09:30",
    "close": "16:00",
    "session_open": "0400",
    "session_close": "2000",
  },
  {
    "date": "2022-05-17",
    "open": "09:30",
    "close": "16:00",
    "session_open": "0400",
    "session_close": "2000",
  },
] as const;

/**
 * `GET /v2/calendar` with the current fields (`settlement_date` too). Source:
 * alpacahq/alpaca-py `tests/trading/trading_client/test_clock_calendar_routes.py` at
 * commit fe4a8efae6efb19a3991cd2d952ae89bd235e1a5.
 */
export const CALENDAR_2025_01_02 = [
  {
    "date": "2025-01-02",
    "open": "09:30",
    "close": "16:00",
    "session_open": "0400",
    "session_close": "2000",
    "settlement_date": "2025-01-03",
  },
] as const;
