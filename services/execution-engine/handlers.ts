/**
 * Between the sockets and the core: one handler per inbound channel, each taking an
 * {@link Envelope}. No socket objects here: service.ts hands each socket's messages to
 * these handlers, so tests call them directly.
 *
 * - `orders` ({@link ExecutionEngineHandlers.onOrder}): an approved order is journaled
 *   (synchronously) and then sent to the venue. The reliable receiver acknowledges it
 *   to risk-manager once the handler returns, that is once it is journaled. When the
 *   journal cannot be written the order must not be acknowledged: the process exits,
 *   and risk-manager sends the order again to the restarted engine.
 * - `orders` also carries risk-manager's reconciliation requests: an
 *   `order_status_request` is answered with the journal's view of those orders, a
 *   `positions_request` with the venue's positions (`venue_positions`), each on the
 *   execution reports channel behind every report sent before it.
 * - `market_data` ({@link ExecutionEngineHandlers.onMarketData}): quotes, books and
 *   trades update the price book the paper exchange fills against.
 *
 * Execution reports leave through the core's report sink (wired in service.ts): the core
 * emits them as the venue's updates arrive, not in answer to one message.
 *
 * Tracing (lib/tracing.ts, order_tracing.ts): every envelope is handled inside its trace. An
 * order (always sampled: risk-manager's approval made its trace an order's) gets an
 * `execution-engine receive` span, whose context the core keeps for the order's whole life, and
 * under it `execution-engine journal` (the order journaled, up to its venue call), the
 * `execution-engine venue` span of the call and one `execution-engine report` span per
 * execution report. Market data of a sampled tick gets `execution-engine market data`.
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { Envelope } from "../../lib/envelope.ts";
import { getLogger } from "../../lib/log.ts";
import { type MessageScope, ServiceTracer } from "../../lib/tracing.ts";
import { EXIT } from "../../lib/service.ts";
import type {
  Book,
  OneSidedQuote,
  Order,
  OrderStatus,
  OrderStatusRequest,
  PositionsRequest,
  Quote,
  Trade,
  TradeCorrection,
  VenuePositions,
  VenuePositionsAnswer,
} from "../../lib/types.ts";
import { MAX_VENUE_POSITIONS } from "../../lib/types.ts";
import type { Acceptance, ExecutionEngineCore } from "./core.ts";
import type { OrderTraces } from "./order_tracing.ts";
import type { PriceBook } from "./price_book.ts";

/** Options of {@link ExecutionEngineHandlers}. */
export interface ExecutionEngineHandlersOptions {
  /** The core orders go to. */
  core: Pick<ExecutionEngineCore, "accept" | "orderStatus">;
  /** Sends an `order_status` answer to risk-manager (not journaled: it asks again). */
  answerStatus?: (status: OrderStatus, trace: string) => void;
  /**
   * The venue's positions: Alpaca's (`GET /v2/positions` and the fills' `position_qty`),
   * or the paper venue's net fills from the journal.
   */
  positions?: () => VenuePositions;
  /** Sends a `venue_positions` answer to risk-manager (not journaled: it asks again). */
  answerPositions?: (answer: VenuePositionsAnswer, trace: string) => void;
  /** Epoch ms; default `Date.now`. */
  now?: () => number;
  /** The prices market data updates. */
  prices: PriceBook;
  /** Ends the process; default `Deno.exit`. */
  exit?: (code: number) => never;
  logger?: Logger;
  /** The tracer; default the service's (a no-op with tracing off). */
  tracer?: ServiceTracer;
  /** Where each sampled order's context is kept for its reports (order_tracing.ts). */
  orderTraces?: Pick<OrderTraces, "remember">;
}

/** The execution-engine's message handlers. */
export class ExecutionEngineHandlers {
  readonly #core: Pick<ExecutionEngineCore, "accept" | "orderStatus">;
  readonly #answerStatus: ((status: OrderStatus, trace: string) => void) | undefined;
  readonly #positions: (() => VenuePositions) | undefined;
  readonly #answerPositions:
    | ((answer: VenuePositionsAnswer, trace: string) => void)
    | undefined;
  readonly #now: () => number;
  readonly #prices: PriceBook;
  readonly #exit: (code: number) => never;
  readonly #log: Logger;
  readonly #tracer: ServiceTracer;
  readonly #orderTraces: Pick<OrderTraces, "remember"> | undefined;

  constructor(options: ExecutionEngineHandlersOptions) {
    this.#core = options.core;
    this.#answerStatus = options.answerStatus;
    this.#positions = options.positions;
    this.#answerPositions = options.answerPositions;
    this.#now = options.now ?? Date.now;
    this.#prices = options.prices;
    this.#exit = options.exit ?? ((code) => Deno.exit(code));
    this.#log = options.logger ?? getLogger(["trading", "execution"]);
    this.#tracer = options.tracer ?? new ServiceTracer("execution-engine");
    this.#orderTraces = options.orderTraces;
  }

