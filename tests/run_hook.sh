#!/usr/bin/env bash
# runs examples/hook.c against the bundled example
set -euo pipefail
echo "hook example: not yet wired"; exit 1
