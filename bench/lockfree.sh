#!/usr/bin/env bash
# bench/lockfree.sh: buffered channels with the lock-free ring
# (GOCHAN_CHAN_LOCKFREE=ON, chan/chan_lf.h; the default build) against the
# locked buffer (OFF) and against Go 1.19, side by side.
#
#   bench/lockfree.sh [--rounds N] [--only "b1 b3 b4 g1 g3"]
#
# Builds gochan_bench twice (Release, -O2; build-bench-lf-off/ and
# build-bench-lf-on/ at the top of the repository) and the Go twin (bench/go/),
# then runs each workload in its own process, alternating off, on, Go in every
# round, with run.sh's environment (GOCHAN_SCHED=0 for the b rows, 1 for the
# g rows; GOMAXPROCS = nproc for Go). Prints the median, min and max of each
# and the ratios on/off and on/Go. Lower is better everywhere.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
gobin=/usr/lib/go-1.19/bin/go
rounds=3
only="b1 b3 b4 g1 g3"
while [ $# -gt 0 ]; do
    case $1 in
    --rounds) rounds=$2; shift ;;
    --only) only=$2; shift ;;
    -h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "lockfree.sh: unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for v in off on; do
    b=$root/build-bench-lf-$v
    flag=$([ $v = on ] && echo ON || echo OFF)
    cmake -S "$root" -B "$b" -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" -DGOCHAN_SANITIZER= \
        -DGOCHAN_CHAN_LOCKFREE=$flag -DGOCHAN_BUILD_BENCH=ON \
        -DGOCHAN_BUILD_TESTS=OFF -DGOCHAN_BUILD_EXAMPLES=OFF >"$tmp/cmake.log" 2>&1 ||
        { cat "$tmp/cmake.log" >&2; exit 1; }
    cmake --build "$b" --target gochan_bench -j "$(nproc)" >"$tmp/build.log" 2>&1 ||
        { cat "$tmp/build.log" >&2; exit 1; }
done
gobench=$root/build-bench-lf-off/bench/gochanbench
(cd "$here/go" && env GOPATH="$tmp/gopath" GOCACHE="$tmp/gocache" GO111MODULE=on \
    GOPROXY=off GOFLAGS= GOTOOLCHAIN=local CGO_ENABLED=0 \
    "$gobin" build -o "$gobench" .)

cores=$(nproc)
results=$tmp/results.tsv # impl round id value
: >"$results"
run() { # impl round workload cmd...
    local impl=$1 r=$2 w=$3
    shift 3
    timeout -k 5 300 "$@" "$w" 2>"$tmp/err" |
        awk -F'\t' -v impl="$impl" -v r="$r" 'NF >= 3 && $1 != "note" { print impl "\t" r "\t" $1 "\t" $2 }' \
            >>"$results" || echo "lockfree.sh: $impl $w failed: $(head -c 300 "$tmp/err")" >&2
}
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
for ((r = 1; r <= rounds; r++)); do
    for w in $only; do
        s=$(case $w in b*) echo 0 ;; *) echo 1 ;; esac)
        run off "$r" "$w" env GOCHAN_SCHED="$s" "$root/build-bench-lf-off/bench/gochan_bench"
        run on "$r" "$w" env GOCHAN_SCHED="$s" "$root/build-bench-lf-on/bench/gochan_bench"
        run go "$r" "$w" env GOMAXPROCS="$cores" "$gobench"
    done
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
echo "| row | off median (min - max) | on median (min - max) | Go median (min - max) | on/off | on/Go | off/Go |"
echo "| --- | --- | --- | --- | ---: | ---: | ---: |"
for w in $only; do
    awk -F'\t' -v id="$w" '
    function med(impl,   m, i, j, t, a) {
        m = 0
        for (k in v) { split(k, p, SUBSEP); if (p[1] == impl) a[++m] = v[k] }
        for (i = 2; i <= m; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
        if (m == 0) { MED = 0; RNG = "n/a"; return }
        MED = (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
        RNG = sprintf("%.1f - %.1f", a[1], a[m])
    }
    $3 == id { v[$1, $2] = $4 + 0 }
    END {
        med("off"); o = MED; orng = RNG
        med("on"); n = MED; nrng = RNG
        med("go"); g = MED; grng = RNG
        printf "| %s | %.1f (%s) | %.1f (%s) | %.1f (%s) | %.2f | %.2f | %.2f |\n", id, o, orng, n, nrng, g, grng,
            (o ? n / o : 0), (g ? n / g : 0), (g ? o / g : 0)
    }' "$results"
done
echo
echo "$rounds rounds alternating off, on, Go; ns/msg; load before: $load_start, after: $load_end;" \
    "$cores cores ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)); gochan $(git -C "$root" rev-parse --short HEAD), $("$gobin" version | awk '{ print $3 }')"
