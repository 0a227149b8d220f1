import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// The built package, as consumers load it: `npm test` builds dist/ before running this.
const run = (args: string[]) => execFileSync(process.execPath, args, { encoding: 'utf8' }).trim();

describe('the published entry points (run `npm run build` first; `npm test` does)', () => {
  it('loads with import', () => {
    const out = run([
      '--input-type=module',
      '-e',
      "import { TieredStore, defineTtlCategories } from 'keyv-failsafe'; console.log(typeof TieredStore, defineTtlCategories({ a: '1s' }).a)",
    ]);
    expect(out).toBe('function 1000');
  });

  it('loads with require', () => {
    const out = run([
      '-e',
      "const { TieredStore, InvalidOptionError } = require('keyv-failsafe'); try { new TieredStore({ primary: 1 }) } catch (e) { console.log(e instanceof InvalidOptionError, e.code) }",
    ]);
    expect(out).toBe('true E_INVALID_OPTION');
  });
});

describe('the published type declarations', () => {
  it('type-check for an ES module and a CommonJS consumer (module: nodenext)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyv-failsafe-consumer-'));
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(process.cwd(), join(dir, 'node_modules', 'keyv-failsafe'), 'dir');
    const source = [
      "import { TieredStore, defineTtlCategories, type TieredStoreStats } from 'keyv-failsafe';",
      "const ttl = defineTtlCategories({ price: '30s' });",
      "const store = new TieredStore({ primary: 'redis://127.0.0.1:6379', ttl: { categories: ttl, rules: [{ prefix: 'p:', category: 'price' }] } });",
      'const stats: TieredStoreStats = store.stats();',
      'export { stats };',
    ].join('\n');
    writeFileSync(join(dir, 'esm.mts'), source);
    writeFileSync(join(dir, 'cjs.cts'), source);
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: [],
        },
        files: ['esm.mts', 'cjs.cts'],
      }),
    );
    // Throws, failing the test, with tsc's diagnostics if either consumer does not type-check.
    run([join(process.cwd(), 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir]);
  });
});
