#!/usr/bin/env bash
# Vendors the web UI's front-end libraries from the npm registry into src/sdnkit/web/static/vendor.
#
#   scripts/vendor-web.sh           # (re)write the vendored files from package-lock.json
#   scripts/vendor-web.sh --check   # fetch again and fail if the vendored files differ
#
# Exactly what src/sdnkit/web/package-lock.json pins (npm ci checks every tarball's integrity)
# is copied, unchanged except for one rewrite: preact's hooks import "preact" by its bare package
# name, which a browser cannot resolve without an import map (and an inline import map would need
# 'unsafe-inline' in the UI's Content-Security-Policy), so it becomes "./preact.js". Each library
# keeps its licence beside it; MANIFEST lists every file's SHA-256 (tests/unit/test_web_assets.py
# checks it). Only this script needs Node.js and the network; running sdnkit needs neither.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
web="$here/src/sdnkit/web"
dest="$web/static/vendor"
check=0
[ "${1:-}" = "--check" ] && check=1

work=$(mktemp -d /tmp/sdnkit-vendor-web.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp "$web/package.json" "$web/package-lock.json" "$work/"
(cd "$work" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)

out="$work/vendor"
mkdir -p "$out"
nm="$work/node_modules"
cp "$nm/preact/dist/preact.mjs" "$out/preact.js"
sed 's/from"preact"/from"\.\/preact\.js"/' "$nm/preact/hooks/dist/hooks.mjs" >"$out/hooks.js"
grep -q 'from"./preact.js"' "$out/hooks.js" || { echo "vendor-web: preact hooks import not rewritten" >&2; exit 1; }
cp "$nm/htm/dist/htm.module.js" "$out/htm.js"
cp "$nm/preact/LICENSE" "$out/LICENSE.preact.txt"
cp "$nm/htm/LICENSE" "$out/LICENSE.htm.txt"
{
  echo "# sdnkit web UI vendored files: scripts/vendor-web.sh from src/sdnkit/web/package-lock.json"
  for pkg in preact htm; do
    version=$(node -p "require('$nm/$pkg/package.json').version")
    echo "# $pkg $version"
  done
  (cd "$out" && sha256sum preact.js hooks.js htm.js LICENSE.preact.txt LICENSE.htm.txt)
} >"$out/MANIFEST"

if ((check)); then
  diff -r "$out" "$dest" && echo "vendor-web: $dest matches package-lock.json"
else
  mkdir -p "$dest"
  cp "$out"/* "$dest/"
  echo "vendor-web: wrote $(ls "$out" | wc -l) files to $dest"
fi
