import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type * as Api from '../../src/index.js';

/**
 * The package as users get it: the bundle in dist/ (the bench scripts build it first), not the
 * sources, whose tsx helpers cost the Redis path microseconds a call that no user pays; the
 * neighbours are measured from their published builds too. Types still come from the sources.
 */
const bundle = new URL('../../dist/index.js', import.meta.url);
if (!existsSync(fileURLToPath(bundle))) {
  throw new Error('dist/index.js is missing: run `npm run build` first (`npm run bench` does)');
}
export const pkg = (await import(bundle.href)) as typeof Api;
