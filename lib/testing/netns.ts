/**
 * A small network of hosts on one machine, for tests that need services on separate
 * hosts: one Linux network namespace per host, each with its own `eth0` (a veth pair)
 * plugged into a bridge in a "switch" namespace of its own, on a private /24 that the
 * test picks. The test's own (root) namespace is plugged into the same switch as
 * `.1`, so it reaches every host directly (HTTP scrapes, admin calls), and the bridge
 * lives outside the root namespace so the root's firewall never sees the traffic.
 *
 * Faults are iptables rules inside the hosts (these kernels have no `tc netem`), on
 * each host's way in so that a lost packet is lost silently: random loss with the
 * `statistic` match, and partitions as DROP rules between two hosts in a chain of their
 * own, flushed to heal.
 *
 * Needs root, `ip` (iproute2) and `iptables`. Every name starts with the network's
 * prefix; {@linkcode Network.create} first removes what a crashed run with that prefix
 * left behind (its processes, by pid, and its namespaces), under a lock file, so two
 * runs on one machine wait for each other instead of tearing each other down.
 * {@linkcode Network.destroy} stops every process started here and deletes every
 * namespace (and with them every veth), also when the test failed.
 *
 * @example
 * ```ts
 * await using net = await Network.create({ prefix: "trx", subnet: "10.213.0", hosts: ["a", "b"] });
 * await net.loss(0.05);
 * const proc = net.spawn("a", "services/market-data/main.ts", ["--config", path]);
 * await net.partition("a", "b");
 * await net.heal();
 * ```
 * @module
 */
import { Proc } from "./tools.ts";

/** Options of {@linkcode Network.create}. */
export interface NetworkOptions {
  /** Start of every namespace and interface name; at most 6 characters, [a-z0-9]. */
  prefix: string;
  /** The first three octets of the /24, e.g. `"10.213.0"`; the root is `.1`. */
  subnet: string;
  /** Host names, [a-z0-9-]; host `i` gets the address `.<11 + i>`. */
  hosts: readonly string[];
  /** How long to wait for another run's lock, in ms (default 180 s). */
  lockTimeoutMs?: number;
}

/** What a command printed. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Thrown when the network cannot be set up or changed; the message names the command. */
export class NetworkError extends Error {
  override name = "NetworkError";
}

/** The chain inside every host that holds partition rules. */
const PARTITION_CHAIN = "PARTITION";
/** The chain inside every host that holds the loss rule. */
const LOSS_CHAIN = "LOSS";

/** Runs a command and returns what it printed (never throws on a non-zero exit). */
export async function run(argv: readonly string[]): Promise<CommandResult> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(argv[0], {
      args: argv.slice(1),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new NetworkError(
        `Cannot run ${
          argv[0]
        }: it is not installed (.ci/ensure-tools installs iproute2 and iptables)`,
      );
    }
    throw e;
  }
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Runs a command and throws a {@linkcode NetworkError} when it fails. */
async function must(argv: readonly string[]): Promise<string> {
  const r = await run(argv);
  if (r.code !== 0) {
    throw new NetworkError(
      `Cannot run "${argv.join(" ")}": ${r.stderr.trim() || `exit ${r.code}`}`,
    );
  }
  return r.stdout;
}

/** Why this machine cannot run a network test, or `undefined` when it can. */
export async function unsupported(): Promise<string | undefined> {
  if (Deno.build.os !== "linux") return `network namespaces need Linux, not ${Deno.build.os}`;
  if (Deno.uid() !== 0) return "network namespaces need root";
  for (const tool of ["ip", "iptables"]) {
    try {
      await run([tool, "-V"]);
    } catch (e) {
      return (e as Error).message;
    }
  }
  return undefined;
}

/** A set of hosts (network namespaces) on one switch. See the module doc. */
export class Network implements AsyncDisposable {
  readonly #procs = new Set<Proc>();
  readonly #lock: Deno.FsFile;
  #destroyed = false;

  private constructor(
    readonly options: NetworkOptions,
    lock: Deno.FsFile,
  ) {
    this.#lock = lock;
  }

