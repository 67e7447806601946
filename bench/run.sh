#!/usr/bin/env bash
# bench/run.sh: gochan side by side with Go's own runtime.
#
#   bench/run.sh                 full run (9 rounds, ~3-8 minutes on 2 cores)
#   bench/run.sh --quick         CI smoke run: 3 rounds, every count / 10
#   bench/run.sh --rounds N      N rounds (at least 1; 5 or more for figures)
#   bench/run.sh --only "b1 b4"  only these workloads (ids as in the table)
#   bench/run.sh --no-results    print the table but leave bench/RESULTS.md
#
# What it does:
#   1. builds the C benchmark (bench/gochan_bench.c) and the library in
#      $BUILD_DIR (default build-bench/ at the top of the repository): CMake,
#      Release, -O2, no sanitizers;
#   2. builds the Go twin (bench/go/, standard library only) with Debian's
#      Go 1.19 (/usr/lib/go-1.19/bin/go; apt-get installs golang-1.19-go when
#      it is missing), offline, with GOPATH and GOCACHE in a temporary dir;
#   3. runs every workload in its own process, alternately (C, Go, C, Go, ...)
#      for each round, so that noise from other work on a shared machine falls
#      on both sides alike; Go runs with GOMAXPROCS = the cores the C side can
#      use (nproc). Each C workload gets GOCHAN_SCHED in its environment (see
#      sched_for below): 1, chan_go starts goroutines on gochan's scheduler,
#      for every workload (g1-g4 and gscale_* need it) except b1-b4 and
#      scale_*, which get 0, chan_go starts kernel threads, so that those
#      plain-thread rows stay comparable with earlier results;
#   4. prints a table: workload, gochan median, Go median, gochan/Go ratio,
#      min and max of each, and writes it as Markdown, with the date, machine
#      and commit, to bench/RESULTS.md and into README.md between its
#      <!-- bench:begin --> and <!-- bench:end --> markers.
# A row whose C function is not written yet prints n/a (see gochan_bench.c);
# a workload that crashes or times out prints "err" and the run goes on.
# Lower is better everywhere; a ratio below 1 means gochan is faster.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=${BUILD_DIR:-$root/build-bench}
gobin=/usr/lib/go-1.19/bin/go

rounds=9
quick=
only=
write_results=1
while [ $# -gt 0 ]; do
    case $1 in
    --quick) quick=--quick; rounds=3 ;;
    --rounds) rounds=$2; shift ;;
    --rounds=*) rounds=${1#*=} ;;
    --only) only=$2; shift ;;
    --only=*) only=${1#*=} ;;
    --no-results) write_results= ;;
    -h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument: $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
done
case $rounds in '' | *[!0-9]* | 0) echo "run.sh: --rounds needs a positive number" >&2; exit 2 ;; esac

