/**
 * "Create token": a modal that asks for a name, mints the token through the JSON API and shows
 * the plaintext once in an amber box, the focus on its Copy button. Leaving that step (Done,
 * Escape or a click outside) first asks "Have you copied the token?". Without JavaScript the
 * button submits a GET form to a plain page that does the same. With `apiKey` the same modal
 * mints a directory API key instead, asking also for its scopes and expiry.
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
  /** Mint a directory API key (these scopes offered, all checked) instead of a SCIM token. */
  apiKey?: { scopes: string[] };
}

const LOST = "Once this closes it cannot be shown again; you would have to create another.";

/** The words of each kind of secret. */
function wordsOf(apiKey: boolean, idpName: string) {
  return apiKey
    ? {
      button: "Create API key",
      title: "Create a directory API key",
      intro:
        "The application sends this key as its bearer credential to /api/v1. Name it after the application.",
      label: "Key name",
      example: "Enter a name, for example hr-portal.",
      made: "API key",
      secret: "directory API key",
      hint:
        "Send it as Authorization: Bearer <key>. Keep it on the server side of your application.",
      copy: "Copy this key now.",
      question: "Have you copied the key?",
      lost: LOST,
    }
    : {
      button: "Create token",
      title: `Create a SCIM token for ${idpName}`,
      intro:
        "The IdP sends this token as its bearer credential. Name it after where it will be pasted.",
      label: "Token name",
      example: "Enter a name, for example okta-production.",
      made: "Token",
      secret: "SCIM token",
      hint: "Paste it into the IdP without the word “Bearer”: the IdP adds it itself.",
      copy: "Copy this token now.",
      question: "Have you copied the token?",
      lost: LOST,
    };
}

/** Expiries offered for API keys (days; 0: never). */
const EXPIRIES = [[0, "Never"], [30, "30 days"], [90, "90 days"], [365, "1 year"]] as const;

type Step =
  | { kind: "name"; error?: string; busy?: boolean }
  | { kind: "secret"; name: string; secret: string; asking?: boolean };

