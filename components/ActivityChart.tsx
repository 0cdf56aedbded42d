/**
 * An IdP's activity as a bar per day, in HTML (no script, no inline style: bar heights are
 * classes in steps of 5 %), so it stays readable at a phone's width. Each day is labelled, shows
 * its count, and says in its title when its busiest hour was; a screen reader gets the same as
 * a list.
 * @module
 */
import type { Activity } from "../lib/store/idp_stats.ts";
import { plural } from "../islands/_format.ts";

const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** One day of the chart. */
export interface ActivityDay {
  /** `2026-12-02` (UTC). */
  date: string;
  /** `Wed 2 Dec`. */
  label: string;
  count: number;
  /** The busiest hour of the day (`14:00–15:00 UTC`) and its count, when there was activity. */
  peak?: { hour: string; count: number };
}

/** Folds hourly counts into UTC days, oldest first. */
export function activityDays(activity: Activity): ActivityDay[] {
  const days = new Map<string, ActivityDay>();
  activity.hours.forEach((iso, i) => {
    const date = iso.slice(0, 10);
    let day = days.get(date);
    if (!day) {
      const d = new Date(`${date}T00:00:00Z`);
      day = {
        date,
        label: `${WEEKDAYS[d.getUTCDay()]} ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]}`,
        count: 0,
      };
      days.set(date, day);
    }
    const c = activity.counts[i] ?? 0;
    day.count += c;
    if (c > 0 && c > (day.peak?.count ?? 0)) {
      const h = Number(iso.slice(11, 13));
      const hh = (n: number) => String(n % 24).padStart(2, "0");
      day.peak = { hour: `${hh(h)}:00–${hh(h + 1)}:00 UTC`, count: c };
    }
  });
  return [...days.values()];
}

/** The chart of an IdP's activity. */
export function ActivityChart({ activity, label }: { activity: Activity; label: string }) {
  const days = activityDays(activity);
  const max = Math.max(1, ...days.map((d) => d.count));
  const total = days.reduce((a, d) => a + d.count, 0);
  const describe = (d: ActivityDay) =>
    `${d.label}: ${plural(d.count, "event")}` +
    (d.peak ? `, most at ${d.peak.hour} (${plural(d.peak.count, "event")})` : "");
  return (
    <figure class="chart" aria-label={label}>
      <ol class="chart-days">
        {days.map((d) => (
          <li key={d.date} title={describe(d)} data-date={d.date} data-count={d.count}>
            <span class="visually-hidden">{describe(d)}</span>
            <span class="chart-count" aria-hidden="true">{d.count.toLocaleString("en-US")}</span>
            <span class="chart-track" aria-hidden="true">
              <span class={`chart-bar h${Math.ceil((d.count / max) * 20) * 5}`} />
            </span>
            <span class="chart-day" aria-hidden="true">{d.label}</span>
          </li>
        ))}
      </ol>
      <figcaption>
        {plural(total, "event")} in the last {plural(Math.round(activity.hours.length / 24), "day")}
        {days[0] && ` (since ${days[0].label}, ${activity.hours[0].slice(11, 13)}:00 UTC)`}, by UTC
        day.
        {activity.capped && " Only the newest events were counted."}
      </figcaption>
    </figure>
  );
}
