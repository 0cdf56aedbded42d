/**
 * Events per hour as a server-rendered SVG bar chart (no script, no inline style), with a text
 * summary and a table fallback for screen readers.
 * @module
 */
import type { Activity } from "../lib/store/idp_stats.ts";

/** The chart of an IdP's activity. */
export function ActivityChart({ activity, label }: { activity: Activity; label: string }) {
  const { counts, hours } = activity;
  const max = Math.max(1, ...counts);
  const w = 840;
  const h = 160;
  const pad = 24;
  const barW = (w - pad) / counts.length;
  const total = counts.reduce((a, b) => a + b, 0);
  const days = hours.filter((_, i) => i % 24 === 0);
  return (
    <figure class="chart">
      <svg
        viewBox={`0 0 ${w} ${h + 20}`}
        role="img"
        aria-label={`${label}: ${total} events in the last ${
          counts.length / 24
        } days, at most ${max} in one hour`}
      >
        <line x1={pad} y1={h} x2={w} y2={h} class="axis" />
        <text x="0" y="12" class="tick">{max}</text>
        <text x="0" y={h} class="tick">0</text>
        {counts.map((c, i) =>
          c > 0
            ? (
              <rect
                key={i}
                x={pad + i * barW}
                y={h - (c / max) * (h - 16)}
                width={Math.max(1, barW - 1)}
                height={(c / max) * (h - 16)}
                class="bar"
              >
                <title>{`${hours[i].slice(0, 13).replace("T", " ")}:00 UTC — ${c} events`}</title>
              </rect>
            )
            : null
        )}
        {days.map((d, i) => (
          <text key={d} x={pad + i * 24 * barW} y={h + 16} class="tick">{d.slice(5, 10)}</text>
        ))}
      </svg>
      <figcaption>
        {total} events in the last {counts.length / 24} days (UTC hours).
        {activity.capped && " Only the newest events were counted."}
      </figcaption>
    </figure>
  );
}
