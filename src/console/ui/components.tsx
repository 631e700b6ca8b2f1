/** @module The console's shared pieces: labelled fields with the API's message beside them, notices, the confirmation dialog, the pager and the search box. */

import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import type { ApiError } from "./api.ts";
import type { CursorList } from "./hooks.ts";

let ids = 0;
/** A stable id for a label/input pair. */
export function useId(prefix: string): string {
  const ref = useRef<string | undefined>(undefined);
  ref.current ??= `${prefix}-${++ids}`;
  return ref.current;
}

interface FieldProps {
  readonly label: string;
  /** The API's field name: the error's `details[].field` shown beside this input. */
  readonly name: string;
  readonly error?: ApiError;
  readonly hint?: ComponentChildren;
  readonly children: (id: string, describedBy: string | undefined, invalid: boolean) => ComponentChildren;
}

/** A label, the control, a plain-words hint and the API's reason when it refused this field. */
export function Field({ label, name, error, hint, children }: FieldProps) {
  const id = useId(name);
  const problem = error?.forField(name);
  const hintId = hint ? `${id}-hint` : undefined;
  const errId = problem ? `${id}-error` : undefined;
  const describedBy = [hintId, errId].filter(Boolean).join(" ") || undefined;
  return (
    <div class={`field${problem ? " field-invalid" : ""}`}>
      <label for={id}>{label}</label>
      {children(id, describedBy, Boolean(problem))}
      {hint && (
        <p class="hint" id={hintId}>
          {hint}
        </p>
      )}
      {problem && (
        <p class="field-error" id={errId}>
          {problem}
        </p>
      )}
    </div>
  );
}

/** A checkbox whose explanation is part of its label's description. */
export function Switch(props: {
  readonly label: string;
  readonly name: string;
  readonly checked: boolean;
  readonly onChange: (v: boolean) => void;
  readonly error?: ApiError;
  readonly hint: ComponentChildren;
}) {
  const id = useId(props.name);
  const problem = props.error?.forField(props.name);
  return (
    <div class={`field field-switch${problem ? " field-invalid" : ""}`}>
      <input
        type="checkbox"
        id={id}
        name={props.name}
        checked={props.checked}
        aria-describedby={`${id}-hint`}
        aria-invalid={problem ? true : undefined}
        onChange={(e) => props.onChange((e.currentTarget as HTMLInputElement).checked)}
      />
      <label for={id}>{props.label}</label>
      <p class="hint" id={`${id}-hint`}>
        {props.hint}
      </p>
      {problem && <p class="field-error">{problem}</p>}
    </div>
  );
}

/** An error that belongs to no single field (or every error, when `all`), announced to screen readers. */
export function ErrorNotice({ error, all = false }: { readonly error?: ApiError; readonly all?: boolean }) {
  if (!error) return null;
  if (!all && error.details.length > 0 && error.code === "VALIDATION_ERROR") {
    return (
      <p class="notice notice-error" role="alert">
        Some fields need attention.
      </p>
    );
  }
  return (
    <p class="notice notice-error" role="alert">
      {error.message}
      {error.code && <span class="code"> ({error.code})</span>}
    </p>
  );
}

export function Notice({ children }: { readonly children: ComponentChildren }) {
  return (
    <p class="notice notice-ok" role="status">
      {children}
    </p>
  );
}

export function Loading({ what = "Loading" }: { readonly what?: string }) {
  return (
    <p class="loading" role="status">
      {what}…
    </p>
  );
}

/** An ISO time in the reader's locale, with the exact value in `datetime` and the tooltip. */
export function Time({ iso }: { readonly iso: string | null | undefined }) {
  if (!iso) return <span class="muted">—</span>;
  return (
    <time dateTime={iso} title={iso}>
      {new Date(iso).toLocaleString()}
    </time>
  );
}

export function Badge({ tone, children }: { readonly tone: string; readonly children: ComponentChildren }) {
  return <span class={`badge badge-${tone}`}>{children}</span>;
}