# Every row: id | label | unit [| workload]. The ids are what both programs
# print; the workload (the process that prints the row) is the id unless the
# fourth field names another.
rows='b1|B1 buffered cap 128, 1 producer 1 consumer, threads|ns/msg
b2|B2 unbuffered ping-pong, 200k round trips, threads|ns/rtt
b3|B3 4 producers 4 consumers, cap 1024, threads|ns/msg
b4|B4 select over 4 producers, cap 128, threads|ns/msg
g1|G1 = B1 on goroutines, main only waits|ns/msg
g2|G2 = B2 on goroutines, main only waits|ns/rtt
g3|G3 = B3 on goroutines, main only waits|ns/msg
g4|G4 = B4 on goroutines, main only waits|ns/msg
b5|B5 try-receive on an empty channel|ns/op
b6|B6 send then receive, one thread, cap 1|ns/pair
b7|B7 make + release a channel|ns
b8|B8 WithCancel + cancel|ns
b9|B9 cancel a parent of 100k children|ms
b10|B10 WithTimeout(1h) + cancel|ns
b11|B11 Value at depth 100|ns
b12_p50|B12 1 ms timer in a select, lateness p50|us|b12
b12_p99|B12 1 ms timer in a select, lateness p99|us|b12
mem_chan|memory per unbuffered channel|B
mem_cancel|memory per WithCancel context|B
mem_timeout|memory per WithTimeout context|B
mem_timer|memory per pending timer|B
mem_goroutine|memory (VmRSS) per blocked goroutine, at 100k|B|gscale_100k
scale_close|10k threads blocked on one channel, close wakes all|ms
scale_daisy|daisy chain of 10k threads, create + pass|ms
scale_daisy_pass|daisy chain of 10k threads, pass only|ms|scale_daisy
gscale_start_10k|10k goroutines block on one channel: start until all blocked|ms|gscale_10k
gscale_close_10k|10k goroutines blocked on one channel: close until all done|ms|gscale_10k
gscale_start_100k|100k goroutines block on one channel: start until all blocked|ms|gscale_100k
gscale_close_100k|100k goroutines blocked on one channel: close until all done|ms|gscale_100k
gscale_daisy|daisy chain of 10k goroutines, create + pass|ms
gscale_start_1m|1M goroutines block on one channel: start until all blocked|ms|gscale_1m
gscale_close_1m|1M goroutines blocked on one channel: close until all done|ms|gscale_1m
s1|S1 sync.Mutex Lock+Unlock, uncontended, one goroutine|ns/op
s2|S2 sync.Mutex shared by 4 goroutines, Lock+count+Unlock|ns/op
s3|S3 sync.RWMutex, 4 goroutines, 1 write in 100|ns/op
s4|S4 sync.Once.Do after the first call|ns/op'
all_workloads="b1 b2 b3 b4 g1 g2 g3 g4 b5 b6 b7 b8 b9 b10 b11 b12 mem_chan mem_cancel mem_timeout mem_timer scale_close scale_daisy gscale_10k gscale_100k gscale_daisy gscale_1m s1 s2 s3 s4"
workloads=$all_workloads
# --only takes workload ids or row ids (a row id stands for its workload).
[ -n "$only" ] && workloads=$(for w in $only; do
    printf '%s\n' "$rows" | awk -F'|' -v w="$w" '$1 == w { print ($4 != "" ? $4 : $1); found = 1 }
        END { if (!found) print w }'
done | awk '!seen[$0]++' | tr '\n' ' ')
for w in $workloads; do
    case " $all_workloads " in
    *" $w "*) ;;
    *) echo "run.sh: unknown workload: $w" >&2; exit 2 ;;
    esac
done

# GOCHAN_SCHED for a C workload: 0 (chan_go starts kernel threads) for the
# plain-thread rows, which keep their meaning from before the scheduler; 1
# (goroutines on the scheduler) for everything else.
sched_for() {
    case $1 in
    b1 | b2 | b3 | b4 | scale_*) echo 0 ;;
    *) echo 1 ;;
    esac
}

# ---- Go ---------------------------------------------------------------------
if [ ! -x "$gobin" ]; then
    echo "run.sh: installing golang-1.19-go" >&2
    sudo=; [ "$(id -u)" -ne 0 ] && sudo=sudo
    $sudo apt-get install -y golang-1.19-go ||
        { $sudo apt-get update && $sudo apt-get install -y golang-1.19-go; }
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ---- build ------------------------------------------------------------------
echo "run.sh: building the C benchmark in $build" >&2
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" -DGOCHAN_SANITIZER= \
    -DGOCHAN_BUILD_BENCH=ON -DGOCHAN_BUILD_TESTS=OFF -DGOCHAN_BUILD_EXAMPLES=OFF \
    >"$tmp/cmake.log" 2>&1 || { cat "$tmp/cmake.log" >&2; exit 1; }
cmake --build "$build" --target gochan_bench -j "$(nproc)" \
    >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log" >&2; exit 1; }
cbench=$build/bench/gochan_bench

