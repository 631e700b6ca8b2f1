/** @module The console's 404: an address under /console that names no page. */
export function NotFoundPage() {
  return (
    <main id="main" class="page">
      <h1>Page not found</h1>
      <p>
        There is no console page at this address. <a href="/console">Back to the apps</a>.
      </p>
    </main>
  );
}
