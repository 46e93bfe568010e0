#!/usr/bin/env bash
# Load test on loopback: the same handler unprotected, behind clerkauth
# (token cache on and off) and behind clerk-sdk-go v2's middleware, each
# hammered by wrk with the same valid token; prints requests/s and ratios.
#
#   scripts/loadtest.sh            # 10 s per endpoint
#   DURATION=30s scripts/loadtest.sh
#
# Installs wrk from Debian's packages when missing. Traffic stays on
# 127.0.0.1; every run is bounded by DURATION and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"
ADDR="127.0.0.1:${PORT:-18181}"

if ! command -v wrk >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi

tmp=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT
go build -o "$tmp/loadtarget" ./internal/loadtarget
"$tmp/loadtarget" -addr "$ADDR" -token-file "$tmp/token" &
pid=$!
for _ in $(seq 100); do [ -s "$tmp/token" ] && break; sleep 0.1; done
token=$(cat "$tmp/token")

declare -A rps
for path in plain clerkauth clerkauth-cold clerksdk; do
  # Check the endpoint accepts the token before measuring it.
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "http://$ADDR/$path")
  [ "$code" = 200 ] || { echo "/$path answered $code to the valid token" >&2; exit 1; }
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -H "Authorization: Bearer $token" "http://$ADDR/$path")
  if grep -q 'Non-2xx' <<<"$out"; then echo "/$path: some responses were not 2xx" >&2; echo "$out" >&2; exit 1; fi
  rps[$path]=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  printf '%-16s %12s req/s\n' "/$path" "${rps[$path]}"
done

awk -v plain="${rps[plain]}" -v hot="${rps[clerkauth]}" -v cold="${rps[clerkauth-cold]}" -v sdk="${rps[clerksdk]}" 'BEGIN {
  printf "\nclerkauth (cached token) / unprotected:  %.2f\n", hot / plain
  printf "clerkauth (cached token) / clerk-sdk-go: %.2fx\n", hot / sdk
  printf "clerkauth (every token verified) / clerk-sdk-go: %.2fx\n", cold / sdk
}'
