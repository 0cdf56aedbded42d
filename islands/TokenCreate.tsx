/**
 * "Create token": a modal that asks for a name, mints the token through the JSON API and shows
 * the plaintext once in an amber box with a copy button. Without JavaScript the button is a link
 * to a plain form page that does the same.
 * @module
 */
import { useEffect, useRef, useState } from "preact/hooks";
import CopyButton from "./CopyButton.tsx";
import { csrfToken } from "./_format.ts";

/** Props of {@linkcode TokenCreate}. */
export interface TokenCreateProps {
  idpId: string;
  idpName: string;
  /** The no-JavaScript form page. */
  fallbackHref: string;
}

type Step =
  | { kind: "name"; error?: string; busy?: boolean }
  | { kind: "secret"; name: string; secret: string };

/** The Create token button and its modal. */
export default function TokenCreate({ idpId, idpName, fallbackHref }: TokenCreateProps) {
  const dialog = useRef<HTMLDialogElement>(null);
  const opener = useRef<HTMLAnchorElement>(null);
  const input = useRef<HTMLInputElement>(null);
  const [step, setStep] = useState<Step>({ kind: "name" });
  const [name, setName] = useState("");
  const [minted, setMinted] = useState(false);

  useEffect(() => {
    if (step.kind === "name") input.current?.focus();
  }, [step.kind]);

  function open(e: Event) {
    e.preventDefault();
    setStep({ kind: "name" });
    setName("");
    dialog.current?.showModal();
    input.current?.focus();
  }

  function onClose() {
    if (minted) {
      // Show the new token in the list.
      location.reload();
      return;
    }
    opener.current?.focus();
  }

  async function submit(e: Event) {
    e.preventDefault();
    const trimmed = name.trim();
    if (!trimmed) {
      setStep({ kind: "name", error: "Enter a name, for example okta-production." });
      return;
    }
    setStep({ kind: "name", busy: true });
    try {
      const res = await fetch(`/admin/api/idps/${encodeURIComponent(idpId)}/tokens`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-csrf-token": csrfToken() },
        body: JSON.stringify({ name: trimmed }),
      });
      const body = await res.json() as { secret?: string; error?: string };
      if (!res.ok || !body.secret) {
        setStep({
          kind: "name",
          error: body.error ?? `The token was not created (${res.status}).`,
        });
        return;
      }
      setMinted(true);
      setStep({ kind: "secret", name: trimmed, secret: body.secret });
    } catch {
      setStep({ kind: "name", error: "Weft could not be reached. Try again." });
    }
  }

  return (
    <>
      <a ref={opener} href={fallbackHref} class="button primary" onClick={open}>
        Create token
      </a>
      <dialog ref={dialog} class="modal" aria-labelledby="token-dialog-title" onClose={onClose}>
        {step.kind === "name"
          ? (
            <form onSubmit={submit} noValidate>
              <h2 id="token-dialog-title">Create a SCIM token for {idpName}</h2>
              <p>
                The IdP sends this token as its bearer credential. Name it after where it will be
                pasted.
              </p>
              <label for="token-name">Token name</label>
              <input
                ref={input}
                id="token-name"
                name="name"
                maxLength={100}
                required
                autoComplete="off"
                value={name}
                onInput={(e) => setName((e.target as HTMLInputElement).value)}
                aria-invalid={step.error ? "true" : undefined}
                aria-describedby={step.error ? "token-name-error" : undefined}
              />
              {step.error && <p id="token-name-error" class="error" role="alert">{step.error}</p>}
              <div class="actions">
                <button type="button" class="button" onClick={() => dialog.current?.close()}>
                  Cancel
                </button>
                <button type="submit" class="button primary" disabled={step.busy}>
                  {step.busy ? "Creating…" : "Create token"}
                </button>
              </div>
            </form>
          )
          : (
            <div>
              <h2 id="token-dialog-title">Token “{step.name}” created</h2>
              <div class="secret-box" role="region" aria-label="New SCIM token">
                <p class="warning">
                  <strong>Copy this token now.</strong>{" "}
                  It cannot be shown again: Weft stores only its hash.
                </p>
                <code class="secret" id="new-token-secret">{step.secret}</code>
                <CopyButton text={step.secret} label="SCIM token" />
              </div>
              <p class="hint">
                Paste it into the IdP without the word “Bearer”: the IdP adds it itself.
              </p>
              <div class="actions">
                <button
                  type="button"
                  class="button primary"
                  onClick={() => dialog.current?.close()}
                >
                  Done
                </button>
              </div>
            </div>
          )}
      </dialog>
    </>
  );
}
