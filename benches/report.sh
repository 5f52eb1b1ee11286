#!/usr/bin/env bash
# Prints the benchmark table of BENCHMARKS.md: each bench's median and its ratio to the floor
# measured in the same run, against the targets of issue 10.
#
#   benches/report.sh          # table from the last `cargo bench` (target/criterion)
#   benches/report.sh --run    # run every bench first (short settings), then the table
#
# Needs jq. Ratios only mean something when the floor and the bench ran in the same
# `cargo bench` invocation: the machine is shared and its speed drifts.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--run" ]; then
  # One invocation, so that the floor and every bench share the same machine state. The
  # stores bench (PostgreSQL, Redis) needs its features and reports absolute times: run it
  # with `cargo bench --all-features --bench stores`.
  cargo bench --bench floor --bench bearer_validate --bench authorization_code_flow \
    --bench refresh_rotation --bench client_credentials --bench introspection --bench revocation \
    -- --warm-up-time 1 --measurement-time 3 >&2
fi
dir="${CARGO_TARGET_DIR:-target}/criterion"

# The point estimate (ns) of one bench: its median, or its slope for the threaded runs (the
# slope of time over iterations, which leaves out the fixed cost of starting threads).
estimate() {
  local file="$dir/$1/new/estimates.json" field="${2:-median}"
  if [ ! -f "$file" ]; then echo "nan"; return; fi
  jq -r --arg f "$field" '(.[$f] // .median).point_estimate' "$file"
}

mint=$(estimate floor/floor_mint)
check=$(estimate floor/floor_check)
t1=$(estimate bearer_validate/threads_1 slope)
t2=$(estimate bearer_validate/threads_2 slope)
c1=$(estimate bearer_validate/cpu_1 slope)
c2=$(estimate bearer_validate/cpu_2 slope)
f1=$(estimate bearer_validate/floor_threads_1 slope)
f2=$(estimate bearer_validate/floor_threads_2 slope)

# name, bench, floor kind (mint or check), comparison, target. The floor is the one measured in
# the bench's own group right before it.
row() {
  local ns fns
  ns=$(estimate "$2")
  fns=$(estimate "${2%%/*}/floor_$3")
  awk -v name="$1" -v ns="$ns" -v fname="$3" -v fns="$fns" -v cmp="$4" -v target="$5" 'BEGIN {
    if (ns == "nan" || fns == "nan") { printf "| %s | - | - | - | %s %s | not run |\n", name, cmp, target; exit }
    ratio = ns / fns
    verdict = "-"
    if (cmp == "<=") verdict = (ratio <= target) ? "met" : "missed"
    if (cmp == ">=") verdict = (ratio >= target) ? "met" : "missed"
    shown = (cmp == "") ? "-" : cmp " " target
    printf "| %s | %.0f | %.0f (%s) | %.2f | %s | %s |\n", name, ns, fns, fname, ratio, shown, verdict
  }'
}

echo "| bench | median ns/op | its floor ns/op | ratio | target | verdict |"
echo "|---|---:|---:|---:|---|---|"
awk -v m="$mint" -v c="$check" 'BEGIN { printf "| floor (a) mint | %.0f | - | 1 | - | - |\n| floor (b) check | %.0f | - | 1 | - | - |\n", m, c }'
row "bearer_validate/valid" bearer_validate/valid check "<=" 1.5
row "bearer_validate/malformed" bearer_validate/malformed check "<=" 0.3
row "authorization_code_flow" authorization_code_flow/flow mint "<=" 12
row "refresh_rotation" refresh_rotation/rotate mint "<=" 8
row "client_credentials" client_credentials/request mint "" ""
row "introspection" introspection/request check "" ""
row "revocation" revocation/request mint "" ""
# Throughput scaling: one iteration of a two-thread run is two validations, so 2 x t1 / t2.
# The issue's target is 1.7; the floor's own scaling (no lock, nothing shared written) is the
# control for what this machine's two vCPUs give at all.
scaling() {
  awk -v name="$1" -v t1="$2" -v t2="$3" -v target="$4" 'BEGIN {
    if (t1 == "nan" || t2 == "nan") { printf "| %s | - | - | - | %s | not run |\n", name, target; exit }
    s = 2 * t1 / t2
    verdict = (target == "-") ? "-" : ((s >= target) ? "met" : "missed")
    shown = (target == "-") ? "-" : ">= " target
    printf "| %s | %.0f | %.0f (1 thread) | %.2f | %s | %s |\n", name, t2, t1, s, shown, verdict
  }'
}
scaling "bearer_validate, 2 threads vs 1, wall clock (ns per round)" "$t1" "$t2" 1.7
scaling "bearer_validate, 2 threads vs 1, CPU time (ns per round)" "$c1" "$c2" 1.7
scaling "floor (b), 2 threads vs 1, wall clock (the control)" "$f1" "$f2" -
