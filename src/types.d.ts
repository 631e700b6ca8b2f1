/** @module Ambient module types: SQL migrations are embedded as text by Bun's bundler. */
declare module "*.sql" {
  const text: string;
  export default text;
}
