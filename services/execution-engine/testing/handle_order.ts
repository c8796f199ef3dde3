/**
 * One order through the core, start to answer, as the tests and the bench drive it:
 * `ExecutionEngineCore.accept`, then the venue's answer.
 * @module
 */
import type { Order, OrderState } from "../../../lib/types.ts";
import type { ExecutionEngineCore } from "../core.ts";

/** What {@link handleOrder} did with an order. */
export type HandleResult =
  | { kind: "duplicate"; state: OrderState }
  | { kind: "handled"; state: OrderState };

/**
 * Gives `order` to `core` and waits for the venue's answer and what it led to (its reports,
 * written by the journal's commit at the end of the event loop's turn); resolves with the
 * order's state.
 */
export async function handleOrder(
  core: ExecutionEngineCore,
  order: Order,
  trace: string,
): Promise<HandleResult> {
  const acceptance = core.accept(order, trace);
  if (acceptance.kind === "duplicate") {
    await core.settle();
    return acceptance;
  }
  const state = await acceptance.sent;
  await core.settle();
  return { kind: "handled", state };
}
