/**
 * Disposers run last-in first-out, each bounded: a neighbour's `disconnect()` can wait forever on
 * a server that was killed or hung, and the benchmark must still exit.
 */
export class Cleanup {
  readonly #disposers: Array<{ label: string; dispose: () => unknown }> = [];

  add(label: string, dispose: () => unknown): void {
    this.#disposers.push({ label, dispose });
  }

  /** Runs every disposer; returns the labels of those that failed or did not finish within `timeoutMs`. */
  async run(timeoutMs = 2_000): Promise<string[]> {
    const stuck: string[] = [];
    while (this.#disposers.length > 0) {
      const { label, dispose } = this.#disposers.pop() as { label: string; dispose: () => unknown };
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
      });
      try {
        const outcome = await Promise.race([Promise.resolve().then(dispose), timedOut]);
        if (outcome === 'timeout') stuck.push(`${label} (timed out)`);
      } catch (error) {
        stuck.push(`${label} (${(error as Error)?.message ?? String(error)})`);
      } finally {
        clearTimeout(timer);
      }
    }
    return stuck;
  }
}
