// Loads the `--config` module: the same `{ categories, rules }` object the application gives
// `TieredStore({ ttl })`, so that the CLI classifies keys exactly as the application does.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { UsageError } from './errors.js';
import { type Categorizer, createCategorizer } from './keys.js';

/**
 * Imports `file` (an ES module, `.js` or `.mjs`) and builds a categorizer from its default export
 * or its named export `ttl`.
 * @throws {UsageError} when the file cannot be imported or does not export a valid object.
 */
export async function loadConfig(file: string): Promise<Categorizer> {
  const path = resolve(file);
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new UsageError(`Cannot load --config ${path}: ${reason}`, { cause: error });
  }
  const ttl = module.default ?? module.ttl;
  if (ttl === undefined) {
    throw new UsageError(
      `--config ${path} exports neither \`default\` nor \`ttl\`: export the { categories, rules } object`,
    );
  }
  try {
    return createCategorizer(ttl);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new UsageError(`Invalid --config ${path}: ${reason}`, { cause: error });
  }
}