/** The Create token button and its modal. */
export default function TokenCreate(
  { idpId, idpName, fallbackHref, apiKey }: TokenCreateProps,
) {
  const words = wordsOf(apiKey !== undefined, idpName);
  const [scopes, setScopes] = useState<string[]>(apiKey?.scopes ?? []);
  const [expiresDays, setExpiresDays] = useState(0);
  const dialog = useRef<HTMLDialogElement>(null);
  const opener = useRef<HTMLButtonElement>(null);
  const input = useRef<HTMLInputElement>(null);
  const back = useRef<HTMLButtonElement>(null);
  const [step, setStep] = useState<Step>({ kind: "name" });
  const [name, setName] = useState("");
  const [minted, setMinted] = useState(false);

  useEffect(() => {
    if (step.kind === "name") input.current?.focus();
  }, [step.kind]);
  const asking = step.kind === "secret" && step.asking;
  useEffect(() => {
    if (asking) back.current?.focus();
    else if (step.kind === "secret") {
      dialog.current?.querySelector<HTMLButtonElement>(".secret-box button")?.focus();
    }
  }, [asking]);

  /** Leaving the secret step asks first; the name step just closes. */
  function leave() {
    if (step.kind === "secret") setStep({ ...step, asking: true });
    else dialog.current?.close();
  }

  function onKeyDown(e: KeyboardEvent) {
    if (e.key !== "Escape" || step.kind !== "secret") return;
    // Handled here, so the dialog's own Escape (which a page cannot always refuse) never runs.
    e.preventDefault();
    if (step.asking) setStep({ ...step, asking: false });
    else leave();
  }

  function onBackdrop(e: MouseEvent) {
    // A click on the dialog element itself, not its content, is a click on the backdrop.
    const d = dialog.current;
    if (!d || e.target !== d) return;
    const r = d.getBoundingClientRect();
    const inside = e.clientX >= r.left && e.clientX <= r.right && e.clientY >= r.top &&
      e.clientY <= r.bottom;
    if (!inside) leave();
  }

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
      setStep({ kind: "name", error: words.example });
      return;
    }
    if (apiKey && !scopes.length) {
      setStep({ kind: "name", error: "Choose at least one scope." });
      return;
    }
    setStep({ kind: "name", busy: true });
    try {
      const url = apiKey
        ? "/admin/api/api-keys"
        : `/admin/api/idps/${encodeURIComponent(idpId)}/tokens`;
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", "x-csrf-token": csrfToken() },
        body: JSON.stringify(
          apiKey
            ? { name: trimmed, scopes, expires_days: expiresDays || undefined }
            : { name: trimmed },
        ),
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
      <form method="get" action={fallbackHref} class="inline" onSubmit={open}>
        <button ref={opener} type="submit" class="button primary">{words.button}</button>
      </form>
      <dialog
        ref={dialog}
        class="modal"
        aria-labelledby="token-dialog-title"
        onClose={onClose}
        onKeyDown={onKeyDown}
        onClick={onBackdrop}
      >
        {step.kind === "name"
          ? (
            <form onSubmit={submit} noValidate>
              <h2 id="token-dialog-title">{words.title}</h2>
              <p>{words.intro}</p>
              <label for="token-name">{words.label}</label>
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
              {apiKey && (
                <>
                  <fieldset class="field">
                    <legend>Scopes</legend>
                    {apiKey.scopes.map((s) => (
                      <label key={s} class="checkbox">
                        <input
                          type="checkbox"
                          name="scopes"
                          value={s}
                          checked={scopes.includes(s)}
                          onChange={(e) =>
                            setScopes(
                              (e.target as HTMLInputElement).checked
                                ? [...scopes, s]
                                : scopes.filter((x) => x !== s),
                            )}
                        />{" "}
                        <code>{s}</code>
                      </label>
                    ))}
                  </fieldset>
                  <label for="token-expiry">Expires</label>
                  <select
                    id="token-expiry"
                    name="expires_days"
                    value={String(expiresDays)}
                    onChange={(e) => setExpiresDays(Number((e.target as HTMLSelectElement).value))}
                  >
                    {EXPIRIES.map(([days, label]) => (
                      <option key={days} value={String(days)}>{label}</option>
                    ))}
                  </select>
                </>
              )}
              {step.error && <p id="token-name-error" class="error" role="alert">{step.error}</p>}
              <div class="actions">
                <button type="button" class="button" onClick={() => dialog.current?.close()}>
                  Cancel
                </button>
                <button type="submit" class="button primary" disabled={step.busy}>
                  {step.busy ? "Creating…" : words.button}
                </button>
              </div>
            </form>
          )
          : (
            <div>
              <h2 id="token-dialog-title">{words.made} “{step.name}” created</h2>
              <div class="secret-box" role="region" aria-label={`New ${words.secret}`}>
                <p class="warning">
                  <strong>{words.copy}</strong> It cannot be shown again: Weft stores only its hash.
                </p>
                <code class="secret" id="new-token-secret">{step.secret}</code>
                <CopyButton text={step.secret} label={words.secret} autoFocus />
              </div>
              <p class="hint">
                {words.hint}
              </p>
              {step.asking
                ? (
                  <div class="notice warn" role="alertdialog" aria-labelledby="token-leave-q">
                    <p id="token-leave-q">
                      <strong>{words.question}</strong> {words.lost}
                    </p>
                    <div class="actions">
                      <button
                        ref={back}
                        type="button"
                        class="button"
                        onClick={() => setStep({ ...step, asking: false })}
                      >
                        Back to the token
                      </button>
                      <button
                        type="button"
                        class="button primary"
                        onClick={() => dialog.current?.close()}
                      >
                        Yes, close
                      </button>
                    </div>
                  </div>
                )
                : (
                  <div class="actions">
                    <button type="button" class="button primary" onClick={leave}>
                      Done
                    </button>
                  </div>
                )}
            </div>
          )}
      </dialog>
    </>
  );
}