  /**
   * Builds the network: removes a crashed run's leftovers, then creates the switch, one
   * namespace per host with its address, and the root's port on the switch.
   *
   * @throws {NetworkError} If a name is invalid, the lock is not free in time, or a
   *   command fails (what was created is removed again).
   */
  static async create(options: NetworkOptions): Promise<Network> {
    if (!/^[a-z0-9]{1,6}$/.test(options.prefix)) {
      throw new NetworkError(
        `Cannot create network: prefix "${options.prefix}" must be 1-6 [a-z0-9]`,
      );
    }
    if (!/^\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(options.subnet)) {
      throw new NetworkError(
        `Cannot create network: subnet "${options.subnet}" must be like 10.213.0`,
      );
    }
    for (const h of options.hosts) {
      if (!/^[a-z0-9-]{1,20}$/.test(h)) {
        throw new NetworkError(`Cannot create network: host name "${h}" must be 1-20 [a-z0-9-]`);
      }
    }
    const lock = await Deno.open(`/tmp/netns-test-${options.prefix}.lock`, {
      create: true,
      write: true,
    });
    // Another run of the same test on this machine holds it until it has cleaned up.
    const timeoutMs = options.lockTimeoutMs ?? 180_000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const locked = await Promise.race([
      lock.lock(true).then(() => true),
      new Promise<false>((r) => timer = setTimeout(() => r(false), timeoutMs)),
    ]);
    clearTimeout(timer);
    if (!locked) {
      lock.close();
      throw new NetworkError(
        `Cannot create network "${options.prefix}": another run held its lock for ${timeoutMs} ms`,
      );
    }
    const net = new Network(options, lock);
    try {
      await net.#removeLeftovers();
      await net.#build();
    } catch (e) {
      await net.destroy();
      throw e;
    }
    return net;
  }

  /** The namespace of a host. */
  namespace(host: string): string {
    this.#index(host);
    return `${this.options.prefix}-${host}`;
  }

  /** The address of a host (`"root"` is the test's own namespace). */
  address(host: string): string {
    if (host === "root") return `${this.options.subnet}.1`;
    return `${this.options.subnet}.${11 + this.#index(host)}`;
  }

  /** Runs a command inside a host's namespace. */
  exec(host: string, argv: readonly string[]): Promise<CommandResult> {
    return run(["ip", "netns", "exec", this.namespace(host), ...argv]);
  }

  /**
   * Starts a Deno script inside a host's namespace (`ip netns exec <ns> deno run -A`),
   * stopped by {@linkcode destroy} at the latest.
   */
  spawn(host: string, script: string, args: string[] = [], env: Record<string, string> = {}): Proc {
    const proc = new Proc(script, args, env, ["ip", "netns", "exec", this.namespace(host)]);
    this.#procs.add(proc);
    return proc;
  }

  /** Stops a process started by {@linkcode spawn} (SIGTERM, then SIGKILL after `graceMs`). */
  async stop(proc: Proc, graceMs = 10_000): Promise<Deno.CommandStatus> {
    const status = await proc.stop(graceMs);
    this.#procs.delete(proc);
    return status;
  }

  /**
   * Drops each packet that reaches a host with `probability` (0 removes the rule), on
   * every host: every link between two hosts loses that share of its packets.
   */
  async loss(probability: number): Promise<void> {
    if (!(probability >= 0 && probability < 1)) {
      throw new NetworkError(`Cannot set loss: probability must be in [0, 1), got ${probability}`);
    }
    const rule = ["-m", "statistic", "--mode", "random", "--probability", String(probability)];
    for (const host of this.options.hosts) {
      await this.#iptables(host, "-F", LOSS_CHAIN);
      if (probability > 0) await this.#iptables(host, "-A", LOSS_CHAIN, ...rule, "-j", "DROP");
    }
  }

  /** Cuts every packet between hosts `a` and `b`, both ways, until {@linkcode heal}. */
  async partition(a: string, b: string): Promise<void> {
    await this.#iptables(a, "-A", PARTITION_CHAIN, "-s", this.address(b), "-j", "DROP");
    await this.#iptables(b, "-A", PARTITION_CHAIN, "-s", this.address(a), "-j", "DROP");
  }

  /** Removes every partition. */
  async heal(): Promise<void> {
    for (const host of this.options.hosts) await this.#iptables(host, "-F", PARTITION_CHAIN);
  }

  /** Packets and bytes the loss and partition rules of a host dropped so far. */
  async dropped(host: string): Promise<{ loss: number; partition: number }> {
    const count = async (chain: string) => {
      const out = await this.#iptables(host, "-L", chain, "-v", "-n", "-x");
      let packets = 0;
      for (const line of out.split("\n").slice(2)) {
        const n = Number(line.trim().split(/\s+/)[0]);
        if (Number.isFinite(n)) packets += n;
      }
      return packets;
    };
    return { loss: await count(LOSS_CHAIN), partition: await count(PARTITION_CHAIN) };
  }

