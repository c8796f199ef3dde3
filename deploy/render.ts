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
import { KeyStore } from "../lib/keys.ts";
import { secretManifests, writeBuild } from "./cluster.ts";

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith("--")) throw new Error(`${name} needs a value`);
  return v;
}

if (import.meta.main) {
  const args = [...Deno.args];
  try {
    if (args[0] === "secrets") {
      const keys = KeyStore.open(option(args, "--keys") ?? "data/keys");
      const docs = secretManifests(keys, Deno.env.toObject());
      console.log(docs.map((d) => stringify(d)).join("---\n"));
    } else {
      const out = option(args, "--out") ?? "deploy/build";
      const written = writeBuild(out, {
        config: option(args, "--config"),
        rules: option(args, "--rules"),
      });
      console.error(`Wrote ${written.join(", ")}; apply with: kubectl apply -k ${out}`);
    }
  } catch (e) {
    console.error(`deploy: ${(e as Error).message}`);
    Deno.exit(2);
  }
}
