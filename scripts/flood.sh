#!/usr/bin/env bash
# Flood load test on loopback (internal/flood): a fake Clerk instance and a
# clerkauth server in one process, flooded with random tokens, junk cookies,
# made-up handshake nonces, junk refresh cookies and unsigned webhooks while
# a legitimate client keeps going. Prints SECURITY.md's "Flood" tables.
#
#   scripts/flood.sh                       # 20 s
#   DURATION=60s scripts/flood.sh -workers 32
#
# The default run is longer than MachineTokenCacheTTL (10 s), so that the
# legitimate API key's cached verdict expires while the flood runs. Traffic
# stays on 127.0.0.1; the run is bounded by DURATION (and -max-requests)
# and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/flood" ./internal/flood
"$tmp/flood" -duration "${DURATION:-20s}" "$@"
