import type { Findings, PayloadName, Row } from './types.js';

/** One of the issue's targets, with the figure this run measured for it per payload. */
export interface Headline {
  readonly metric: string;
  readonly target: string;
  readonly values: Partial<Record<PayloadName, string>>;
}

function find(rows: readonly Row[], scenario: string, subject: string, payload: PayloadName, mode = 'sequential') {
  return rows.find((r) => r.scenario === scenario && r.subject === subject && r.payload === payload && r.mode === mode);
}

function pct(value: number): string {
  return `${value >= 0 ? '+' : ''}${value.toFixed(1)} %`;
}

type Extract = (payload: PayloadName) => string | undefined;

/** Fastest neighbour L1 hit p50 of a payload, the bar "5x faster than the neighbours" is set against. */
function fastestNeighbour(rows: readonly Row[], payload: PayloadName): Row | undefined {
  return rows
    .filter((r) => r.scenario === 'memory get' && r.role === 'neighbour' && r.payload === payload)
    .sort((a, b) => a.p50Us - b.p50Us)[0];
}

/** The ratios the issue sets targets for, computed from this run's rows and findings. */
export function headlines(rows: readonly Row[], findings: Findings, payloads: readonly PayloadName[]): Headline[] {
  const overhead =
    (subject: string): Extract =>
    (payload) => {
      const ours = find(rows, 'memory get', subject, payload);
      const base = find(rows, 'memory get', 'Keyv + lru-cache store', payload);
      return ours && base ? pct((ours.p50Us / base.p50Us - 1) * 100) : undefined;
    };
  const vsNeighbours =
    (subject: string): Extract =>
    (payload) => {
      const ours = find(rows, 'memory get', subject, payload);
      const best = fastestNeighbour(rows, payload);
      return ours && best ? `${(best.p50Us / ours.p50Us).toFixed(2)}× (vs ${best.subject})` : undefined;
    };
  const redis =
    (scenario: string, mode: string, field: 'p50Us' | 'opsPerSec'): Extract =>
    (payload) => {
      const ours = find(rows, scenario, 'TieredStore primary-first', payload, mode);
      const base = find(rows, scenario, 'Keyv + @keyv/redis', payload, mode);
      return ours && base ? `${(ours[field] / base[field]).toFixed(2)}×` : undefined;
    };
  const downP99 =
    (scenario: string): Extract =>
    (payload) => {
      const row = find(rows, scenario, 'TieredStore, Redis down', payload);
      return row ? `${row.p99Us.toFixed(1)} µs` : undefined;
    };
  const batch: Extract = (payload) => {
    const many = find(rows, 'batch get', `TieredStore getMany(100)`, payload);
    const single = find(rows, 'batch get', `TieredStore 100 × get`, payload);
    const counts = (findings.batchCalls as Array<{ payload: string; call: string; roundTrips: number }> | undefined)
      ?.filter((c) => c.payload === payload && c.call === 'getMany(100)')
      .map((c) => c.roundTrips);
    const trips = counts?.length ? `, ${counts[0]} round trip(s)` : '';
    return many && single ? `${(single.p50Us / many.p50Us).toFixed(1)}× faster${trips}` : undefined;
  };
  const hung = findings.hungRedis as
    | {
        payload: PayloadName;
        get: { worstMs: number; stoppedWaitingAfterMs: number | null; calls: number; waited: number };
      }
    | undefined;
  const hungValue: Extract = (payload) =>
    hung && hung.payload === payload
      ? `worst ${hung.get.worstMs} ms; ${hung.get.waited} of ${hung.get.calls} calls waited; ${
          hung.get.stoppedWaitingAfterMs === null
            ? 'calls never stopped waiting'
            : `calls stopped waiting ${hung.get.stoppedWaitingAfterMs} ms after SIGSTOP`
        }`
      : undefined;

  const list: Array<[string, string, Extract]> = [
    ['memory-first hit p50 vs Keyv + lru-cache store', '≤ +5 %', overhead('TieredStore memory-first')],
    ['fallback hit (Redis down) p50 vs Keyv + lru-cache store', '≤ +5 %', overhead('TieredStore, Redis down')],
    [
      'fastest neighbour L1 hit p50 ÷ memory-first hit p50',
      '≥ 5× with a faster mode',
      vsNeighbours('TieredStore memory-first'),
    ],
    [
      "same, with serialization: 'store'",
      '≥ 5× with a faster mode',
      vsNeighbours("TieredStore memory-first, serialization: 'store'"),
    ],
    ['primary-first get p50 ÷ Keyv + @keyv/redis (sequential)', '≤ 1.05×', redis('redis get', 'sequential', 'p50Us')],
    [
      'primary-first get ops/s ÷ Keyv + @keyv/redis (64 in flight)',
      '≥ 1×',
      redis('redis get', '64 in flight', 'opsPerSec'),
    ],
    ['primary-first set p50 ÷ Keyv + @keyv/redis (sequential)', '', redis('redis set', 'sequential', 'p50Us')],
    [
      'primary-first set ops/s ÷ Keyv + @keyv/redis (64 in flight)',
      '',
      redis('redis set', '64 in flight', 'opsPerSec'),
    ],
    ['Redis down: get p99', 'tens of µs', downP99('memory get')],
    ['Redis down: set p99', 'tens of µs', downP99('memory set')],
    ['getMany(100) vs 100 sequential gets', '≥ 10×, 1 round trip', batch],
    ['hung Redis, sequential gets', 'one deadline, then fast', hungValue],
  ];
  return list
    .map(([metric, target, extract]) => {
      const values: Partial<Record<PayloadName, string>> = {};
      for (const payload of payloads) {
        const value = extract(payload);
        if (value !== undefined) values[payload] = value;
      }
      return { metric, target, values };
    })
    .filter((headline) => Object.keys(headline.values).length > 0);
}
