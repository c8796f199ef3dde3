/**
 * Command lines of every entry point (`deno task <name>`): `--help`/`-h` prints what the
 * command does, its flags, the environment it reads and where the config keys are
 * documented, and exits 0 before anything is bound or opened; an unknown flag, or a
 * flag without its value, exits 2 naming it.
 *
 * @example
 * ```ts
 * const args = parseCommandLine(Deno.args, {
 *   name: "status",
 *   summary: "One-shot report of every service.",
 *   flags: [{ name: "config", value: "PATH", help: "config file" }, { name: "json", help: "JSON output" }],
 * });
 * args.values.json; // true when --json was given
 * ```
 * @module
 */

/** One flag: `--name` (boolean) or `--name VALUE` / `--name=VALUE`. */
export interface FlagSpec {
  readonly name: string;
  /** The value's placeholder (`PATH`, `URL`); none: a boolean flag. */
  readonly value?: string;
  readonly help: string;
}

/** An environment variable the command reads. */
export interface EnvSpec {
  readonly name: string;
  readonly help: string;
}

/** What a command is. */
export interface CommandSpec {
  /** The task name: `deno task <name>`. */
  readonly name: string;
  /** One or two sentences. */
  readonly summary: string;
  readonly flags?: readonly FlagSpec[];
  readonly env?: readonly EnvSpec[];
  /** Extra lines (exit codes, where config keys are documented). */
  readonly notes?: readonly string[];
}

/** Parsed flags: a string for a valued flag, true for a boolean one. */
export interface CommandLine {
  readonly values: Readonly<Record<string, string | true>>;
  /** Arguments that are not flags. */
  readonly positional: readonly string[];
}

/** Thrown by {@link parseFlags} for an unknown flag or a missing value. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** The environment every service reads (and the operator tools that load the config). */
export const CONFIG_ENV: readonly EnvSpec[] = [
  { name: "TRADING_CONFIG", help: "config file when --config is not given (config/system.json)" },
  {
    name: "TRADING__<PATH>",
    help: "override one config key, e.g. TRADING__RISK_MANAGER__LIMITS__MAX_ORDER_QTY=50",
  },
  { name: "LOG_LEVEL", help: "trace, debug, info (default), warning, error, fatal" },
  { name: "LOG_FORMAT", help: "json (default) or pretty" },
];

/** Where the config keys are documented. */
export const CONFIG_DOCS =
  "Config keys: README.md (Config) and lib/config.ts; the default file is config/system.json.";

/** The help text of a command. */
export function helpText(spec: CommandSpec): string {
  const flags = [...(spec.flags ?? []), { name: "help", help: "print this help and exit" }];
  const heads = flags.map((f) =>
    f.name === "help" ? "-h, --help" : `--${f.name}${f.value !== undefined ? ` ${f.value}` : ""}`
  );
  const env = spec.env ?? [];
  const width = Math.max(...heads.map((h) => h.length), ...env.map((e) => e.name.length)) + 2;
  const flagLines = flags.map((f, i) => `  ${heads[i].padEnd(width)}${f.help}`);
  const envLines = env.map((e) => `  ${e.name.padEnd(width)}${e.help}`);
  return [
    `deno task ${spec.name}: ${spec.summary}`,
    "",
    `Usage: deno task ${spec.name}${flags.length > 1 ? " [flags]" : ""}`,
    "",
    "Flags:",
    ...flagLines,
    ...(envLines.length ? ["", "Environment:", ...envLines] : []),
    ...(spec.notes?.length ? ["", ...spec.notes] : []),
    "",
  ].join("\n");
}

/**
 * Parses `argv` by `spec`.
 *
 * @throws {UsageError} For an unknown flag or a flag without its value.
 */
export function parseFlags(argv: readonly string[], spec: CommandSpec): CommandLine & {
  help: boolean;
} {
  const byName = new Map((spec.flags ?? []).map((f) => [f.name, f]));
  const values: Record<string, string | true> = {};
  const positional: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "-h" || arg === "--help") {
      help = true;
      continue;
    }
    if (!arg.startsWith("-")) {
      positional.push(arg);
      continue;
    }
    const m = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/.exec(arg);
    const flag = m ? byName.get(m[1]) : undefined;
    if (!m || !flag) {
      throw new UsageError(`unknown flag ${JSON.stringify(arg)} (see --help)`);
    }
    if (flag.value === undefined) {
      if (m[2] !== undefined) throw new UsageError(`--${flag.name} takes no value`);
      values[flag.name] = true;
      continue;
    }
    const value = m[2] ?? argv[++i];
    if (value === undefined || (m[2] === undefined && value.startsWith("--"))) {
      throw new UsageError(`--${flag.name} needs a value (${flag.value})`);
    }
    values[flag.name] = value;
  }
  return { values, positional, help };
}

/**
 * The command line of an entry point: prints the help and exits 0 on `--help`, prints
 * the usage error and exits 2 on a bad flag.
 */
export function parseCommandLine(argv: readonly string[], spec: CommandSpec): CommandLine {
  let parsed: ReturnType<typeof parseFlags>;
  try {
    parsed = parseFlags(argv, spec);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`${spec.name}: ${e.message}`);
      Deno.exit(2);
    }
    throw e;
  }
  if (parsed.help) {
    console.log(helpText(spec));
    Deno.exit(0);
  }
  return parsed;
}
