/**
 * Progress of an IdP connection's deletion: each phase with its counts, polled while it runs.
 * Without JavaScript the page shows the progress at load time and a refresh link.
 * @module
 */
import { useEffect, useState } from "preact/hooks";
import type { IdpDeletion } from "../lib/store/idp_deletion.ts";
import { formatTime } from "./_format.ts";

/** Props of {@linkcode DeletionProgress}. */
export interface DeletionProgressProps {
  job: IdpDeletion;
  /** Where the job's status is read (JSON). */
  url: string;
}

const PHASES = [
  ["users", "Deprovisioning users"],
  ["groups", "Deleting groups"],
  ["tokens", "Deleting tokens"],
  ["records", "Removing settings"],
] as const;

/** The deletion's progress, kept current while it runs. */
export default function DeletionProgress(props: DeletionProgressProps) {
  const [job, setJob] = useState(props.job);
  const running = job.phase !== "done";
  useEffect(() => {
    if (!running) return;
    const timer = setInterval(async () => {
      try {
        const res = await fetch(props.url, { headers: { accept: "application/json" } });
        if (res.ok) setJob(await res.json() as IdpDeletion);
      } catch {
        // keep the last known progress; the next tick retries
      }
    }, 1000);
    return () => clearInterval(timer);
  }, [running]);
  const at = PHASES.findIndex(([p]) => p === job.phase);
  const max = Math.max(job.users.total + job.groups.total, 1);
  const done = job.phase === "done" ? max : job.users.done + job.groups.done;
  return (
    <div id="deletion-status" role="status" aria-live="polite">
      <progress max={max} value={Math.min(done, max)}>{done} of {max}</progress>
      <ol class="phases">
        {PHASES.map(([phase, label], i) => (
          <li
            key={phase}
            class={job.phase === "done" || i < at ? "done" : i === at ? "current" : ""}
          >
            {label}
            {phase === "users" && ` (${job.users.done} of ${job.users.total})`}
            {phase === "groups" && ` (${job.groups.done} of ${job.groups.total})`}
            {phase === "tokens" && job.tokens > 0 && ` (${job.tokens})`}
          </li>
        ))}
      </ol>
      <p>
        {running
          ? (
            <>
              Deleting… <a href="">Refresh</a>
            </>
          )
          : `Deleted ${job.finishedAt ? formatTime(job.finishedAt) : ""}.`}
      </p>
    </div>
  );
}
