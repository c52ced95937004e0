// Numbers and tables as deploy-cli prints them for people (--json prints them raw).

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Left-aligned columns, two spaces apart; the last column is not padded. */
export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) {
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, cell.length);
  }
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!)))
        .join("  ")
        .trimEnd(),
    )
    .map((line) => `${line}\n`)
    .join("");
}

/**
 * Runs `work` after printing `label` on stderr. On a terminal the line counts the seconds while
 * the work runs, so a long build is seen to be alive; elsewhere (logs, CI) it is printed once.
 */
export async function withElapsed<T>(label: string, work: () => Promise<T>): Promise<T> {
  const err = process.stderr;
  if (!err.isTTY) {
    err.write(`${label}\n`);
    return await work();
  }
  const started = performance.now();
  const draw = () => err.write(`\r${label} ${formatSeconds(performance.now() - started)}\x1b[K`);
  draw();
  const timer = setInterval(draw, 500);
  try {
    return await work();
  } finally {
    clearInterval(timer);
    err.write(`\r${label}\x1b[K\n`);
  }
}

export type Paint = (text: string) => string;
export interface Colours {
  red: Paint;
  yellow: Paint;
  green: Paint;
}

/** ANSI colours for `stream` when it is a terminal and NO_COLOR is unset; plain text otherwise. */
export function colours(stream: { isTTY?: boolean }): Colours {
  const on = stream.isTTY === true && !process.env.NO_COLOR;
  const paint =
    (open: number, close: number): Paint =>
    (text) =>
      on ? `\x1b[${open}m${text}\x1b[${close}m` : text;
  return { red: paint(31, 39), yellow: paint(33, 39), green: paint(32, 39) };
}

/** A response status in the colour of its class: 5xx red, 4xx yellow, the rest green. */
export function paintStatus(status: number, c: Colours): string {
  return (status >= 500 ? c.red : status >= 400 ? c.yellow : c.green)(String(status));
}
