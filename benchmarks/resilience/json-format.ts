/** The line width Biome formats this repository to. */
const LINE_WIDTH = 120;

function isPrimitive(value: unknown): boolean {
  return value === null || typeof value !== 'object';
}

/**
 * JSON laid out as Biome formats it (objects one key per line, short arrays of primitives on one
 * line), so the committed results pass `biome check` as written.
 */
export function formatJson(value: unknown): string {
  return `${format(value, '', 0)}\n`;
}

/** `prefixLength`: characters before the value on its line (indent, key), to decide if it fits. */
function format(value: unknown, indent: string, prefixLength: number): string {
  if (isPrimitive(value)) return JSON.stringify(value) ?? 'null';
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    if (value.every(isPrimitive)) {
      const inline = `[${value.map((item) => JSON.stringify(item) ?? 'null').join(', ')}]`;
      // The trailing comma of a following entry counts against the width too.
      if (prefixLength + inline.length + 1 <= LINE_WIDTH) return inline;
    }
    const items = value.map((item) => `${inner}${format(item, inner, inner.length)}`);
    return `[\n${items.join(',\n')}\n${indent}]`;
  }
  const entries = Object.entries(value as Record<string, unknown>).filter(([, item]) => item !== undefined);
  if (entries.length === 0) return '{}';
  const lines = entries.map(([key, item]) => {
    const head = `${inner}${JSON.stringify(key)}: `;
    return `${head}${format(item, inner, head.length)}`;
  });
  return `{\n${lines.join(',\n')}\n${indent}}`;
}
