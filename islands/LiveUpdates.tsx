/**
 * Keeps a page current: follows the live stream of its scope (an IdP, a user, or the tenant) and,
 * when an event lands, fetches the page again and swaps in each section marked `data-live`, then
 * tells the page's other islands (`weft:live`). Without JavaScript the page stays a plain page.
 * @module
 */
import { useEffect, useState } from "preact/hooks";

/** Props of {@linkcode LiveUpdates}. */
export interface LiveUpdatesProps {
  /** The stream to follow, e.g. `/admin/api/live?idp=…`. */
  stream: string;
}

async function swapLiveSections(): Promise<void> {
  const res = await fetch(location.href, { headers: { accept: "text/html" } });
  if (!res.ok) return;
  const next = new DOMParser().parseFromString(await res.text(), "text/html");
  for (const el of document.querySelectorAll<HTMLElement>("[data-live]")) {
    const fresh = next.querySelector<HTMLElement>(`[data-live="${CSS.escape(el.dataset.live!)}"]`);
    if (!fresh || fresh.innerHTML === el.innerHTML) continue;
    el.replaceChildren(...Array.from(fresh.childNodes).map((n) => document.importNode(n, true)));
    dispatchEvent(new CustomEvent("weft:swapped", { detail: el }));
  }
}

/** A small "live" indicator, and the work of keeping the page current. */
export default function LiveUpdates(props: LiveUpdatesProps) {
  const [state, setState] = useState<"connecting" | "live" | "offline">("connecting");
  useEffect(() => {
    const source = new EventSource(props.stream);
    source.addEventListener("ready", () => setState("live"));
    source.addEventListener("changed", async (e) => {
      dispatchEvent(new CustomEvent("weft:live", { detail: (e as MessageEvent).data }));
      await swapLiveSections().catch(() => {});
    });
    source.onerror = () => setState("offline");
    return () => source.close();
  }, [props.stream]);
  return (
    <span class={`live-badge ${state}`} role="status" aria-live="polite" data-live-state={state}>
      {state === "live" ? "● Live" : state === "offline" ? "○ Reconnecting…" : "○ Connecting…"}
    </span>
  );
}