echo "run.sh: building the Go benchmark with $("$gobin" version)" >&2
gobench=$build/bench/gochanbench
(cd "$here/go" && env GOPATH="$tmp/gopath" GOCACHE="$tmp/gocache" GO111MODULE=on \
    GOPROXY=off GOFLAGS= GOTOOLCHAIN=local CGO_ENABLED=0 \
    "$gobin" build -o "$gobench" .)

# ---- run --------------------------------------------------------------------
cores=$(nproc)
limit=$([ -n "$quick" ] && echo 60 || echo 180) # seconds per process
results=$tmp/results.tsv # impl <TAB> round <TAB> id <TAB> value <TAB> unit [<TAB> why]
: >"$results"
: >"$tmp/notes"

# run IMPL ROUND WORKLOAD COMMAND...: one process, its lines into $results.
run() {
    local impl=$1 round=$2 w=$3 rc=0
    shift 3
    timeout -k 5 "$limit" "$@" $quick "$w" >"$tmp/out" 2>"$tmp/err" || rc=$?
    awk -F'\t' -v impl="$impl" -v r="$round" -v notes="$tmp/notes" '
        $1 == "note" { print impl ": " $2 >> notes; next }
        NF >= 3 { print impl "\t" r "\t" $0 }' "$tmp/out" >>"$results"
    if [ $rc -ne 0 ]; then
        local why="exit status $rc"
        [ $rc -eq 124 ] && why="timed out after ${limit}s"
        echo "run.sh: $impl $w: $why: $(head -c 300 "$tmp/err")" >&2
        echo "$impl: $w failed ($why) in round $round" >>"$tmp/notes"
        printf '%s\t%s\t%s\terr\t-\t%s\n' "$impl" "$round" "$w" "$why" >>"$results"
    fi
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
start=$(date +%s)
for ((r = 1; r <= rounds; r++)); do
    echo "run.sh: round $r/$rounds" >&2
    for w in $workloads; do
        run gochan "$r" "$w" env GOCHAN_SCHED="$(sched_for "$w")" "$cbench"
        run go "$r" "$w" env GOMAXPROCS="$cores" "$gobench"
    done
done
elapsed=$(($(date +%s) - start))
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- report -----------------------------------------------------------------
# For each row: median, min and max over the rounds, per side. A failed
# process ("err") names the workload, not the row, so it applies to every
# row of that workload.
table() { # $1 = md or text
    printf '%s\n' "$rows" | awk -F'|' -v fmt="$1" -v results="$results" -v ran=" $workloads " '
    BEGIN {
        while ((getline line < results) > 0) {
            split(line, f, "\t")
            impl = f[1]; id = f[3]; v = f[4]
            if (v == "n/a") { na[impl, id] = f[6]; continue }
            if (v == "err") { err[impl, id] = 1; continue }
            k = impl SUBSEP id
            n[k]++; val[k, n[k]] = v + 0
        }
    }
    function stat(impl, id,    k, m, i, j, t, a) {
        k = impl SUBSEP id; m = n[k]
        if (m == 0) return 0
        for (i = 1; i <= m; i++) a[i] = val[k, i]
        for (i = 2; i <= m; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
        S_min = a[1]; S_max = a[m]
        S_med = (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
        S_n = m
        return 1
    }
    function num(x) {
        if (x >= 1000) return sprintf("%.0f", x)
        if (x >= 100) return sprintf("%.1f", x)
        if (x >= 10) return sprintf("%.2f", x)
        return sprintf("%.3f", x)
    }
    function cell(impl, id, wl,    why) {
        if (stat(impl, id)) {
            C_med = S_med; C_rng = num(S_min) " - " num(S_max)
            return num(S_med)
        }
        C_med = ""; C_rng = ""
        if ((impl, id) in na) { why = na[impl, id]; reasons[why] = 1; return "n/a" }
        if ((impl, wl) in err) return "err"
        return "n/a"
    }
    {
        id = $1; wl = ($4 != "") ? $4 : id
        if (index(ran, " " wl " ") == 0) next
        name = $2; unit = $3
        g = cell("gochan", id, wl); gm = C_med; gr = C_rng
        o = cell("go", id, wl); om = C_med; orng = C_rng
        ratio = (gm != "" && om != "" && om > 0) ? sprintf("%.2f", gm / om) : "-"
        if (fmt == "md")
            printf "| %s | %s | %s | %s | **%s** | %s | %s |\n", name, unit, g, o, ratio, gr, orng
        else
            printf "%-64s %-7s %10s %10s %7s   %-21s %-21s\n", name, unit, g, o, ratio, gr, orng
    }
    END {
        for (why in reasons) print "n/a: " why > "/dev/stderr"
    }' 2>"$tmp/na_$1"
}

header_md='| workload | unit | gochan median | Go median | gochan/Go | gochan min - max | Go min - max |
| --- | --- | ---: | ---: | ---: | --- | --- |'
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
# The C side is built from the work tree: say so when it is not the commit.
[ -n "$(git -C "$root" status --porcelain --untracked-files=no -- . ':!bench' 2>/dev/null)" ] &&
    commit="$commit + uncommitted changes"
cc_version=$(${CC:-cc} --version 2>/dev/null | head -1)
go_version=$("$gobin" version | awk '{ print $3 }')
mode=$([ -n "$quick" ] && echo "quick (counts / 10)" || echo "full")

echo
printf "%-64s %-7s %10s %10s %7s   %-21s %-21s\n" workload unit gochan Go ratio \
    "gochan min - max" "Go min - max"
table text
notes=$(sort -u "$tmp/notes" "$tmp/na_text")
[ -n "$notes" ] && printf '\n%s\n' "$notes"
echo
echo "$rounds rounds, $mode, $elapsed s; $cores cores ($cpu), GOMAXPROCS=$cores; gochan $commit, $go_version"
echo "load average before: $load_start, after: $load_end"

if [ -n "$write_results" ]; then
    {
        echo "# gochan vs Go: benchmark results"
        echo
        echo "Produced by \`bench/run.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'):"
        echo "$rounds rounds, $mode, each workload in its own process, gochan and Go alternately."
        echo
        echo "- machine: $cores cores (nproc), $cpu, Linux $(uname -r)"
        echo "- gochan: commit $commit, $cc_version, -O2; chan_go on the goroutine scheduler (GOCHAN_SCHED=1, $cores Ps) for every row except B1-B4 and the 10k-thread rows, which run with GOCHAN_SCHED=0 (a kernel thread per chan_go, as before the scheduler) to stay comparable with earlier results"
        echo "- Go: $go_version, GOMAXPROCS=$cores"
        echo "- load average (1, 5, 15 min) before the run: $load_start; after: $load_end"
        echo
        echo "Medians over the rounds; lower is better; a ratio below 1 means gochan is faster."
        echo "The machine is shared, so single figures are noisy; compare the min - max ranges."
        echo
        echo "$header_md"
        table md
        if [ -n "$notes" ]; then
            echo
            printf '%s\n' "$notes" | sed 's/^/- /'
        fi
    } >"$here/RESULTS.md"
    echo "run.sh: wrote $here/RESULTS.md" >&2
    # The README shows the same table (without its title) between two markers.
    readme=$root/README.md
    if grep -q '^<!-- bench:begin -->$' "$readme"; then
        awk -v results="$here/RESULTS.md" '
            /^<!-- bench:begin -->$/ {
                print; skip = 1
                while ((getline line < results) > 0)
                    if (line !~ /^# /) print line
                next
            }
            /^<!-- bench:end -->$/ { skip = 0 }
            !skip' "$readme" >"$tmp/README.md" && cat "$tmp/README.md" >"$readme"
        echo "run.sh: updated the table in $readme" >&2
    fi
fi
