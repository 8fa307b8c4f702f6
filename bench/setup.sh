#!/usr/bin/env bash
# bench/setup.sh - installs what the benchmark needs and is not there yet:
# Miller, jq, GNU time, ISA-L's igzip, jansson and libcsv (apt-get), and fast-redact into
# bench/node_modules (npm ci, from the committed package.json and
# package-lock.json). node
# itself is expected on the machine. Safe to run again: it installs only
# what is missing. Exit status: that of the step that failed.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

missing=()
command -v mlr >/dev/null 2>&1 || missing+=(miller)
command -v jq >/dev/null 2>&1 || missing+=(jq)
[ -x /usr/bin/time ] || missing+=(time)
command -v igzip >/dev/null 2>&1 || missing+=(isal)   # igzip: the inflate-alone baseline
# jansson and libcsv: only fmtbench --parse uses them (the parser comparison
# in bench/README.md, "Formats"); the library has parsers of its own
for p in libjansson-dev libcsv-dev; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "bench/setup.sh: installing ${missing[*]}" >&2
    sudo=()
    [ "$(id -u)" -ne 0 ] && sudo=(sudo)
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq || true
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "bench/setup.sh: node and npm are needed for the node + fast-redact peer" >&2
    exit 1
fi
if [ ! -f "$here/node_modules/fast-redact/package.json" ]; then
    echo "bench/setup.sh: npm ci (fast-redact) into bench/node_modules" >&2
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "bench/setup.sh: mlr $(mlr --version | awk '{print $2}'), $(jq --version)," \
     "node $(node --version), fast-redact" \
     "$(node -p "require('$here/node_modules/fast-redact/package.json').version")" >&2
