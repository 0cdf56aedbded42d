/**
 * The process's counters, rendered in the Prometheus text exposition format (version 0.0.4) by
 * `GET /metrics`. Counters live in process memory: each process (each `deno serve --parallel`
 * worker) counts what it served, and a scrape reads the process that answers it. Label values are
 * ids and reasons only, never names, addresses or anything an IdP sent.
 * @module
 */

/** A counter with labels. */
export interface Counter {
  /** Adds `n` (default 1) to the series of these label values. */
  inc(labels?: Record<string, string>, n?: number): void;
}

interface Family {
  name: string;
  help: string;
  type: "counter" | "gauge";
  series: Map<string, { labels: Record<string, string>; value: number }>;
}

const families = new Map<string, Family>();

function seriesKey(labels: Record<string, string>): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));
}

/** A counter of this process (created once per name). */
export function counter(name: string, help: string): Counter {
  let f = families.get(name);
  if (!f) families.set(name, f = { name, help, type: "counter", series: new Map() });
  const family = f;
  return {
    inc(labels = {}, n = 1) {
      const key = seriesKey(labels);
      const s = family.series.get(key);
      if (s) s.value += n;
      else family.series.set(key, { labels, value: n });
    },
  };
}

/** A gauge sample computed at scrape time. */
export interface GaugeSample {
  name: string;
  help: string;
  value: number;
  labels?: Record<string, string>;
}

function escapeLabel(v: string): string {
  return v.replaceAll("\\", "\\\\").replaceAll("\n", "\\n").replaceAll('"', '\\"');
}

function line(name: string, labels: Record<string, string>, value: number): string {
  const l = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) =>
    `${k}="${escapeLabel(v)}"`
  ).join(",");
  return `${name}${l ? `{${l}}` : ""} ${Number.isFinite(value) ? value : 0}`;
}

/** Every counter, then `gauges`, in the text format. */
export function renderMetrics(gauges: GaugeSample[] = []): string {
  const out: string[] = [];
  for (const f of [...families.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    out.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.series.values()) out.push(line(f.name, s.labels, s.value));
  }
  const byName = new Map<string, GaugeSample[]>();
  for (const g of gauges) byName.set(g.name, [...(byName.get(g.name) ?? []), g]);
  for (const [name, samples] of byName) {
    out.push(`# HELP ${name} ${samples[0].help}`, `# TYPE ${name} gauge`);
    for (const g of samples) out.push(line(name, g.labels ?? {}, g.value));
  }
  return out.join("\n") + "\n";
}
