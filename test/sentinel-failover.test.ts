import { describe, expect, it } from 'vitest';
import { RedisSentinelDeployment } from '../harness/redis-sentinel.js';
import { describeRuns, type FailoverRun, failoverUnderLoad } from './helpers/failover.js';

// The Sentinel primary killed (SIGKILL) under concurrent load, several times, each on a fresh
// deployment (see harness/redis-sentinel.ts: one failover per deployment). The correctness
// properties are asserted per run (helpers/failover.ts); the timings are printed for the README.
// Run by `npm run test:cluster`, not by `npm test`.

const RUNS = 3;

describe('Sentinel: the primary killed under load', () => {
  it(`is carried by the fallback and served from the promoted replica again (${RUNS} runs)`, async () => {
    const runs: FailoverRun[] = [];
    for (let run = 0; run < RUNS; run++) {
      const deployment = await RedisSentinelDeployment.start();
      try {
        runs.push(
          await failoverUnderLoad(
            {
              primary: { sentinel: { name: deployment.name, sentinelRootNodes: deployment.sentinelRootNodes } },
              kill: () => deployment.killPrimary(),
              promoted: (node) => deployment.waitForPromotion(node),
            },
            `failover${run}`,
          ),
        );
      } finally {
        await deployment.stop();
      }
    }
    console.log(describeRuns('sentinel failover', runs));
    expect(runs).toHaveLength(RUNS);
  }, 180_000);
});
