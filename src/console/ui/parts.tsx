/** @module Pieces the credential, tenant, webhook and platform pages share: a secret shown once with a copy button, a write that tracks its own busy/error state, and a destructive action behind a confirmation. */

import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { ApiError } from "./api.ts";
import { ConfirmDialog, useId } from "./components.tsx";

/**
 * A secret the API returns once (a client secret, an API key, a PAK, an invite code, a signing secret):
 * shown in the page with a copy button, never stored; it is gone when the user dismisses it or leaves.
 */
export function SecretOnce(props: {
  readonly label: string;
  readonly value: string;
  readonly children?: ComponentChildren;
  readonly onDismiss: () => void;
}) {
  const id = useId("secret");
  const [copied, setCopied] = useState<"yes" | "no" | undefined>();
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(props.value);
      setCopied("yes");
    } catch {
      setCopied("no");
    }
  };
  return (
    <section class="card secret-once" aria-labelledby={`${id}-label`}>
      <p id={`${id}-label`}>
        <strong>{props.label}</strong> — shown only now; copy it before you leave this page.
      </p>
      <div class="secret-row">
        <input id={id} aria-labelledby={`${id}-label`} readOnly value={props.value} class="secret-value" />
        <button type="button" onClick={copy}>
          Copy
        </button>
        <button type="button" class="secondary" onClick={props.onDismiss}>
          Done
        </button>
      </div>
      {copied && (
        <p class="hint" role="status">
          {copied === "yes"
            ? "Copied to the clipboard."
            : "The browser refused the clipboard; select and copy it."}
        </p>
      )}
      {props.children}
    </section>
  );
}

export interface Action {
  readonly busy: boolean;
  readonly error?: ApiError;
  /** Runs `work`, keeping the API's error (for the fields and the notice); resolves true on success. */
  readonly run: (work: () => Promise<unknown>) => Promise<boolean>;
  readonly clear: () => void;
}

/** The busy flag and the API's error of one form or button. */
export function useAction(): Action {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();
  return {
    busy,
    error,
    clear: () => setError(undefined),
    run: async (work) => {
      setBusy(true);
      setError(undefined);
      try {
        await work();
        return true;
      } catch (e) {
        setError(e instanceof ApiError ? e : new ApiError(0, "CLIENT_ERROR", String(e)));
        return false;
      } finally {
        setBusy(false);
      }
    },
  };
}

/** A button that asks before it acts (delete, revoke, deactivate). */
export function ConfirmButton(props: {
  readonly label: string;
  readonly title: string;
  readonly action: string;
  readonly children: ComponentChildren;
  readonly onConfirm: () => Promise<unknown>;
  readonly danger?: boolean;
  readonly confirmText?: string;
  readonly accessibleName?: string;
}) {
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  return (
    <>
      <button
        type="button"
        class={props.danger === false ? "secondary" : "danger"}
        aria-label={props.accessibleName}
        onClick={() => setOpen(true)}
      >
        {props.label}
      </button>
      <ConfirmDialog
        open={open}
        title={props.title}
        action={props.action}
        danger={props.danger !== false}
        confirmText={props.confirmText}
        busy={busy}
        onCancel={() => setOpen(false)}
        onConfirm={async () => {
          setBusy(true);
          try {
            await props.onConfirm();
          } finally {
            setBusy(false);
            setOpen(false);
          }
        }}
      >
        {props.children}
      </ConfirmDialog>
    </>
  );
}

/** `a, b , c` → `["a","b","c"]`: the comma- or space-separated lists of the forms. */
export const splitList = (s: string) =>
  s
    .split(/[\s,]+/)
    .map((x) => x.trim())
    .filter(Boolean);
