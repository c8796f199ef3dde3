/**
 * An OpenTelemetry context manager on `AsyncLocalStorage`, for tests that run in the test
 * process, where Deno's built-in OpenTelemetry is off (no `OTEL_DENO`) and the api's context is
 * a no-op. {@link withContextManager} installs one for the length of a test and removes it after,
 * so the api's global state is as it was for the next test.
 * @module
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { type Context, context, type ContextManager, ROOT_CONTEXT } from "@opentelemetry/api";

/** A context manager that carries the context across awaits, timers and callbacks. */
export class AsyncContextManager implements ContextManager {
  readonly #storage = new AsyncLocalStorage<Context>();

  active(): Context {
    return this.#storage.getStore() ?? ROOT_CONTEXT;
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    ctx: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    return this.#storage.run(ctx, () => fn.apply(thisArg, args));
  }

  bind<T>(ctx: Context, target: T): T {
    if (typeof target !== "function") return target;
    const run = (...args: unknown[]) =>
      this.with(ctx, () => (target as (...a: unknown[]) => unknown)(...args));
    return run as T;
  }

  enable(): this {
    return this;
  }

  disable(): this {
    this.#storage.disable();
    return this;
  }
}

/**
 * Runs `fn` with an {@link AsyncContextManager} as the api's global context manager.
 *
 * @throws {Error} If another context manager is already installed (Deno's, with `OTEL_DENO=true`):
 *   the test would not be testing what it says.
 */
export async function withContextManager<T>(fn: () => T | Promise<T>): Promise<T> {
  const manager = new AsyncContextManager();
  if (!context.setGlobalContextManager(manager)) {
    throw new Error("Cannot install a test context manager: one is already installed");
  }
  try {
    return await fn();
  } finally {
    context.disable();
  }
}
