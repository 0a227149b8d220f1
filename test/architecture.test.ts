import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// The layering, enforced: the core (src/) depends on the Primary port; adapters and integrations
// depend on the core's types only; one composition module knows the adapters.
// See docs/architecture.md.

const root = join(import.meta.dirname, '..');
const filesOf = (dir: string) =>
  readdirSync(join(root, dir))
    .filter((name) => name.endsWith('.ts'))
    .map((name) => `${dir}/${name}`);

interface Import {
  readonly file: string;
  readonly from: string;
  readonly typeOnly: boolean;
}

/** Every static import and re-export of a file (multi-line specifier lists included). */
function importsOf(file: string): Import[] {
  const source = readFileSync(join(root, file), 'utf8');
  const found: Import[] = [];
  for (const match of source.matchAll(/^(import|export)\s+(type\s+)?([^'";]*?)\s*from\s*'([^']+)'/gms)) {
    const clause = match[3] ?? '';
    // `import { type A, type B }` is type-only too.
    const allTyped =
      /^\{[^}]*\}$/s.test(clause) &&
      clause
        .slice(1, -1)
        .split(',')
        .every((s) => /^\s*(type\s|$)/.test(s));
    found.push({ file, from: match[4] as string, typeOnly: match[2] !== undefined || allTyped });
  }
  return found;
}

describe('architecture', () => {
  it('adapters and integrations import nothing but types from src/', () => {
    const offending = [...filesOf('adapters'), ...filesOf('integrations')]
      .flatMap(importsOf)
      .filter((i) => i.from.includes('/src/') && !i.typeOnly)
      .map((i) => `${i.file} imports ${i.from}`);
    expect(offending).toEqual([]);
  });

  it('integrations reach the core through the package entry point only', () => {
    const offending = filesOf('integrations')
      .flatMap(importsOf)
      .filter((i) => i.from.startsWith('.') && !i.from.startsWith('./'))
      .map((i) => `${i.file} imports ${i.from}`);
    expect(offending).toEqual([]);
  });

  it('in src/, only compose.ts knows the adapters', () => {
    const offending = filesOf('src')
      .flatMap(importsOf)
      .filter((i) => i.from.includes('/adapters/') && i.file !== 'src/compose.ts')
      .map((i) => `${i.file} imports ${i.from}`);
    expect(offending).toEqual([]);
  });

  it('no file in src/ is over 400 lines unless its top says why', () => {
    const long = filesOf('src').filter((file) => {
      const text = readFileSync(join(root, file), 'utf8');
      return text.split('\n').length > 400 && !/Over 400 lines because/.test(text.slice(0, 3_000));
    });
    expect(long).toEqual([]);
  });

  it('the checker itself sees imports (it cannot pass by seeing none)', () => {
    const store = importsOf('src/tiered-store.ts');
    expect(store.some((i) => i.from === './compose.js' && !i.typeOnly)).toBe(true);
    expect(importsOf('adapters/redis-primary.ts').some((i) => i.from === '../src/primary.js' && i.typeOnly)).toBe(true);
  });
});
