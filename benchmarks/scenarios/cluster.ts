import { RedisCluster } from '../../harness/redis-cluster.js';
import { tieredKeyv } from '../lib/libraries.js';
import { type Cleanup, measure } from '../lib/measure.js';
import { batchCalls } from './batches.js';
import { closeAll, measureGroup, preload, toRow } from './runner.js';
import { tiered } from './subjects.js';
import type { BenchContext, Row, Scenario } from './types.js';

const ns = (context: BenchContext, name: string): string => `bench-${context.runId}-${name}`;

/**
 * Redis Cluster (issue 12): the primary-first get and `getMany(100)` across slots through a real
 * loopback cluster (3 masters + 1 replica each, started here), against the same on the one server
 * the other Redis-path scenarios use. Full run only: six redis-servers take ~6 s to form a cluster.
 */
export const cluster: Scenario = {
  name: 'cluster',
  requires: 'own-redis',
  async run(context: BenchContext, cleanup: Cleanup) {
    if (context.quick) {
      context.progress('  cluster: full run only (six redis-servers to start)');
      return { rows: [] };
    }
    const deployment = await RedisCluster.start();
    cleanup.add('cluster', () => deployment.stop());
    const url = context.redisUrl as string;
    const onCluster = { primary: { cluster: { rootNodes: deployment.rootNodes } } };
    const clusterName = 'TieredStore primary-first, Redis Cluster (3 masters)';
    const oneName = 'TieredStore primary-first, one server';
    const subjects = [
      tiered(oneName, { primary: url }, ns(context, 'one')),
      tiered(clusterName, onCluster, ns(context, 'cluster')),
    ];
    cleanup.add('cluster subjects', () => closeAll(subjects));
    await preload(context, subjects);
    const modes = [
      { mode: 'sequential', inFlight: 1 },
      { mode: '64 in flight', inFlight: 64 },
    ] as const;
    const spec = { scenario: 'cluster get', operation: 'get', baseline: oneName, modes } as const;
    const rows: Row[] = await measureGroup(context, spec, subjects);
    // getMany(100): the keys fall in many slots, so on the cluster the batch is split by node.
    const timing = { ...context.timing, minOps: Math.min(context.timing.minOps, 10), inFlight: 1 };
    for (const payload of context.payloads) {
      for (const [name, options] of [
        [oneName, { primary: url }],
        [clusterName, onCluster],
      ] as const) {
        const { keyv } = tieredKeyv(options, ns(context, `cluster-batch-${payload}`));
        cleanup.add(`${name} batch`, () => keyv.disconnect());
        const { setMany, calls } = batchCalls(keyv, payload, `${context.runId}:cluster:${payload}`);
        await setMany();
        const getMany = calls.find(([call]) => call === 'getMany(100)')?.[1] as () => Promise<unknown>;
        const sample = await measure(getMany, timing);
        const baseline = `${oneName} getMany(100)`;
        const at = { scenario: 'cluster getMany', payload, mode: 'sequential', baseline } as const;
        const subject = { name: `${name} getMany(100)`, role: 'keyv-failsafe' } as const;
        rows.push(toRow(at, subject, sample, 'one op = 100 keys, across slots'));
        context.progress(`  cluster · ${payload} · ${subject.name}: p50 ${(sample.p50Us / 1e3).toFixed(2)} ms`);
      }
    }
    return { rows };
  },
};
