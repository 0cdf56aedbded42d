/**
 * Progress of "re-apply mirroring to all users": a progress bar that polls the job's status
 * while it runs. Without JavaScript the page shows the progress at load time and a refresh link.
 * @module
 */
import { useEffect, useState } from "preact/hooks";
import type { MirroringJob } from "../lib/store/mirroring_job.ts";
import { formatTime, plural } from "./_format.ts";

/** Props of {@linkcode ReapplyProgress}. */
export interface ReapplyProgressProps {
  job: MirroringJob | null;
}

/** The job's progress, kept current while it runs. */
export default function ReapplyProgress(props: ReapplyProgressProps) {
  const [job, setJob] = useState(props.job);
  const running = job?.state === "running";
  useEffect(() => {
    if (!running) return;
    const timer = setInterval(async () => {
      try {
        const res = await fetch("/admin/api/mirroring/job", {
          headers: { accept: "application/json" },
        });
        if (res.ok) setJob(await res.json() as MirroringJob);
      } catch {
        // keep the last known progress; the next tick retries
      }
    }, 1000);
    return () => clearInterval(timer);
  }, [running]);
  if (!job) return <p class="muted" id="reapply-status">Never re-applied.</p>;
  const max = Math.max(job.total, job.processed, 1);
  return (
    <div id="reapply-status" role="status" aria-live="polite">
      <progress max={max} value={job.state === "done" ? max : job.processed}>
        {job.processed} of {max}
      </progress>
      <p>
        {job.state === "running" ? "Re-applying… " : "Finished. "}
        {plural(job.processed, "user")} processed, {job.changed} changed
        {job.skipped ? `, ${job.skipped} skipped (no longer linked to their IdP)` : ""}.
        {job.state === "done" && job.finishedAt ? ` ${formatTime(job.finishedAt)}.` : ""}
        {job.state === "running" && (
          <>
            <a href="/admin/settings/mirroring">Refresh</a>
          </>
        )}
      </p>
    </div>
  );
}
