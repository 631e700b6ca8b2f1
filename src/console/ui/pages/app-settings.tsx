/** @module AppSettingsPage (in progress). */
export function AppSettingsPage() {
  return <p>Coming next.</p>;
}
