/**
 * A LogTape logger double that keeps the level and fields of every line, so a test
 * can check what is logged without asserting on wording.
 * @module
 */
import type { Logger } from "@logtape/logtape";

/** One line a {@link fieldsLogger} was given. */
export interface LoggedLine {
  readonly level: "info" | "warn" | "error";
  readonly fields: Record<string, unknown>;
}

/**
 * A logger answering `info`, `warn` and `error` (what market-data uses), and the lines
 * it was given, in order.
 */
export function fieldsLogger(): { logger: Logger; lines: LoggedLine[] } {
  const lines: LoggedLine[] = [];
  const line =
    (level: LoggedLine["level"]) => (_message: string, fields: Record<string, unknown> = {}) =>
      void lines.push({ level, fields });
  const logger = { info: line("info"), warn: line("warn"), error: line("error") };
  return { logger: logger as unknown as Logger, lines };
}
