import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
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

  it('the CLI is executable after a build, for `npx keyv-failsafe` inside a checkout', () => {
    expect(statSync(join(process.cwd(), 'dist', 'cli.js')).mode & 0o111).toBe(0o111);
    expect(run([join(process.cwd(), 'dist', 'cli.js'), '--version'])).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("ships one copy of each class: an error from an integration is an instance of the main entry point's class", () => {
    const check =
      "const { createDashboard } = X('keyv-failsafe/dashboard'); const { InvalidOptionError, TieredStoreError } = X('keyv-failsafe');" +
      ' try { createDashboard({ observe() {} }, { historySeconds: -1 }) } catch (e) { console.log(e instanceof InvalidOptionError, e instanceof TieredStoreError) }';
    expect(run(['-e', check.replaceAll('X(', 'require(')])).toBe('true true');
    const esm = `const X = (m) => import(m); (async () => { const { createDashboard } = await X('keyv-failsafe/dashboard'); const { InvalidOptionError } = await X('keyv-failsafe'); try { createDashboard({ observe() {} }, { historySeconds: -1 }) } catch (e) { console.log(e instanceof InvalidOptionError) } })()`;
    expect(run(['--input-type=module', '-e', esm])).toBe('true');
  });

  it('loads with require', () => {
    const out = run([
      '-e',
      "const { TieredStore, InvalidOptionError } = require('keyv-failsafe'); try { new TieredStore({ primary: 1 }) } catch (e) { console.log(e instanceof InvalidOptionError, e.code) }",
    ]);
    expect(out).toBe('true E_INVALID_OPTION');
  });
});

/**
 * Writes `source` as an .mts and a .cts consumer in `dir` and runs tsc on them (module: nodenext);
 * throws, failing the test, with tsc's diagnostics if either does not type-check.
 */
function typeCheck(dir: string, source: string, options: Record<string, unknown>): void {
  writeFileSync(join(dir, 'esm.mts'), source);
  writeFileSync(join(dir, 'cjs.cts'), source);
  const compilerOptions = { module: 'nodenext', moduleResolution: 'nodenext', strict: true, noEmit: true, ...options };
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['esm.mts', 'cjs.cts'] }));
  run([join(process.cwd(), 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir]);
}

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
    // Throws, failing the test, with tsc's diagnostics if either consumer does not type-check.
    typeCheck(dir, source, { skipLibCheck: true, types: [] });
  });
});

/**
 * A consumer project with `keyv` at the given major: the package copied in (not linked, so that
 * its declarations resolve `keyv` from the consumer's node_modules, as they do once installed),
 * every other dependency linked from ours.
 */
function consumerWith(keyvDir: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'keyv-failsafe-consumer-'));
  const modules = join(dir, 'node_modules');
  mkdirSync(modules);
  const ours = join(process.cwd(), 'node_modules');
  for (const name of readdirSync(ours)) {
    if (name === 'keyv' || name === 'keyv6' || name.startsWith('.')) continue;
    symlinkSync(join(ours, name), join(modules, name), 'dir');
  }
  symlinkSync(join(ours, keyvDir), join(modules, 'keyv'), 'dir');
  const pkg = join(modules, 'keyv-failsafe');
  mkdirSync(pkg);
  cpSync(join(process.cwd(), 'package.json'), join(pkg, 'package.json'));
  cpSync(join(process.cwd(), 'dist'), join(pkg, 'dist'), { recursive: true });
  return dir;
}

describe('the README one-line switch type-checks with either Keyv major installed', () => {
  it.each([
    ['keyv 5', 'keyv'],
    ['keyv 6', 'keyv6'],
  ])('%s: an ES module and a CommonJS consumer', (_name, keyvDir) => {
    const dir = consumerWith(keyvDir);
    const source = [
      "import Keyv from 'keyv';",
      "import { TieredStore } from 'keyv-failsafe';",
      "const store = new TieredStore({ primary: 'redis://127.0.0.1:6379', keyLayout: 'keyv5' });",
      'const keyv = new Keyv({ store });',
      "export const done: Promise<boolean> = keyv.set('k', { a: 1 }, 1000);",
      'export const major: 5 | 6 | undefined = store.keyvMajor;',
    ].join('\n');
    // Declarations checked, not skipped: they must resolve against the consumer's keyv.
    typeCheck(dir, source, { types: ['node'] });
  });
});
