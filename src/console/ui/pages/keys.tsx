/** @module Signing keys: each key's state and dates; rotate, and emergency rotate behind a typed confirmation. */
import { useState } from "preact/hooks";
import { ApiError, api, path } from "../api.ts";
import { Badge, ConfirmDialog, ErrorNotice, Loading, Notice, TableWrap, Time } from "../components.tsx";
import { useApi } from "../hooks.ts";
import type { KeyRotation, SigningKey } from "../types.ts";

const EXPLAINED: Record<SigningKey["state"], string> = {
  next: "published in the JWKS, signs after the next rotation",
  active: "signs every new token",
  retiring: "no longer signs; still published so tokens it signed verify until they expire",
  retired: "gone from the JWKS",
};

export function KeysPage({ appId }: { readonly appId: string }) {
  const keys = useApi(
    () => api<{ data: SigningKey[] }>("GET", path("/v1/apps/{id}/keys", { id: appId })),
    [appId],
  );
  const [dialog, setDialog] = useState<"rotate" | "emergency" | undefined>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();
  const [done, setDone] = useState<KeyRotation>();

  const rotate = async (emergency: boolean) => {
    setBusy(true);
    setError(undefined);
    try {
      const result = await api<KeyRotation>("POST", path("/v1/apps/{id}/keys/rotate", { id: appId }), {
        emergency,
      });
      setDone(result);
      keys.reload();
    } catch (err) {
      if (err instanceof ApiError) setError(err);
    } finally {
      setBusy(false);
      setDialog(undefined);
    }
  };

  return (
    <section aria-labelledby="keys-title">
      <h2 id="keys-title">Signing keys</h2>
      <p class="hint">
        Tokens are signed with the active key. A rotation promotes the pre-published next key, so verifiers
        that cache the JWKS already know it; the old key keeps verifying until its tokens expire.
      </p>
      <div class="actions">
        <button type="button" onClick={() => setDialog("rotate")} disabled={busy}>
          Rotate
        </button>
        <button type="button" class="danger" onClick={() => setDialog("emergency")} disabled={busy}>
          Emergency rotate…
        </button>
      </div>
      <ErrorNotice error={error} all />
      {done && (
        <Notice>
          Rotated{done.emergency ? " (emergency)" : ""}: <code>{done.new_kid}</code> signs from now on.
          {done.warning && <span class="block">{done.warning}</span>}
        </Notice>
      )}
      <ErrorNotice error={keys.error} all />
      {!keys.data ? (
        !keys.error && <Loading />
      ) : (
        <TableWrap label="The app's signing keys">
          <table>
            <caption class="visually-hidden">The app's signing keys</caption>
            <thead>
              <tr>
                <th scope="col">Key id</th>
                <th scope="col">State</th>
                <th scope="col">Created</th>
                <th scope="col">Signs from</th>
                <th scope="col">Stopped signing</th>
                <th scope="col">Leaves the JWKS</th>
              </tr>
            </thead>
            <tbody>
              {keys.data.data.map((k) => (
                <tr key={k.kid}>
                  <td>
                    <code>{k.kid}</code> <span class="muted">{k.alg}</span>
                  </td>
                  <td>
                    <Badge tone={k.state}>{k.state}</Badge>
                    <span class="hint block">{EXPLAINED[k.state]}</span>
                  </td>
                  <td>
                    <Time iso={k.created_at} />
                  </td>
                  <td>
                    <Time iso={k.activates_at} />
                  </td>
                  <td>
                    <Time iso={k.rotated_at} />
                  </td>
                  <td>
                    <Time iso={k.retired_at ?? k.retire_at} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      <ConfirmDialog
        open={dialog === "rotate"}
        title="Rotate the signing key?"
        action="Rotate"
        busy={busy}
        onConfirm={() => rotate(false)}
        onCancel={() => setDialog(undefined)}
      >
        <p>The next key starts signing. Tokens signed by the current key stay valid until they expire.</p>
      </ConfirmDialog>
      <ConfirmDialog
        open={dialog === "emergency"}
        title="Emergency rotation"
        action="Withdraw the key now"
        danger
        confirmText="rotate"
        busy={busy}
        onConfirm={() => rotate(true)}
        onCancel={() => setDialog(undefined)}
      >
        <p>
          For a key you believe is compromised: the current key is withdrawn from the JWKS at once, so every
          token it signed stops verifying as soon as verifiers refetch the JWKS — every signed-in user of this
          app has to sign in again.
        </p>
      </ConfirmDialog>
    </section>
  );
}
