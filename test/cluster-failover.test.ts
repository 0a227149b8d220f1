import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisCluster } from '../harness/redis-cluster.js';
import { describeRuns, type FailoverRun, failoverUnderLoad } from './helpers/failover.js';

// A cluster master killed (SIGKILL) under concurrent load, several times (each time another
// master; the killed node rejoins as a replica before the next run). The correctness properties
// are asserted per run (helpers/failover.ts); the timings are printed for the README, not asserted.
// Run by `npm run test:cluster` (about a minute), not by `npm test`.

const RUNS = 3;
let cluster: RedisCluster;
beforeAll(async () => {
  cluster = await RedisCluster.start();
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
});

describe('Redis Cluster: a master killed under load', () => {
  it(`is carried by the fallback and served from the promoted master again (${RUNS} runs)`, async () => {
    const runs: FailoverRun[] = [];
    for (let run = 0; run < RUNS; run++) {
      let killed: Awaited<ReturnType<RedisCluster['killMaster']>> | undefined;
      runs.push(
        await failoverUnderLoad(
          {
            primary: { cluster: { rootNodes: cluster.rootNodes } },
            kill: async () => {
              killed = await cluster.killMaster(run % 3);
              return killed;
            },
            promoted: (node) => cluster.waitForPromotion(node),
          },
          `failover${run}`,
        ),
      );
      if (killed) await cluster.restart(killed);
    }
    console.log(describeRuns('cluster failover', runs));
    expect(runs).toHaveLength(RUNS);
  }, 180_000);
});
