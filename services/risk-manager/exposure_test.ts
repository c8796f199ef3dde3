import assert from "node:assert/strict";
import { type SymbolExposure, worstCaseExposure, WorstCaseSums } from "./exposure.ts";

Deno.test("worstCaseExposure() counts every symbol's open orders at their worst", () => {
  assert.deepEqual(
    worstCaseExposure([
      { qty: 0, buy: 10, sell: 0, price: 100 },
      { qty: 0, buy: 0, sell: 2, price: 400 },
    ]),
    { gross: 1800, net: 1000 },
  );
});

Deno.test("worstCaseExposure() takes the larger side of a symbol with orders both ways", () => {
  // Long 5: buying 10 makes 15, selling 30 makes -25; net worst is every sell filling.
  assert.deepEqual(worstCaseExposure([{ qty: 5, buy: 10, sell: 30, price: 10 }]), {
    gross: 250,
    net: -250,
  });
  assert.deepEqual(worstCaseExposure([]), { gross: 0, net: 0 });
});

Deno.test("WorstCaseSums: the others' sums copied, then one symbol added, equal worstCaseExposure over all", () => {
  // A fixed pseudo-random book (LCG), so a failure repeats: 200 books of 1-6 symbols.
  let seed = 12345;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const others = new WorstCaseSums();
  const withOwn = new WorstCaseSums();
  for (let book = 0; book < 200; book++) {
    const rows: SymbolExposure[] = Array.from({ length: 1 + Math.floor(next() * 6) }, () => ({
      qty: Math.round((next() - 0.5) * 200),
      buy: Math.round(next() * 50),
      sell: Math.round(next() * 50),
      price: 1 + Math.round(next() * 50_000) / 100,
    }));
    const own = rows[Math.floor(next() * rows.length)];
    others.reset();
    for (const r of rows) if (r !== own) others.add(r.qty, r.buy, r.sell, r.price);
    const before = { gross: others.gross, up: others.up, down: others.down };
    withOwn.copy(others).add(own.qty, own.buy, own.sell, own.price);
    const want = worstCaseExposure(rows);
    const tolerance = 1e-9 * Math.max(1, want.gross);
    assert.ok(Math.abs(withOwn.gross - want.gross) <= tolerance, `book ${book}: gross`);
    assert.ok(Math.abs(withOwn.net - want.net) <= tolerance, `book ${book}: net`);
    // copy() took a snapshot: adding to the copy left the others' sums as they were.
    assert.deepEqual({ gross: others.gross, up: others.up, down: others.down }, before);
  }
});

Deno.test("WorstCaseSums.reset() starts again from no symbols", () => {
  const sums = new WorstCaseSums().add(3, 1, 0, 10);
  assert.equal(sums.gross, 40);
  sums.reset().add(0, 0, 2, 400);
  assert.deepEqual([sums.gross, sums.up, sums.down, sums.net], [800, 0, -800, -800]);
});
