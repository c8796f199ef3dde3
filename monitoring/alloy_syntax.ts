/**
 * A reader of Grafana Alloy's configuration syntax (grafana.com/docs/alloy, "Alloy
 * configuration syntax"), for the checks of monitoring/alloy/config.alloy: no Alloy binary can
 * run here. It reads what that syntax is made of: blocks (`name.sub "label" { ... }`),
 * attributes (`name = value`), strings, numbers, booleans, `null`, lists, objects, references
 * to other components' exports (`loki.process.trading.receiver`) and `//` and `/* *\/` comments.
 * Anything else (function calls, operators) is refused with its line, so a file this cannot read
 * fails its test rather than passing unread.
 * @module
 */

/** A reference to another component's export, e.g. `loki.write.loki.receiver`. */
export interface Reference {
  readonly ref: string;
}

/** A value of the syntax. */
export type AlloyValue =
  | string
  | number
  | boolean
  | null
  | Reference
  | AlloyValue[]
  | { [key: string]: AlloyValue };

/** A block: `name "label" { attributes and blocks }`. */
export interface AlloyBlock {
  /** The block's name, dots included (`loki.source.docker`, `stage.json`, `rule`). */
  readonly name: string;
  readonly label?: string;
  readonly attributes: Record<string, AlloyValue>;
  readonly blocks: AlloyBlock[];
  /** Line of the block's name, from 1. */
  readonly line: number;
}

/** Thrown for text that is not (this reader's subset of) the Alloy syntax. */
export class AlloySyntaxError extends Error {
  override name = "AlloySyntaxError";
}

type Token =
  | { kind: "ident" | "string" | "number" | "punct"; text: string; line: number }
  | { kind: "eof"; text: ""; line: number };

function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  let i = 0;
  const fail = (what: string): never => {
    throw new AlloySyntaxError(`Cannot read the Alloy config: ${what} on line ${line}`);
  };
  while (i < src.length) {
    const c = src[i];
    if (c === "\n") {
      line++;
      i++;
    } else if (c === " " || c === "\t" || c === "\r") i++;
    else if (src.startsWith("//", i)) {
      while (i < src.length && src[i] !== "\n") i++;
    } else if (src.startsWith("/*", i)) {
      const end = src.indexOf("*/", i + 2);
      if (end < 0) fail("an unterminated comment");
      for (let j = i; j < end; j++) if (src[j] === "\n") line++;
      i = end + 2;
    } else if (c === '"') {
      let j = i + 1;
      let text = "";
      for (;; j++) {
        if (j >= src.length || src[j] === "\n") fail("an unterminated string");
        if (src[j] === '"') break;
        if (src[j] === "\\") {
          const e = src[++j];
          text += e === "n" ? "\n" : e === "t" ? "\t" : e === '"' || e === "\\" ? e : fail(
            `an unknown escape \\${e}`,
          );
        } else text += src[j];
      }
      tokens.push({ kind: "string", text, line });
      i = j + 1;
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i;
      while (j < src.length && /[A-Za-z0-9_]/.test(src[j])) j++;
      tokens.push({ kind: "ident", text: src.slice(i, j), line });
      i = j;
    } else if (/[0-9]/.test(c) || (c === "-" && /[0-9]/.test(src[i + 1] ?? ""))) {
      let j = i + 1;
      while (j < src.length && /[0-9.eE_]/.test(src[j])) j++;
      tokens.push({ kind: "number", text: src.slice(i, j).replaceAll("_", ""), line });
      i = j;
    } else if ("{}[]=,.".includes(c)) {
      tokens.push({ kind: "punct", text: c, line });
      i++;
    } else fail(`an unexpected ${JSON.stringify(c)}`);
  }
  tokens.push({ kind: "eof", text: "", line });
  return tokens;
}

/** Parses a whole config file into its top-level blocks. */
export function parseAlloy(src: string): AlloyBlock[] {
  const tokens = tokenize(src);
  let at = 0;
  const peek = () => tokens[at];
  const next = () => tokens[at++];
  const fail = (what: string): never => {
    throw new AlloySyntaxError(`Cannot read the Alloy config: ${what} on line ${peek().line}`);
  };
  const expect = (text: string) => {
    if (peek().text !== text || peek().kind === "string") fail(`expected "${text}"`);
    next();
  };
  const dotted = (): string => {
    let name = next().text;
    while (peek().text === "." && tokens[at + 1]?.kind === "ident") {
      next();
      name += "." + next().text;
    }
    return name;
  };

  function value(): AlloyValue {
    const t = peek();
    if (t.kind === "string") return next().text;
    if (t.kind === "number") {
      const n = Number(next().text);
      if (!Number.isFinite(n)) fail("a malformed number");
      return n;
    }
    if (t.kind === "ident") {
      if (t.text === "true" || t.text === "false") return next().text === "true";
      if (t.text === "null") return (next(), null);
      const ref = dotted();
      if (peek().text === "(" as string) fail("a function call (not read here)");
      return { ref };
    }
    if (t.text === "[") {
      next();
      const list: AlloyValue[] = [];
      while (peek().text !== "]") {
        list.push(value());
        if (peek().text === ",") next();
        else if (peek().text !== "]") fail('expected "," or "]"');
      }
      next();
      return list;
    }
    if (t.text === "{") {
      next();
      const obj: Record<string, AlloyValue> = {};
      while (peek().text !== "}") {
        const k = peek();
        if (k.kind !== "ident" && k.kind !== "string") fail("expected an object key");
        next();
        expect("=");
        obj[k.text] = value();
        if (peek().text === ",") next();
        else if (peek().text !== "}") fail('expected "," or "}"');
      }
      next();
      return obj;
    }
    return fail("expected a value");
  }

  function body(until: string): { attributes: Record<string, AlloyValue>; blocks: AlloyBlock[] } {
    const attributes: Record<string, AlloyValue> = {};
    const blocks: AlloyBlock[] = [];
    while (peek().text !== until || peek().kind === "string") {
      if (peek().kind === "eof") fail(until === "" ? "unexpected end" : `expected "${until}"`);
      if (peek().kind !== "ident") fail("expected a block or an attribute name");
      const line = peek().line;
      const name = dotted();
      if (peek().text === "=" && !name.includes(".")) {
        next();
        if (name in attributes) fail(`attribute "${name}" set twice`);
        attributes[name] = value();
        continue;
      }
      let label: string | undefined;
      if (peek().kind === "string") label = next().text;
      expect("{");
      const inner = body("}");
      expect("}");
      blocks.push({ name, label, ...inner, line });
    }
    return { attributes, blocks };
  }

  const top = body("");
  if (Object.keys(top.attributes).length > 0) fail("an attribute outside any block");
  return top.blocks;
}

/** Every block of `blocks`, nested ones included, depth first. */
export function allBlocks(blocks: readonly AlloyBlock[]): AlloyBlock[] {
  return blocks.flatMap((b) => [b, ...allBlocks(b.blocks)]);
}

/** Every reference anywhere in `v`. */
export function referencesIn(v: AlloyValue): string[] {
  if (v === null || typeof v !== "object") return [];
  if (Array.isArray(v)) return v.flatMap(referencesIn);
  if ("ref" in v && typeof v.ref === "string" && Object.keys(v).length === 1) return [v.ref];
  return Object.values(v as Record<string, AlloyValue>).flatMap(referencesIn);
}
