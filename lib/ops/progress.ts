/**
 * What the data commands print: a progress line redrawn in place while the output is a terminal
 * (nothing otherwise, so logs stay clean), and a summary at the end (records per kind, bytes,
 * time).
 * @module
 */

/** Where the commands write. */
export interface Output {
  /** A line of the result (stdout). */
  line(text: string): void;
  /** Redraws the progress line (stderr, only on a terminal). */
  progress(text: string): void;
  /** Ends the progress line. */
  done(): void;
}

const encoder = new TextEncoder();

/** The process's own output: progress on stderr when it is a terminal. */
export function consoleOutput(): Output {
  const terminal = Deno.stderr.isTerminal();
  let last = 0;
  let shown = false;
  return {
    line(text) {
      // deno-lint-ignore no-console
      console.log(text);
    },
    progress(text) {
      if (!terminal) return;
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      shown = true;
      Deno.stderr.writeSync(encoder.encode(`\r\x1b[2K${text}`));
    },
    done() {
      if (shown) Deno.stderr.writeSync(encoder.encode("\r\x1b[2K"));
      shown = false;
    },
  };
}

/** "12.3 MiB", "512 KiB", "900 bytes". */
export function formatSize(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${bytes} bytes`;
}

/** "1,234,567". */
export function formatCount(n: number): string {
  return n.toLocaleString("en-US");
}

/** Seconds with one decimal. */
export function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Records per kind, most first, one `  kind  count` line each. */
export function kindLines(kinds: Map<string, number>): string[] {
  const rows = [...kinds].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const width = Math.max(0, ...rows.map(([k]) => k.length));
  return rows.map(([k, n]) => `  ${k.padEnd(width)}  ${formatCount(n).padStart(11)}`);
}
