// The package as users install it, under each Keyv major: `npm pack`, then an empty project per
// major runs `npm install keyv@<major> <tarball>`, which must resolve cleanly (no ERESOLVE, no peer
// warning, `npm ls --all` clean), and the README's one-line switch must work against a real
// redis-server, the key landing where plain Keyv + @keyv/redis of that major puts it.
//
//   npx tsx scripts/pack-smoke.mjs [--node22 /path/to/node]   (after `npm run build`; CI runs it)
//
// Keyv 6 declares Node 22.19+: its project runs on --node22 when given (npm itself included), so
// that an engine warning is not mistaken for a resolution problem. Needs the npm registry.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const root = join(dirname(new URL(import.meta.url).pathname), '..');
const npmCli = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');
const node22 = process.argv.includes('--node22') ? process.argv[process.argv.indexOf('--node22') + 1] : undefined;

function npm(node, args, cwd) {
  // stderr and stdout together: npm prints its warnings on stderr.
  return execFileSync(node, [npmCli, ...args], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function npmAll(node, args, cwd) {
  try {
    const out = execFileSync(node, [npmCli, ...args], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return { code: 0, out };
  } catch (error) {
    return { code: error.status ?? 1, out: `${error.stdout ?? ''}${error.stderr ?? ''}` };
  }
}

const tarball = join(root, npm(process.execPath, ['pack', '--silent'], root).trim().split('\n').pop());
// The shared harness's launcher (free port, never 6379, checked to be our own process).
const { RedisServer } = await import('../harness/redis-server.ts');
const redis = await RedisServer.start();
const failures = [];
try {
  for (const [major, node, expectedKey] of [
    [5, process.execPath, 'keyv::keyv:smoke'],
    [6, node22 ?? process.execPath, 'smoke'],
  ]) {
    const dir = mkdtempSync(join(tmpdir(), `keyv-failsafe-smoke-${major}-`));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'smoke', private: true, type: 'module' }));
    const install = npmAll(node, ['install', '--no-audit', '--no-fund', `keyv@${major}`, tarball], dir);
    const problems = install.out.split('\n').filter((line) => /ERESOLVE|peer|invalid/i.test(line));
    if (install.code !== 0 || problems.length > 0) failures.push(`keyv ${major}: npm install: ${problems.join(' | ') || install.out}`);
    const ls = npmAll(node, ['ls', '--all'], dir);
    // Optional peers nobody installed (prom-client, @opentelemetry/api) are fine; anything else is not.
    if (ls.code !== 0 || /invalid|UNMET (?!OPTIONAL)/i.test(ls.out)) failures.push(`keyv ${major}: npm ls --all:\n${ls.out}`);
    // The README's one-line switch, then where the key is.
    writeFileSync(
      join(dir, 'switch.mjs'),
      [
        "import Keyv from 'keyv';",
        "import { createClient } from '@redis/client';",
        "import { TieredStore } from 'keyv-failsafe';",
        'const url = process.argv[2];',
        'const keyv = new Keyv({ store: new TieredStore({ primary: url }) });',
        "await keyv.set('smoke', { ok: true }, 60_000);",
        "const value = await keyv.get('smoke');",
        'const raw = createClient({ url });',
        'await raw.connect();',
        'const keys = await raw.keys("*");',
        'await raw.flushAll();',
        'await raw.quit();',
        'await keyv.disconnect();',
        'console.log(JSON.stringify({ value, keys }));',
      ].join('\n'),
    );
    const out = execFileSync(node, ['switch.mjs', redis.url], { cwd: dir, encoding: 'utf8' });
    const { value, keys } = JSON.parse(out.trim().split('\n').pop());
    if (value?.ok !== true) failures.push(`keyv ${major}: the one-line switch read back ${JSON.stringify(value)}`);
    if (JSON.stringify(keys) !== JSON.stringify([expectedKey])) {
      failures.push(`keyv ${major}: Redis holds ${JSON.stringify(keys)}, plain Keyv ${major} + @keyv/redis writes ${expectedKey}`);
    }
    console.log(`keyv ${major} (node ${execFileSync(node, ['--version'], { encoding: 'utf8' }).trim()}): installed cleanly, switch works, key ${keys[0]}`);
    rmSync(dir, { recursive: true, force: true });
  }
} finally {
  await redis.stop();
  rmSync(tarball, { force: true });
}
if (failures.length > 0) {
  console.error(failures.join('\n'));
  process.exit(1);
}
