/**
 * @module The process environment for files that name their secrets by variable (seed files'
 * `*_env` keys); like the rest of `config/`, the only place that reads `process.env`.
 */

export function environment(): Readonly<Record<string, string | undefined>> {
  return process.env;
}
