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
  cargo bench --bench '*' -- --warm-up-time 1 --measurement-time 3 >&2
fi
dir="${CARGO_TARGET_DIR:-target}/criterion"

# The point estimate (ns) of one bench: its median, or its slope for the threaded runs (the
# slope of time over iterations, which leaves out the fixed cost of starting threads).
estimate() {
  local file="$dir/$1/new/estimates.json" field="${2:-median}"
  if [ ! -f "$file" ]; then echo "nan"; return; fi
  jq -r --arg f "$field" '(.[$f] // .median).point_estimate' "$file"
}

mint=$(estimate floor/mint)
check=$(estimate floor/check)
t1=$(estimate bearer_validate/threads_1 slope)
t2=$(estimate bearer_validate/threads_2 slope)
c1=$(estimate bearer_validate/cpu_1 slope)
c2=$(estimate bearer_validate/cpu_2 slope)

# name, ns, floor name, floor ns, comparison, target
row() {
  awk -v name="$1" -v ns="$2" -v fname="$3" -v fns="$4" -v cmp="$5" -v target="$6" 'BEGIN {
    if (ns == "nan" || fns == "nan") { printf "| %s | - | - | %s %s | not run |\n", name, cmp, target; exit }
    ratio = ns / fns
    verdict = "-"
    if (cmp == "<=") verdict = (ratio <= target) ? "met" : "missed"
    if (cmp == ">=") verdict = (ratio >= target) ? "met" : "missed"
    shown = (cmp == "") ? "-" : cmp " " target
    printf "| %s | %.0f | %.2f x %s | %s | %s |\n", name, ns, ratio, fname, shown, verdict
  }'
}

echo "| bench | median ns/op | ratio | target | verdict |"
echo "|---|---:|---:|---|---|"
row "floor (a) mint" "$mint" "(a)" "$mint" "" ""
row "floor (b) check" "$check" "(b)" "$check" "" ""
row "bearer_validate/valid" "$(estimate bearer_validate/valid)" "(b)" "$check" "<=" 1.5
row "bearer_validate/malformed" "$(estimate bearer_validate/malformed)" "(b)" "$check" "<=" 0.3
row "authorization_code_flow" "$(estimate authorization_code_flow/flow)" "(a)" "$mint" "<=" 12
row "refresh_rotation" "$(estimate refresh_rotation/rotate)" "(a)" "$mint" "<=" 8
row "client_credentials" "$(estimate client_credentials/request)" "(a)" "$mint" "" ""
row "introspection" "$(estimate introspection/request)" "(b)" "$check" "" ""
row "revocation" "$(estimate revocation/request)" "(a)" "$mint" "" ""
# Throughput scaling: one iteration of a two-thread run is two validations, so 2 x t1 / t2.
scaling() {
  awk -v name="$1" -v t1="$2" -v t2="$3" 'BEGIN {
    if (t1 == "nan" || t2 == "nan") { printf "| %s | - | - | >= 1.8 | not run |\n", name; exit }
    s = 2 * t1 / t2
    printf "| %s | %.0f vs %.0f | %.2f x one thread | >= 1.8 | %s |\n", name, t2, t1, s, (s >= 1.8) ? "met" : "missed"
  }'
}
scaling "bearer_validate 2 threads vs 1, wall clock (ns per round: 2 vs 1)" "$t1" "$t2"
scaling "bearer_validate 2 threads vs 1, CPU time (ns per round: 2 vs 1)" "$c1" "$c2"
