import type { Row } from './types.js';

/** Fills `p50Ratio` and `opsRatio` of every row that names a baseline measured in the same run. */
export function applyRatios(rows: Row[]): void {
  for (const row of rows) {
    if (row.baseline === undefined) continue;
    const base = rows.find(
      (r) =>
        r.scenario === row.scenario && r.payload === row.payload && r.mode === row.mode && r.subject === row.baseline,
    );
    if (base === undefined) continue;
    row.p50Ratio = row.p50Us / base.p50Us;
    row.opsRatio = row.opsPerSec / base.opsPerSec;
  }
}