  /**
   * An `order` from risk-manager: journals it and starts sending it (a duplicate is
   * ignored by the core). Returns once the order is journaled, so the receiver's
   * acknowledgement never precedes the journal write. Exits the process with
   * {@link EXIT}.crash when the journal cannot be written.
   */
  onOrder(envelope: Envelope): void {
    const scope = this.#tracer.receive("execution-engine receive", envelope);
    try {
      scope.run(() => this.#onOrder(envelope, scope));
    } finally {
      scope.end();
    }
  }

  #onOrder(envelope: Envelope, scope: MessageScope): void {
    if (envelope.type === "order_status_request") return this.onStatusRequest(envelope);
    if (envelope.type === "positions_request") return this.onPositionsRequest(envelope);
    let acceptance: Acceptance;
    const order = envelope.body as Order;
    const startedAt = scope.sampled ? performance.now() : 0;
    if (scope.sampled) this.#orderTraces?.remember(order.clientOrderId, scope.context);
    try {
      acceptance = this.#core.accept(order, envelope.trace);
    } catch (error) {
      this.#log.fatal("Cannot journal an order; exiting so that it is delivered again", {
        error,
        trace: envelope.trace,
      });
      return this.#exit(EXIT.crash);
    }
    if (scope.sampled) {
      // The journal span runs to the end of the commit that made the order durable (the group
      // commit of this run: after this returns); a duplicate's ends here.
      const record = (journaledAt: number) =>
        this.#tracer.record(
          "execution-engine journal",
          scope.context,
          performance.timeOrigin + startedAt,
          performance.timeOrigin + journaledAt,
          { attributes: { "trading.acceptance": acceptance.kind } },
        );
      if (acceptance.kind === "accepted") void acceptance.committed.then(record);
      else record(performance.now());
    }
    if (acceptance.kind === "accepted") {
      acceptance.sent.catch((error) =>
        this.#log.error("Order handling failed", { error, trace: envelope.trace })
      );
    }
  }

  /**
   * An `order_status_request` from risk-manager (on the orders channel, behind every
   * order sent before it): answers with what the journal holds of each order. A failure
   * to answer is logged; risk-manager asks again.
   */
  onStatusRequest(envelope: Envelope): void {
    const request = envelope.body as OrderStatusRequest;
    try {
      this.#answerStatus?.(this.#core.orderStatus(request), envelope.trace);
    } catch (error) {
      this.#log.error("Cannot answer an order status request", {
        requestId: request.requestId,
        error,
      });
    }
  }

  /**
   * A `positions_request` from risk-manager (on the orders channel, behind every order
   * sent before it): answers with the venue's positions, at most
   * {@link MAX_VENUE_POSITIONS} by symbol (`truncated` when there were more). Computed and
   * handed to the reports channel at once, so the answer follows every report already
   * sent. Without a positions source nothing is answered (risk-manager gives the request
   * up); a failure to answer is logged, and risk-manager asks again.
   */
  onPositionsRequest(envelope: Envelope): void {
    const request = envelope.body as PositionsRequest;
    if (this.#positions === undefined || this.#answerPositions === undefined) return;
    try {
      const held = this.#positions();
      const positions = [...held.positions].sort((a, b) =>
        a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0
      );
      this.#answerPositions({
        requestId: request.requestId,
        venue: held.venue,
        readAt: held.readAt,
        positions: positions.slice(0, MAX_VENUE_POSITIONS),
        truncated: positions.length > MAX_VENUE_POSITIONS,
        at: this.#now(),
      }, envelope.trace);
    } catch (error) {
      this.#log.error("Cannot answer a positions request", {
        requestId: request.requestId,
        error,
      });
    }
  }

  /**
   * A `quote`, `book`, `trade`, `one_sided_quote` or `trade_correction` from market-data:
   * updates the price book.
   */
  onMarketData(envelope: Envelope): void {
    const scope = this.#tracer.receive("execution-engine market data", envelope);
    try {
      scope.run(() => this.#onMarketData(envelope));
    } finally {
      scope.end();
    }
  }

  #onMarketData(envelope: Envelope): void {
    switch (envelope.type) {
      case "quote":
        this.#prices.quote(envelope.body as Quote);
        break;
      case "book":
        this.#prices.book(envelope.body as Book);
        break;
      case "trade":
        this.#prices.trade(envelope.body as Trade);
        break;
      case "one_sided_quote":
        this.#prices.oneSidedQuote(envelope.body as OneSidedQuote);
        break;
      case "trade_correction":
        this.#prices.correction(envelope.body as TradeCorrection);
        break;
    }
  }
}
