/** @module Data hooks of the console's pages: one request's state, and a cursor-paginated list with a search term. */
import { useCallback, useEffect, useState } from "preact/hooks";
import { ApiError, type Page } from "./api.ts";

export interface Loaded<T> {
  readonly data?: T;
  readonly error?: ApiError;
  readonly loading: boolean;
  readonly reload: () => void;
}

const asApiError = (e: unknown) => (e instanceof ApiError ? e : new ApiError(0, "CLIENT_ERROR", String(e)));

/** Runs `load` when `keys` change (and on `reload`); an answer that arrives after a newer request is dropped. */
export function useApi<T>(load: () => Promise<T>, keys: readonly unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: ApiError; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => live && setState({ data, loading: false }),
      (e) => live && setState({ error: asApiError(e), loading: false }),
    );
    return () => {
      live = false;
    };
  }, [...keys, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

export interface CursorList<T> extends Loaded<Page<T>> {
  /** 1-based number of the page shown. */
  readonly pageNumber: number;
  readonly hasPrevious: boolean;
  readonly hasNext: boolean;
  readonly next: () => void;
  readonly previous: () => void;
  /** Back to the first page, e.g. when the search term changes. */
  readonly first: () => void;
}

/**
 * A list the API pages with `?cursor=`: the cursors of the pages already seen are kept so "Previous"
 * goes back without the API having to page backwards. `keys` (a search term, a filter) restart at page 1.
 */
export function useCursorList<T>(
  load: (cursor: string | undefined) => Promise<Page<T>>,
  keys: readonly unknown[],
): CursorList<T> {
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  useEffect(() => setCursors([undefined]), keys);
  const cursor = cursors[cursors.length - 1];
  const page = useApi(() => load(cursor), [...keys, cursor]);
  const nextCursor = page.data?.pagination.next_cursor ?? null;
  return {
    ...page,
    pageNumber: cursors.length,
    hasPrevious: cursors.length > 1,
    hasNext: Boolean(page.data?.pagination.has_more && nextCursor),
    next: () => nextCursor && setCursors((c) => [...c, nextCursor]),
    previous: () => setCursors((c) => (c.length > 1 ? c.slice(0, -1) : c)),
    first: () => setCursors([undefined]),
  };
}
