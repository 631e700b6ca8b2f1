/** @module Who is signed in and which workspace the console shows, loaded once per sign-in and shared with every page. */
import { type ComponentChildren, createContext } from "preact";
import { useContext, useState } from "preact/hooks";
import { api, type Page } from "./api.ts";
import { Loading } from "./components.tsx";
import { useApi } from "./hooks.ts";

export interface Me {
  readonly id: string;
  readonly email: string | null;
  readonly username: string;
  readonly display_name: string | null;
}

export interface Workspace {
  readonly id: string;
  readonly slug: string;
  readonly display_name: string;
}

export interface Session {
  readonly me: Me;
  readonly workspaces: readonly Workspace[];
  readonly workspace: Workspace | undefined;
  readonly selectWorkspace: (id: string) => void;
}

const SessionContext = createContext<Session | undefined>(undefined);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error("useSession outside a signed-in page");
  return s;
}

/** Loads the person and their workspaces; a 401 on the way sends the browser to sign-in (see api.ts). */
export function SessionProvider({ children }: { readonly children: ComponentChildren }) {
  const loaded = useApi(async () => {
    const me = await api<Me>("GET", "/v1/me");
    const workspaces = await api<Page<Workspace>>("GET", "/v1/workspaces?limit=200");
    return { me, workspaces: workspaces.data };
  }, []);
  const [chosen, setChosen] = useState<string | undefined>(undefined);
  if (!loaded.data) {
    if (loaded.error && loaded.error.status !== 401) {
      return (
        <main id="main" class="page">
          <p class="notice notice-error" role="alert">
            {loaded.error.message}
          </p>
        </main>
      );
    }
    return <Loading what="Opening the console" />;
  }
  const { me, workspaces } = loaded.data;
  const workspace = workspaces.find((w) => w.id === chosen) ?? workspaces[0];
  return (
    <SessionContext.Provider value={{ me, workspaces, workspace, selectWorkspace: setChosen }}>
      {children}
    </SessionContext.Provider>
  );
}
