/** @module UserDetailPage (in progress). */
export function UserDetailPage() {
  return <p>Coming next.</p>;
}
