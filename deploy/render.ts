/**
 * `deno task deploy`: writes deploy/build/, the kustomization to apply
 * (`kubectl apply -k deploy/build`), from deploy/base/, config/system.json and
 * monitoring/alerts/trading_system.yml.
 *
 * `deno task deploy secrets [--keys DIR]` prints the Secrets instead (CURVE keys from
 * DIR, default data/keys; Alpaca keys and admin token from the environment), for
 * `| kubectl apply -f -`, so no secret is written to disk on the way.
 *
 * Options: `--out DIR` (default deploy/build), `--config PATH`, `--rules PATH`.
 * Exits 2 with a message when an input is invalid.
 * @module
 */
import { stringify } from "yaml";
import { parseCommandLine } from "../lib/cli.ts";
import { KeyStore } from "../lib/keys.ts";
import { secretManifests, writeBuild } from "./cluster.ts";

if (import.meta.main) {
  const { values, positional } = parseCommandLine(Deno.args, {
    name: "deploy",
    summary: "Writes deploy/build/, the kustomization to apply (kubectl apply -k " +
      "deploy/build), from deploy/base/, the config and the alert rules. With `secrets`, " +
      "prints the Secrets instead for `| kubectl apply -f -`, so no secret is written to disk.",
    flags: [
      { name: "out", value: "DIR", help: "where the kustomization goes (deploy/build)" },
      { name: "config", value: "PATH", help: "the config to render (config/system.json)" },
      {
        name: "rules",
        value: "PATH",
        help: "the alert rules (monitoring/alerts/trading_system.yml)",
      },
      { name: "keys", value: "DIR", help: "with secrets: the CURVE key store (data/keys)" },
    ],
    env: [
      { name: "APCA_API_KEY_ID", help: "with secrets: Alpaca's key id" },
      { name: "APCA_API_SECRET_KEY", help: "with secrets: Alpaca's secret" },
      { name: "RISK_ADMIN_TOKEN", help: "with secrets: the admin token" },
    ],
    notes: [
      "Usage with secrets: deno task deploy secrets [--keys DIR] | kubectl apply -f -",
      "README.md (Across hosts and on a cluster) has the whole procedure.",
      "Exit codes: 0 written, 2 bad flag or invalid input.",
    ],
  });
  const value = (name: string) => {
    const v = values[name];
    return typeof v === "string" ? v : undefined;
  };
  try {
    if (positional.length > 1 || (positional.length === 1 && positional[0] !== "secrets")) {
      throw new Error(`unknown argument ${JSON.stringify(positional.at(-1))} (see --help)`);
    }
    if (positional[0] === "secrets") {
      const keys = KeyStore.open(value("keys") ?? "data/keys");
      const docs = secretManifests(keys, Deno.env.toObject());
      console.log(docs.map((d) => stringify(d)).join("---\n"));
    } else {
      const out = value("out") ?? "deploy/build";
      const written = writeBuild(out, {
        config: value("config"),
        rules: value("rules"),
      });
      console.error(`Wrote ${written.join(", ")}; apply with: kubectl apply -k ${out}`);
    }
  } catch (e) {
    console.error(`deploy: ${(e as Error).message}`);
    Deno.exit(2);
  }
}
