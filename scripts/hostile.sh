#!/usr/bin/env bash
# BENCHMARKS.md's "Hostile input" table: BenchmarkHostileInput (hostile_test.go)
# grows every attacker-controlled input by 10x; this prints, per input, the
# cost of one request at N and at 10N and their ratio (linear: <= 10x).
#
#   scripts/hostile.sh                  # time, B/op, allocs/op (-benchtime 10x)
#   BENCHTIME=20x scripts/hostile.sh
#   BENCH='cookie|webhook' scripts/hostile.sh   # inputs matching a regexp
#   CALLGRIND=1 scripts/hostile.sh      # instructions per request (valgrind)
#
# The wall clock of this shared VM is noisy (+-20-50%); CALLGRIND=1 counts
# instructions instead, which do not depend on the machine's load: one
# valgrind run of the whole family (one request per case, -benchtime 1x;
# the warm-up request is not counted), each case's measured loop dumped
# on its own (between two calls of hostileMark). It takes minutes, mostly for the
# quadratic cases while they exist.
set -euo pipefail
cd "$(dirname "$0")/.."

BENCH="${BENCH:-.}"
pattern="BenchmarkHostileInput/(${BENCH})"
tmp=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT

if [ -z "${CALLGRIND:-}" ]; then
  go test -run '^$' -bench "$pattern" -benchtime "${BENCHTIME:-10x}" -count 1 . | tee "$tmp/bench.txt" >&2
  metric=time
else
  command -v valgrind >/dev/null || { echo "CALLGRIND=1 needs valgrind (apt-get install valgrind)" >&2; exit 1; }
  # callgrind trips over cgo's thread start; no preemption signals, one P,
  # and the collector off (until a 2 GiB heap: the quadratic cases
  # allocate gigabytes) so that its cycles, which land in one case and not
  # the next, do not blur the counts.
  CGO_ENABLED=0 go test -c -o "$tmp/clerkauth.test" .
  GOGC=off GOMEMLIMIT="${GOMEMLIMIT:-2GiB}" GODEBUG=asyncpreemptoff=1 GOMAXPROCS=1 valgrind --tool=callgrind \
    --callgrind-out-file="$tmp/cg.out" \
    --dump-before='github.com/clerkauth/clerkauth_test.hostileMark' \
    "$tmp/clerkauth.test" -test.run '^$' -test.bench "$pattern" -test.benchtime 1x -test.benchmem \
    2>"$tmp/valgrind.log" | tee "$tmp/bench.txt" >&2
  # hostileMark is called before and after each case's loop, and callgrind
  # dumps at each call: cg.out.<2k> holds the k-th case's loop (the odd
  # dumps its setup); the part after the last call is cg.out, at exit.
  k=0
  while IFS= read -r line; do
    if [[ $line == BenchmarkHostileInput/* ]]; then
      k=$((k + 1))
      echo "$line $(awk '/^summary:/ {print $2; exit}' "$tmp/cg.out.$((2 * k))") instr/op"
    fi
  done <"$tmp/bench.txt" >"$tmp/bench.cg"
  if [ "$(ls "$tmp"/cg.out* | wc -l)" != $((2 * k + 1)) ]; then
    echo "callgrind wrote $(ls "$tmp"/cg.out* | wc -l) dumps for $k cases: the counts would not line up" >&2
    exit 1
  fi
  mv "$tmp/bench.cg" "$tmp/bench.txt"
  metric=instr
fi

# BenchmarkHostileInput/<input>/<size>-P  N  <ns> ns/op  <B> B/op  <a> allocs/op  [<ir> instr/op]
awk -v metric="$metric" '
function human(v, unit) {
  if (unit == "ns") {
    if (v >= 1e9) return sprintf("%.2f s", v / 1e9)
    if (v >= 1e6) return sprintf("%.2f ms", v / 1e6)
    if (v >= 1e3) return sprintf("%.1f µs", v / 1e3)
    return sprintf("%.0f ns", v)
  }
  if (v >= 1e9) return sprintf("%.2f G", v / 1e9)
  if (v >= 1e6) return sprintf("%.2f M", v / 1e6)
  if (v >= 1e3) return sprintf("%.1f k", v / 1e3)
  return sprintf("%.0f", v)
}
function ratio(a, b) { return b > 0 ? sprintf("%.1f×", a / b) : "–" }
/^BenchmarkHostileInput\// {
  split($1, p, "/"); input = p[2]; size = p[3]; sub(/-[0-9]+$/, "", size)
  cost = (metric == "instr") ? $(NF - 1) : $3
  for (f = 4; f <= NF; f++) { if ($f == "B/op") b = $(f - 1); if ($f == "allocs/op") a = $(f - 1) }
  if (!(input in n)) { order[++count] = input; n[input] = size; c1[input] = cost; b1[input] = b; a1[input] = a }
  else { n10[input] = size; c10[input] = cost; b10[input] = b; a10[input] = a }
}
END {
  unit = (metric == "instr") ? "Instructions" : "Time"
  printf "| Input | N → 10N | %s at N | at 10N | Ratio | B/op at N | at 10N | Ratio | Allocs at N | at 10N |\n", unit
  print "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  for (i = 1; i <= count; i++) {
    k = order[i]
    r = (c1[k] > 0) ? c10[k] / c1[k] : 0
    mark = (r > 15) ? " **(not linear)**" : ""
    printf "| `%s` | %s → %s | %s | %s | %s%s | %s | %s | %s | %s | %s |\n", k, n[k], n10[k],
      human(c1[k], metric == "instr" ? "" : "ns"), human(c10[k], metric == "instr" ? "" : "ns"), ratio(c10[k], c1[k]), mark,
      human(b1[k], ""), human(b10[k], ""), ratio(b10[k], b1[k]), a1[k], a10[k]
  }
}' "$tmp/bench.txt"
