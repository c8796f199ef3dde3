/**
 * Picks and builds the model named by config (`signalBridge.model.kind`).
 * @module
 */
import type { Config } from "../../lib/config.ts";
import { loadLogisticModel } from "./logistic_model.ts";
import type { Model } from "./model.ts";
import { RulesModel } from "./rules_model.ts";

/**
 * Builds the configured model: `rules` from `signalBridge.rules`, `logistic` from the
 * file at `signalBridge.model.path`. Throws ConfigError when the model file is
 * missing, malformed or names unknown features.
 */
export function createModel(
  config: Pick<Config["signalBridge"], "model" | "rules">,
  readFile?: (path: string) => string,
): Model {
  switch (config.model.kind) {
    case "rules":
      return new RulesModel(config.rules);
    case "logistic":
      return loadLogisticModel(config.model.path, readFile);
  }
}
