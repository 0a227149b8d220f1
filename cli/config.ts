// Loads the `--config` file: the same `{ categories, rules }` object the application gives
// `TieredStore({ ttl })`, so that the CLI classifies keys exactly as the application does.
import { open } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Budget, DeadlineError } from './deadline.js';
import { UsageError } from './errors.js';
import { printableKey } from './format.js';
import { type Categorizer, createCategorizer } from './keys.js';

/** Largest `.json` config read: a table of categories and rules is a few kilobytes. */
export const JSON_CONFIG_MAX_BYTES = 1_048_576;

function reasonOf(error: unknown): string {
  try {
    return error instanceof Error ? error.message : String(error);
  } catch {
    // A thrown object whose toString throws: a hostile module gets no further than this.
    return 'a value that cannot be shown';
  }
}

/** The text of a `.json` config, read at most {@link JSON_CONFIG_MAX_BYTES} + 1 bytes far. */
async function readBounded(path: string): Promise<string> {
  const file = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(JSON_CONFIG_MAX_BYTES + 1);
    let length = 0;
    for (let read = -1; read !== 0 && length < buffer.length; length += read) {
      ({ bytesRead: read } = await file.read(buffer, length, buffer.length - length));
    }
    if (length > JSON_CONFIG_MAX_BYTES) throw new Error(`larger than ${JSON_CONFIG_MAX_BYTES} bytes`);
    return buffer.subarray(0, length).toString('utf8');
  } finally {
    await file.close();
  }
}

/** A `.json` config: data only, nothing runs (category functions need an ES module). */
async function loadJson(path: string): Promise<unknown> {
  const text = await readBounded(path);
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new Error(`not valid JSON (${reasonOf(error)})`);
  }
}

/** An ES module config: its default export, or its named export `ttl`. */
async function loadModule(path: string): Promise<unknown> {
  const module = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  const ttl = module.default ?? module.ttl;
  if (ttl === undefined)
    throw new Error('exports neither `default` nor `ttl`: export the { categories, rules } object');
  return ttl;
}

/**
 * Loads `file` and builds a categorizer from it. A `.json` file is parsed as data; any other file
 * is imported as an ES module (`.mjs`, or `.js` in a `"type": "module"` package), which runs its
 * code, as the application does: point `--config` only at files you would run.
 * @throws {UsageError} when the file cannot be read or imported in time, or does not hold a valid object.
 */
export async function loadConfig(file: string, budget: Budget): Promise<Categorizer> {
  const path = resolve(file);
  const shown = printableKey(path);
  let ttl: unknown;
  try {
    const loading = path.toLowerCase().endsWith('.json') ? loadJson(path) : loadModule(path);
    ttl = await budget.wait(loading, 'loading --config');
  } catch (error) {
    if (error instanceof DeadlineError) {
      throw new UsageError(`--config ${shown} did not finish loading within ${error.ms} ms (--max-time)`);
    }
    throw new UsageError(`Cannot load --config ${shown}: ${reasonOf(error)}`, { cause: error });
  }
  try {
    return createCategorizer(ttl);
  } catch (error) {
    throw new UsageError(`Invalid --config ${shown}: ${reasonOf(error)}`, { cause: error });
  }
}
