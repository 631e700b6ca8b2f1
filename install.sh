#!/usr/bin/env bash
# Builds ./heimdall, a single self-contained binary, from this checkout.
# Needs only Node.js >= 20 and npm (the pinned Bun comes from npm); no root.
set -euo pipefail
cd "$(dirname "$0")"

die() {
  echo "install.sh: $*" >&2
  exit 1
}

command -v node >/dev/null 2>&1 || die "Node.js >= 20 is required (https://nodejs.org or your distribution's nodejs package)"
command -v npm >/dev/null 2>&1 || die "npm is required (it ships with Node.js; on Debian: apt install npm)"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || die "Node.js >= 20 is required, found $(node --version)"

echo "==> installing dependencies (npm)"
# Bun is a devDependency: include dev packages even when NODE_ENV=production is set.
if [ -f package-lock.json ]; then
  npm ci --include=dev --no-audit --no-fund
else
  npm install --include=dev --no-audit --no-fund
fi

# The Bun pinned in package.json; a Bun 1.4.x on PATH is accepted when the npm one is unusable.
bun=node_modules/.bin/bun
if ! "$bun" --version >/dev/null 2>&1; then
  if command -v bun >/dev/null 2>&1 && [[ "$(bun --version)" == 1.4.* ]]; then
    bun=$(command -v bun)
  else
    die "no usable Bun: node_modules/.bin/bun does not run and no Bun 1.4.x is on PATH"
  fi
fi
echo "==> building ./heimdall with Bun $("$bun" --version)"
"$bun" scripts/build.ts heimdall
./heimdall version >/dev/null || die "the built binary does not run"

cat <<'TXT'

Built ./heimdall (self-contained: copy it anywhere, it needs no other file).

Next steps:
  ./heimdall serve                 # first start creates ./data and prints the credentials once
  ./heimdall serve --help          # options; configuration also via HEIMDALL_* env or --config
  ./heimdall healthcheck           # exit 0 when the local server is healthy

Back up ./data/master.key separately from the database. See README.md and docs/operations.md.
TXT
