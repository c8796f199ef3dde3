/**
 * `deno task keys [--config PATH] [--force] [--host-dirs DIR]`: writes a CURVE key pair for every service
 * and the operator identity into `security.keysDir` (default `data/keys`), in the zcert
 * format of lib/keys.ts. Existing pairs are kept unless `--force` replaces them (every
 * service must then be restarted with the new files).
 *
 * On one host nothing needs to be run: the services create the keys on first start. For
 * several hosts, run this once, then give each host its own `<service>.key_secret` and
 * every `.key` (public) file: `--host-dirs DIR` lays out exactly that, one directory per
 * service (compose gives each container its own).
 * @module
 */
import { CONFIG_DOCS, CONFIG_ENV, parseCommandLine } from "../lib/cli.ts";
import { ConfigError, loadConfig } from "../lib/config.ts";
import { KeyError, KeyStore } from "../lib/keys.ts";
import { IDENTITIES } from "../lib/messaging_context.ts";
import { SERVICES } from "../lib/metrics.ts";
import { join } from "node:path";

if (import.meta.main) {
  const args = parseCommandLine(Deno.args, {
    name: "keys",
    summary: "Writes the CURVE key pair of every service and of the operator identity " +
      "into security.keysDir, keeping the pairs already there.",
    flags: [
      { name: "config", value: "PATH", help: "the config whose security.keysDir to fill" },
      { name: "force", help: "replace existing pairs (restart every service afterwards)" },
      {
        name: "host-dirs",
        value: "DIR",
        help: "also write DIR/<service>/: that service's secret and every public key, " +
          "the directory to give its host (compose does this)",
      },
    ],
    env: CONFIG_ENV.slice(0, 2),
    notes: [
      CONFIG_DOCS,
      "Several hosts: copy each service's <name>.key_secret to its host only, every <name>.key to every host.",
    ],
  });
  try {
    const config = loadConfig({ args: Deno.args, env: Deno.env.toObject() });
    const store = KeyStore.open(config.security.keysDir);
    const written = store.create(IDENTITIES, { overwrite: args.values.force === true });
    for (const name of IDENTITIES) {
      const state = written.includes(name) ? "written" : "kept";
      console.log(
        `${name}: ${state} ${store.secretPath(name)} (secret), ${store.publicPath(name)}`,
      );
    }
    const hostDirs = args.values["host-dirs"];
    if (typeof hostDirs === "string") {
      for (const service of SERVICES) {
        const dir = join(hostDirs, service);
        store.exportHost(service, IDENTITIES, dir);
        console.log(`${service}: host keys in ${dir} (its secret only, every public key)`);
      }
    }
    if (config.security.mode === "insecure") {
      console.error('keys: note that "security.mode" is "insecure": the services do not use them');
    }
  } catch (e) {
    if (e instanceof ConfigError || e instanceof KeyError) {
      console.error(`keys: ${e.message}`);
      Deno.exit(2);
    }
    throw e;
  }
}
