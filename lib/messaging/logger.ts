/**
 * The messaging layer's logger (`trading.messaging`).
 * @module
 */
import { getLogger } from "@logtape/logtape";

/** Where every messaging socket logs. */
export const logger = getLogger(["trading", "messaging"]);
