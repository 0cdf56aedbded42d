/**
 * A copy-to-clipboard button for a value shown next to it. Without JavaScript the button stays
 * disabled and the value remains selectable text.
 * @module
 */
import { useEffect, useRef, useState } from "preact/hooks";

/** Props of {@linkcode CopyButton}. */
export interface CopyButtonProps {
  text: string;
  /** What is copied, for the accessible name ("Copy SCIM base URL"). */
  label: string;
  /** Takes the focus as soon as it can be used (a secret shown once). */
  autoFocus?: boolean;
}

/** Copies `text` and says so for two seconds. */
export default function CopyButton({ text, label, autoFocus }: CopyButtonProps) {
  const [ready, setReady] = useState(false);
  const [copied, setCopied] = useState<"" | "ok" | "failed">("");
  const button = useRef<HTMLButtonElement>(null);
  useEffect(() => setReady(true), []);
  useEffect(() => {
    if (ready && autoFocus) button.current?.focus();
  }, [ready]);
  async function copy() {
    try {
      await navigator.clipboard.writeText(text);
      setCopied("ok");
    } catch {
      setCopied("failed");
    }
    setTimeout(() => setCopied(""), 2000);
  }
  return (
    <span class="copy">
      <button
        ref={button}
        type="button"
        class="button small"
        disabled={!ready}
        onClick={copy}
        aria-label={`Copy ${label}`}
      >
        {copied === "ok" ? "Copied" : "Copy"}
      </button>
      <span class="visually-hidden" role="status" aria-live="polite">
        {copied === "ok" ? `${label} copied` : copied === "failed" ? "Copy failed: select it" : ""}
      </span>
    </span>
  );
}
