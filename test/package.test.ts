import { execFileSync } from 'node:child_process';
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
