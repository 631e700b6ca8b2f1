/** @module The console's entry: the router over the page table, the signed-in shell and what a 401 does. */
import { render } from "preact";
import { useEffect } from "preact/hooks";
import { LocationProvider, Route, Router, useLocation } from "preact-iso";
import { setUnauthorizedHandler } from "./api.ts";
import { NotFoundPage } from "./pages/not-found.tsx";
import { PAGES } from "./pages.ts";
import { Shell } from "./shell.tsx";

const SIGN_IN = "/console/signin";

function Routes() {
  const { route, path } = useLocation();
  useEffect(() => {
    // The page the user was on is kept in `next` and restored after sign-in.
    setUnauthorizedHandler(() => {
      if (window.location.pathname === SIGN_IN) return;
      const here = window.location.pathname + window.location.search;
      route(`${SIGN_IN}?next=${encodeURIComponent(here)}`, true);
    });
  }, [route]);
  const page = PAGES.find((p) => p.path === path) ?? undefined;
  useEffect(() => {
    document.title = page ? `${page.title} · Heimdall` : "Heimdall console";
  });
  return (
    <Router>
      {[
        ...PAGES.map((p) =>
          p.public ? (
            <Route key={p.path} path={p.path} component={p.component} />
          ) : (
            <Route key={p.path} path={p.path} component={(props: object) => <Shell page={p} {...props} />} />
          ),
        ),
        <Route key="404" default component={NotFoundPage} />,
      ]}
    </Router>
  );
}

function Console() {
  return (
    <LocationProvider scope="/console">
      <Routes />
    </LocationProvider>
  );
}

const root = document.getElementById("root");
if (root) render(<Console />, root);
