// Builds the package: one ESM and one CommonJS bundle of src/ and adapters/ (dependencies stay
// external), and declarations from tsc. Bundling keeps `require()` users on Node 20 < 20.19 working
// without shipping two trees of files.
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, rmSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

rmSync('dist', { recursive: true, force: true });
const common = { entryPoints: ['src/index.ts'], bundle: true, platform: 'node', target: 'node20', packages: 'external', sourcemap: true };
await build({ ...common, format: 'esm', outfile: 'dist/index.js' });
await build({ ...common, format: 'cjs', outfile: 'dist/index.cjs' });
// Exporters and the dashboard: entry points of their own, so that their optional peer dependencies
// (prom-client, @opentelemetry/api) are loaded only by those who import them.
for (const exporter of ['prometheus', 'opentelemetry', 'dashboard']) {
  // `keyv-failsafe` stays an import of the package's own entry point (tsconfig's `paths` would
  // otherwise inline the core): one copy of every class, so `instanceof` holds across entry points.
  const entry = { ...common, entryPoints: [`integrations/${exporter}.ts`], external: ['keyv-failsafe'] };
  await build({ ...entry, format: 'esm', outfile: `dist/${exporter}.js` });
  await build({ ...entry, format: 'cjs', outfile: `dist/${exporter}.cjs` });
}
// The operator's CLI (`npx keyv-failsafe`), ESM with a shebang.
await build({
  ...common,
  entryPoints: ['cli/index.ts'],
  format: 'esm',
  outfile: 'dist/cli.js',
  banner: { js: '#!/usr/bin/env node' },
});
// npm sets the executable bit for installed users only; `npx keyv-failsafe` in a checkout needs it too.
chmodSync('dist/cli.js', 0o755);
execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
// The same declarations for `require()` users: under a CommonJS package scope TypeScript reads
// them as CommonJS, instead of reporting that an ES module cannot be required.
cpSync('dist/types', 'dist/types-cjs', { recursive: true });
writeFileSync('dist/types-cjs/package.json', '{ "type": "commonjs" }\n');
