/** @module UsersPage (in progress). */
export function UsersPage() {
  return <p>Coming next.</p>;
}
