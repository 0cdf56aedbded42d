/**
 * A form whose submit asks for confirmation in a modal dialog first. Without JavaScript the form
 * posts without `confirmed=yes` and the server answers with a confirmation page instead.
 * @module
 */
import { useEffect, useRef, useState } from "preact/hooks";

/** Props of {@linkcode ConfirmForm}. */
export interface ConfirmFormProps {
  action: string;
  csrf: string;
  /** The button text ("Revoke"). */
  label: string;
  /** The dialog's title ("Revoke token okta-prod?"). */
  title: string;
  /** What will happen, in one or two sentences. */
  message: string;
  /** Style of the confirming button. */
  danger?: boolean;
}

/** A one-button form with a confirmation dialog. */
export default function ConfirmForm(props: ConfirmFormProps) {
  const dialog = useRef<HTMLDialogElement>(null);
  const form = useRef<HTMLFormElement>(null);
  const opener = useRef<HTMLButtonElement>(null);
  const [confirmed, setConfirmed] = useState(false);
  const titleId = `confirm-${props.action.replace(/[^A-Za-z0-9]+/g, "-")}`;
  useEffect(() => {
    if (confirmed) form.current?.submit();
  }, [confirmed]);
  function onSubmit(e: Event) {
    if (confirmed) return;
    e.preventDefault();
    dialog.current?.showModal();
  }
  function close() {
    dialog.current?.close();
    opener.current?.focus();
  }
  return (
    <form ref={form} method="post" action={props.action} class="inline" onSubmit={onSubmit}>
      <input type="hidden" name="_csrf" value={props.csrf} />
      {confirmed && <input type="hidden" name="confirmed" value="yes" />}
      <button
        ref={opener}
        type="submit"
        class={props.danger ? "button small subtle-danger" : "button small"}
      >
        {props.label}
      </button>
      <dialog ref={dialog} class="modal" aria-labelledby={titleId} onClose={close}>
        <h2 id={titleId}>{props.title}</h2>
        <p>{props.message}</p>
        <div class="actions">
          <button type="button" class="button" onClick={close} autofocus>Cancel</button>
          <button
            type="button"
            class={props.danger ? "button danger" : "button primary"}
            onClick={() => setConfirmed(true)}
          >
            {props.label}
          </button>
        </div>
      </dialog>
    </form>
  );
}
