#!/usr/bin/env bash
# Install the Azurite blob emulator (npm) into .cache/azurite for the storage tests; idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -x .cache/azurite/node_modules/.bin/azurite-blob ]; then exit 0; fi
if ! command -v npm >/dev/null 2>&1; then
  echo "npm not found: the Azurite tests will be skipped (apt-get install npm to run them)" >&2
  exit 0
fi
mkdir -p .cache/azurite
# 3.35.0 is the newest Azurite that runs on Node 20.
(cd .cache/azurite && npm install --silent --no-audit --no-fund azurite@3.35.0)
