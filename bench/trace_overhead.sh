#!/usr/bin/env bash
# bench/trace_overhead.sh: what the execution trace (GOCHAN_TRACE,
# chan_trace_start) costs. Runs the rows B1, G2 and S1 of gochan_bench
# (bench/gochan_bench.c) with tracing off and on, alternately (off, on, off,
# on, ...) so that noise on a shared machine falls on both alike, and prints
# for each row the median and range of each side, the slowdown (on / off),
# the events the trace recorded per operation (written + dropped, from the
# file's trace_stats) and the cost per event: (on - off) / events per op.
#
#   bench/trace_overhead.sh [--rounds N] [--quick]
#
# Builds gochan_bench in $BUILD_DIR (default build-bench/, Release, as run.sh).
# B1 runs on kernel threads (GOCHAN_SCHED=0, as in run.sh), G2 and S1 on
# goroutines. Counts: B1 2M messages, G2 200k round trips, S1 20M lock pairs,
# each after a warm-up of 1/20 of it (the trace covers both).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=${BUILD_DIR:-$root/build-bench}
rounds=7
quick=
while [ $# -gt 0 ]; do
    case $1 in
    --rounds) rounds=$2; shift ;;
    --quick) quick=--quick; rounds=3 ;;
    *) echo "trace_overhead.sh: unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" \
    -DGOCHAN_SANITIZER= -DGOCHAN_BUILD_BENCH=ON \
    -DGOCHAN_BUILD_TESTS=OFF -DGOCHAN_BUILD_EXAMPLES=OFF >"$tmp/cmake.log" 2>&1 ||
    { cat "$tmp/cmake.log" >&2; exit 1; }
cmake --build "$build" --target gochan_bench -j 2 >"$tmp/build.log" 2>&1 ||
    { cat "$tmp/build.log" >&2; exit 1; }
bench=$build/bench/gochan_bench
res=$build/trace_overhead.txt # the raw figures, kept
: >"$res"

ops() { # operations a row performs, warm-up included
    local n
    case $1 in b1) n=2000000 ;; g2) n=200000 ;; s1) n=20000000 ;; esac
    [ -n "$quick" ] && n=$((n / 10))
    echo $((n + n / 20))
}
sched() { case $1 in b1) echo 0 ;; *) echo 1 ;; esac; }

for r in $(seq "$rounds"); do
    for w in b1 g2 s1; do
        v=$(GOCHAN_SCHED=$(sched $w) "$bench" $quick $w | awk '{print $2}')
        echo "$w off $v" >>"$res"
        f=$tmp/$w.$r.json
        v=$(GOCHAN_SCHED=$(sched $w) GOCHAN_TRACE=$f "$bench" $quick $w | awk '{print $2}')
        ev=$(grep -o '"trace_stats","pid":1,"args":{"events":[0-9]*,"dropped_events":[0-9]*' "$f" |
            sed 's/.*"events":\([0-9]*\),"dropped_events":\([0-9]*\)/\1 \2/')
        bytes=$(stat -c %s "$f")
        echo "$w on $v $ev $bytes" >>"$res"
        rm -f "$f"
    done
done

printf '| row | off: median (min-max) | on: median (min-max) | slowdown | events/op (dropped) | ns/event | trace MB |\n'
printf '| --- | --- | --- | --- | --- | --- | --- |\n'
for w in b1 g2 s1; do
    awk -v w=$w -v ops="$(ops $w)" '
        function med(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
            if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
            return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
        $1 == w && $2 == "off" { off[++no] = $3 }
        $1 == w && $2 == "on" { on[++nn] = $3; ev[nn] = $4; dr[nn] = $5; mb[nn] = $6 / 1e6 }
        END {
            mo = med(off, no); mn = med(on, nn); e = med(ev, nn); d = med(dr, nn); m = med(mb, nn)
            per = (e + d) / ops
            printf "| %s | %.1f (%.1f-%.1f) | %.1f (%.1f-%.1f) | %.2fx | %.2f (%.0f%% dropped) | %s | %.0f |\n",
                w, mo, off[1], off[no], mn, on[1], on[nn], mn / mo, per,
                ((e + d) ? 100 * d / (e + d) : 0),
                (per > 0.01 ? sprintf("%.0f", (mn - mo) / per) : "-"), m
        }' "$res"
done
echo "($rounds alternating rounds; units: B1 ns/msg, G2 ns/round trip, S1 ns/op)"