/**
 * A modal confirmation on the native `<dialog>` (focus moves in and back, Escape cancels). `confirmText`,
 * when given, must be typed before the action is enabled: for what cannot be undone.
 */
export function ConfirmDialog(props: {
  readonly open: boolean;
  readonly title: string;
  readonly children: ComponentChildren;
  readonly action: string;
  readonly danger?: boolean;
  readonly confirmText?: string;
  readonly busy?: boolean;
  readonly onConfirm: () => void;
  readonly onCancel: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const [typed, setTyped] = useState("");
  const titleId = useId("dialog-title");
  const inputId = useId("dialog-confirm");
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (props.open && !d.open) {
      setTyped("");
      d.showModal();
    } else if (!props.open && d.open) d.close();
  }, [props.open]);
  const ready = !props.confirmText || typed === props.confirmText;
  return (
    <dialog
      ref={ref}
      aria-labelledby={titleId}
      onCancel={(e) => {
        e.preventDefault();
        props.onCancel();
      }}
    >
      <form
        method="dialog"
        onSubmit={(e) => {
          e.preventDefault();
          if (ready && !props.busy) props.onConfirm();
        }}
      >
        <h2 id={titleId}>{props.title}</h2>
        <div class="dialog-body">{props.children}</div>
        {props.confirmText && (
          <div class="field">
            <label for={inputId}>
              Type <strong>{props.confirmText}</strong> to confirm
            </label>
            <input
              id={inputId}
              autoComplete="off"
              value={typed}
              onInput={(e) => setTyped((e.currentTarget as HTMLInputElement).value)}
            />
          </div>
        )}
        <div class="actions">
          <button type="button" class="secondary" onClick={props.onCancel}>
            Cancel
          </button>
          <button type="submit" class={props.danger ? "danger" : ""} disabled={!ready || props.busy}>
            {props.action}
          </button>
        </div>
      </form>
    </dialog>
  );
}

/** Previous/next over a cursor list, with the page number; the API has no totals, so none are shown. */
export function Pager<T>({ list, label }: { readonly list: CursorList<T>; readonly label: string }) {
  if (!list.hasPrevious && !list.hasNext) return null;
  return (
    <nav class="pager" aria-label={`${label} pages`}>
      <button
        type="button"
        class="secondary"
        disabled={!list.hasPrevious || list.loading}
        onClick={list.previous}
      >
        Previous
      </button>
      <span>Page {list.pageNumber}</span>
      <button type="button" class="secondary" disabled={!list.hasNext || list.loading} onClick={list.next}>
        Next
      </button>
    </nav>
  );
}

/** A search box that reports its term after the typing pauses (or at once on Enter). */
export function SearchBox(props: {
  readonly label: string;
  readonly value: string;
  readonly onSearch: (term: string) => void;
  readonly placeholder?: string;
}) {
  const id = useId("search");
  const [term, setTerm] = useState(props.value);
  useEffect(() => {
    if (term === props.value) return;
    const t = setTimeout(() => props.onSearch(term.trim()), 300);
    return () => clearTimeout(t);
  }, [term]);
  // <search> is the search landmark; the form inside it only submits.
  return (
    <search class="search">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          props.onSearch(term.trim());
        }}
      >
        <label for={id}>{props.label}</label>
        <input
          id={id}
          type="search"
          value={term}
          placeholder={props.placeholder}
          onInput={(e) => setTerm((e.currentTarget as HTMLInputElement).value)}
        />
      </form>
    </search>
  );
}

/**
 * A table's scroll box. It takes keyboard focus so that a table wider than a phone can be scrolled without a
 * mouse (axe's scrollable-region-focusable), and is a labelled region so a screen reader says what it is.
 */
export function TableWrap({
  label,
  children,
}: {
  readonly label: string;
  readonly children: ComponentChildren;
}) {
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard (WCAG 2.1.1).
    <section class="table-wrap" aria-label={label} tabIndex={0}>
      {children}
    </section>
  );
}