  /**
   * Stops every process started here and deletes every namespace (and so every veth).
   * Safe to call twice; never throws for a part already gone.
   */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    try {
      await Promise.all([...this.#procs].map((p) => p.stop(5_000)));
      this.#procs.clear();
      await this.#removeLeftovers();
    } finally {
      try {
        this.#lock.unlockSync();
      } catch { /* closing releases it too */ }
      this.#lock.close();
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.destroy();
  }

  #iptables(host: string, ...args: string[]): Promise<string> {
    return must(["ip", "netns", "exec", this.namespace(host), "iptables", ...args]);
  }

  #index(host: string): number {
    const i = this.options.hosts.indexOf(host);
    if (i < 0) {
      throw new NetworkError(`Cannot find host "${host}" in network "${this.options.prefix}"`);
    }
    return i;
  }

  /** Every namespace name this network owns, the switch last. */
  #namespaces(): string[] {
    return [...this.options.hosts.map((h) => `${this.options.prefix}-${h}`), this.#switch()];
  }

  #switch(): string {
    return `${this.options.prefix}-switch`;
  }

  /** Processes left in our namespaces (by pid: a crashed run's), then the namespaces. */
  async #removeLeftovers(): Promise<void> {
    const existing = new Set(
      (await must(["ip", "netns", "list"])).split("\n").map((l) => l.split(" ")[0]).filter(Boolean),
    );
    for (const ns of this.#namespaces()) {
      if (!existing.has(ns)) continue;
      for (let attempt = 0; attempt < 50; attempt++) {
        const pids = (await run(["ip", "netns", "pids", ns])).stdout.split(/\s+/).filter(Boolean);
        if (pids.length === 0) break;
        for (const pid of pids) {
          try {
            Deno.kill(Number(pid), "SIGKILL");
          } catch { /* gone */ }
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      await run(["ip", "netns", "del", ns]);
    }
    // The root's end of its veth goes with the switch namespace; remove it by name too in
    // case the switch was half built.
    const rootPort = `${this.options.prefix}root`;
    if ((await run(["ip", "link", "show", rootPort])).code === 0) {
      await run(["ip", "link", "del", rootPort]);
    }
  }

  async #build(): Promise<void> {
    const p = this.options.prefix;
    const sw = this.#switch();
    await must(["ip", "netns", "add", sw]);
    await must(["ip", "-n", sw, "link", "add", "br0", "type", "bridge"]);
    await must(["ip", "-n", sw, "link", "set", "br0", "up"]);
    // The root's port: the test reaches every host through it.
    const rootPort = `${p}root`;
    await must(["ip", "link", "add", rootPort, "type", "veth", "peer", "name", `${p}rootsw`]);
    await must(["ip", "link", "set", `${p}rootsw`, "netns", sw]);
    await must(["ip", "-n", sw, "link", "set", `${p}rootsw`, "master", "br0", "up"]);
    await must(["ip", "addr", "add", `${this.address("root")}/24`, "dev", rootPort]);
    await must(["ip", "link", "set", rootPort, "up"]);
    for (const [i, host] of this.options.hosts.entries()) {
      const ns = this.namespace(host);
      const inside = `${p}h${i}`;
      const port = `${p}h${i}sw`;
      await must(["ip", "netns", "add", ns]);
      await must(["ip", "link", "add", inside, "type", "veth", "peer", "name", port]);
      await must(["ip", "link", "set", inside, "netns", ns]);
      await must(["ip", "link", "set", port, "netns", sw]);
      await must(["ip", "-n", sw, "link", "set", port, "master", "br0", "up"]);
      await must(["ip", "-n", ns, "link", "set", inside, "name", "eth0"]);
      await must(["ip", "-n", ns, "addr", "add", `${this.address(host)}/24`, "dev", "eth0"]);
      await must(["ip", "-n", ns, "link", "set", "eth0", "up"]);
      await must(["ip", "-n", ns, "link", "set", "lo", "up"]);
      for (const chain of [LOSS_CHAIN, PARTITION_CHAIN]) await this.#iptables(host, "-N", chain);
      // Only on the way in: a packet meets each rule once, at the host it reaches, and is
      // lost silently as on a wire (a DROP on the way out fails the sender's call with
      // EPERM, which no real network does).
      await this.#iptables(host, "-A", "INPUT", "-i", "eth0", "-j", PARTITION_CHAIN);
      await this.#iptables(host, "-A", "INPUT", "-i", "eth0", "-j", LOSS_CHAIN);
    }
  }
}
