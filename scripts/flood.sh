#!/usr/bin/env bash
# Flood load test on loopback (internal/flood): a fake Clerk instance and a
# clerkauth server in one process, flooded with random tokens, junk cookies,
# made-up handshake nonces, junk refresh cookies and unsigned webhooks while
# a legitimate client keeps going. Prints SECURITY.md's "Flood" tables.
#
#   scripts/flood.sh                  # two floods of 20 s: every kind of
#                                     # request, then all but the junk cookies
#   DURATION=60s scripts/flood.sh -workers 32 -kinds apikey,refresh
#                                     # one flood, flags as internal/flood's
#
# The second default flood leaves out the huge Cookie headers, whose cost
# (while the cookie parser is quadratic) would hide what the others do to
# the Backend API. Each flood is longer than MachineTokenCacheTTL (10 s), so
# that the legitimate API key's cached verdict expires while it runs.
# Traffic stays on 127.0.0.1; every run is bounded by DURATION (and
# -max-requests) and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/flood" ./internal/flood
duration="${DURATION:-20s}"
if [ $# -gt 0 ]; then
  "$tmp/flood" -duration "$duration" "$@"
  exit
fi
echo "### Every kind of request"
echo
"$tmp/flood" -duration "$duration"
echo
echo "### Without the junk Cookie headers"
echo
"$tmp/flood" -duration "$duration" -kinds bearer,apikey,nonce-query,nonce-cookie,refresh,webhook
