/**
 * Which trades may set a bar's prices and the last price, and which count in a bar's
 * volume, by their trade conditions (`c`) and tape (`z`), following Alpaca's own bars.
 *
 * Sources (each quoted in the README's Alpaca section; the current docs table could not
 * be retrieved):
 * - Price (open, high, low, close, VWAP, trade count, last price): the list of conditions
 *   "which would exclude a trade from being included in a bar" by Alpaca staff
 *   (forum.alpaca.markets/t/unstable-minute-bar-real-time-data-2022-03-30-googl/8996, and
 *   the article alpaca.markets/learn/stock-minute-bars): `B` (average price, CTS tapes A
 *   and B), `W` (average price, UTP tapes C and O), and on every tape `4` derivatively
 *   priced, `7` qualified contingent, `9` corrected consolidated close, `C` cash sale,
 *   `G` bunched sold, `H` price variation, `I` odd lot, `M` market center official close,
 *   `N` next day, `P` prior reference price, `Q` market center official open, `R` seller,
 *   `T` Form T (extended hours).
 * - UNCERTAIN: that list is cut off in the only copy found after `T`. `U` (extended hours
 *   sold out of sequence), `V` (contingent) and `Z` (sold out of sequence) are added here
 *   because the UTP specification's open/close exclusions as a forum user quoted them
 *   (forum t/13850) and a third-party encoding of the article list both carry them.
 *   Alpaca staff also say the article is out of date and the docs' Market Data FAQ holds
 *   the current table (forum t/18440); a secondary encoding of that FAQ excludes from
 *   prices only `I`, `4` and `W`. We keep the longer staff list: a print left out of a bar
 *   costs less than an odd lot or a stale official close setting the last price.
 * - Volume: `M`, `Q` and `9` (official close/open and corrected close repeat volume that
 *   already printed) are left out of volume (UTP specification as quoted in forum t/13850;
 *   the same three in the secondary FAQ encoding). Every other trade counts in volume,
 *   odd lots included.
 * - Trades without conditions (crypto, the sim) are eligible for everything.
 * @module
 */

/** Conditions that keep a trade out of bar prices on every tape. */
export const PRICE_EXCLUDED = new Set([
  "4",
  "7",
  "9",
  "C",
  "G",
  "H",
  "I",
  "M",
  "N",
  "P",
  "Q",
  "R",
  "T",
  // INFERRED: the staff list is cut off after "T"; see the module comment.
  "U",
  "V",
  "Z",
]);
/** Conditions that keep a trade out of bar volume. */
export const VOLUME_EXCLUDED = new Set(["M", "Q", "9"]);

/** What a trade may count in. */
export interface Eligibility {
  /** It may set a bar's open, high, low, close and the last price. */
  readonly price: boolean;
  /** Its size counts in a bar's volume. */
  readonly volume: boolean;
}

const ELIGIBLE: Eligibility = Object.freeze({ price: true, volume: true });

/**
 * The eligibility of a trade with `conditions` on `tape` (A, B: CTS; C, O: UTP; unknown:
 * both tape-specific rules apply).
 *
 * @example
 * ```ts
 * eligibility(["@", "I"], "C"); // { price: false, volume: true }: an odd lot
 * eligibility(["B"], "C");      // { price: true, volume: true }: B is average price on CTS only
 * ```
 */
export function eligibility(
  conditions: readonly string[] | undefined,
  tape: string | undefined,
): Eligibility {
  if (conditions === undefined || conditions.length === 0) return ELIGIBLE;
  let price = true;
  let volume = true;
  const cts = tape !== "C" && tape !== "O";
  const utp = tape !== "A" && tape !== "B";
  for (const condition of conditions) {
    if (
      PRICE_EXCLUDED.has(condition) || (cts && condition === "B") || (utp && condition === "W")
    ) {
      price = false;
    }
    if (VOLUME_EXCLUDED.has(condition)) volume = false;
  }
  return price && volume ? ELIGIBLE : { price, volume };
}
