/** "Did you mean" for unknown keys. */

/** Edit distance with adjacent transpositions counting as one edit ("sevrers" is 1 from "servers"). */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        row.push(j);
        continue;
      }
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(
        (rows[i - 1]?.[j] ?? 0) + 1,
        (row[j - 1] ?? 0) + 1,
        (rows[i - 1]?.[j - 1] ?? 0) + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, (rows[i - 2]?.[j - 2] ?? 0) + 1);
      }
      row.push(best);
    }
    rows.push(row);
  }
  return rows[a.length]?.[b.length] ?? Math.max(a.length, b.length);
}

/** The known key `key` was most likely meant to be: within 2 edits, or sharing a prefix. */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  let best: { key: string; score: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(lower, candidate.toLowerCase());
    const shorter = Math.min(lower.length, candidate.length);
    const prefix = shorter >= 3 && (candidate.startsWith(lower) || lower.startsWith(candidate));
    // A prefix match ("health" for "healthcheck") ranks after any near miss.
    const score = distance <= 2 ? distance : prefix ? 3 : Number.POSITIVE_INFINITY;
    if (score !== Number.POSITIVE_INFINITY && (best === undefined || score < best.score)) {
      best = { key: candidate, score };
    }
  }
  return best?.key;
}

/** The hint for an unknown key: a suggestion, else the keys valid at that level. */
export function unknownKeyHint(key: string, known: readonly string[]): string {
  const suggestion = closestKey(key, known);
  if (suggestion !== undefined) return `did you mean ${JSON.stringify(suggestion)}?`;
  if (known.length > 0) return `valid keys here: ${known.join(", ")}`;
  return "remove this key";
}
