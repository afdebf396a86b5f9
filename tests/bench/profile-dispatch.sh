#!/usr/bin/env bash
# profile-dispatch.sh -- where a worker's CPU per task goes (make bench, dispatch).
#
#   tests/bench/profile-dispatch.sh BIN [SLOTS] [SECONDS]
#
# Starts tests/bench/fake_activity.js (tasks mode, 127.0.0.1) and
# `BIN worker --handler noop` with SLOTS slots (default 1), then profiles
# the worker for SECONDS (default 5): `perf record -e cpu-clock` (this VM
# has no hardware counters) reported by library and by symbol, the
# share of the CPU spent inside libcurl, waiting in poll(2) and in the
# worker's own code (a DWARF call-graph profile), and `strace -c` for the
# system calls per task. tests/bench/README.md quotes it
# for the one dispatch target still missed. Needs perf and strace (root).
set -euo pipefail

bin=$(realpath "${1:?usage: profile-dispatch.sh BIN [SLOTS] [SECONDS]}")
slots=${2:-1}
secs=${3:-5}
top=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
fake=""
worker=""
cleanup() {
  [ -n "$worker" ] && kill "$worker" 2>/dev/null
  [ -n "$fake" ] && kill "$fake" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# shellcheck source=tests/bench/dispatch-lib.sh
. "$top/tests/bench/dispatch-lib.sh"
dl_start_fake "$work"
fake=$dl_fake
dl_start_worker "$bin" "$slots" "$work"
worker=$dl_worker
sleep 2

echo "== perf, $slots slot(s), $secs s"
t0=$(dl_succeeded)
perf record -q -F 4000 -e cpu-clock -p "$worker" -o "$work/perf.data" -- sleep "$secs" >/dev/null 2>&1
t1=$(dl_succeeded)
echo "tasks: $((t1 - t0))"
perf report -i "$work/perf.data" --no-children --sort dso 2>/dev/null | grep -v '^#' | grep -v '^$' | head -8 || true
perf report -i "$work/perf.data" --no-children --sort dso,sym 2>/dev/null | grep -v '^#' | grep -v '^$' | head -15 || true

# Who the CPU is spent for: each sample's whole stack (DWARF unwinding,
# since the static libcurl has no frame pointers) goes to the first of
# (1) inside a libcurl call, the kernel work of its send and receive
# included; (2) the worker's poll(2) for the response (sleep and wake-up);
# (3) the rest, the worker's own code (signing, JSON, slots, logging).
# (1) and (2) are what a worker built on this libcurl pays whatever its
# own code costs: the floor line prices them per task.
echo "== who the CPU is for, $slots slot(s), $secs s"
t0=$(dl_succeeded); c0=$(dl_cpu_ticks "$worker")
perf record -q -F 1000 --call-graph dwarf,16384 -e cpu-clock -p "$worker" -o "$work/perf-dwarf.data" -- sleep "$secs" >/dev/null 2>&1
t1=$(dl_succeeded); c1=$(dl_cpu_ticks "$worker")
perf script -i "$work/perf-dwarf.data" -F ip,sym 2>/dev/null | awk -v n="$((t1 - t0))" -v c="$((c1 - c0))" -v hz="$(getconf CLK_TCK)" '
  BEGIN { RS = ""; FS = "\n" }
  { total++
    if ($0 ~ / (curl_|Curl_)/) curl++
    else if ($0 ~ /(__GI___poll|__poll|ppoll)/) pollw++
    else own++ }
  END {
    if (!total || !n) { print "no samples"; exit }
    per = c / hz / n * 1000
    printf "%d samples, %d tasks, %.3f CPU-s per 1000 tasks (slowed by the profiler)\n", total, n, per
    printf "  inside libcurl calls (with their send/recv in the kernel) %5.1f%%\n", 100 * curl / total
    printf "  waiting in poll(2) for a response (sleep, wake-up)       %5.1f%%\n", 100 * pollw / total
    printf "  the worker'"'"'s own code (signing, JSON, slots, logging)     %5.1f%%\n", 100 * own / total
    printf "floor: with its own code at zero this worker would still spend %.0f%% of its CPU per task\n", 100 * (curl + pollw) / total
  }'

echo "== strace -c, $slots slot(s), $secs s (slows the worker; counts only)"
t0=$(dl_succeeded)
timeout -s INT "$secs" strace -f -c -p "$worker" -o "$work/strace.txt" 2>/dev/null || true
sleep 0.3
t1=$(dl_succeeded)
echo "tasks: $((t1 - t0))"
head -12 "$work/strace.txt"
