import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Environment variables that name a browser binary, first one set wins. */
const ENV_VARIABLES = ['KEYV_FAILSAFE_CHROMIUM', 'CHROME_PATH'] as const;
/** Looked up on the PATH, in this order. */
const COMMANDS = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable', 'chrome'];
/** Where the usual packages install one when it is not on the PATH. */
const USUAL_PATHS = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/snap/bin/chromium',
  '/usr/bin/google-chrome',
  '/opt/google/chrome/chrome',
  '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
  '/Applications/Chromium.app/Contents/MacOS/Chromium',
];

/** How to get a browser test to run, for skip and failure messages. */
export const BROWSER_HINT =
  'install Chromium (apt-get install chromium) or Chrome, or set KEYV_FAILSAFE_CHROMIUM=/path/to/chrome';

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Where a Chromium-based browser is, or why none was found. */
export type BrowserSearch = { readonly path: string } | { readonly path: undefined; readonly reason: string };

/**
 * Finds a Chromium or Chrome binary for playwright-core (which brings none): a path named by
 * `KEYV_FAILSAFE_CHROMIUM` or `CHROME_PATH` (which must then exist: a variable set to a wrong path
 * is a mistake to report, not a reason to look elsewhere), else the usual commands on the PATH,
 * else the usual install paths.
 */
export function findBrowser(env: NodeJS.ProcessEnv = process.env): BrowserSearch {
  for (const name of ENV_VARIABLES) {
    const path = env[name];
    if (path === undefined || path === '') continue;
    return executable(path) ? { path } : { path: undefined, reason: `${name}=${path} is not an executable file` };
  }
  const dirs = (env.PATH ?? '').split(delimiter).filter((dir) => dir !== '');
  for (const command of COMMANDS) {
    for (const dir of dirs) if (executable(join(dir, command))) return { path: join(dir, command) };
  }
  for (const path of USUAL_PATHS) if (executable(path)) return { path };
  return {
    path: undefined,
    reason: `no Chromium or Chrome on the PATH (${COMMANDS.join(', ')}) or in the usual places`,
  };
}

/**
 * True when a browser test must run rather than be skipped: CI says so with
 * `KEYV_FAILSAFE_REQUIRE_BROWSER=1` (`.ci/run` sets it), and any CI sets `CI`.
 */
export function browserRequired(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.KEYV_FAILSAFE_REQUIRE_BROWSER === '1' || (env.CI !== undefined && env.CI !== '' && env.CI !== 'false');
}
