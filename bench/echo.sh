#!/usr/bin/env bash
# bench/echo.sh: the echo server on gochan's network poller against Go's, with
# one load generator, over loopback.
#
#   bench/echo.sh                      3 rounds at 100, 1,000 and 10,000
#                                      connections, then the cancel rows
#   bench/echo.sh --rounds N           N rounds (medians need 3 or more)
#   bench/echo.sh --conns "100 1000"   these connection counts only
#   bench/echo.sh --window S           load phase of S seconds (default 3)
#   bench/echo.sh --trials N           cancel trials per row (default 1000)
#   bench/echo.sh --no-cancel          skip the cancel rows
#   bench/echo.sh --only-cancel        only the cancel rows
#   bench/echo.sh --markdown FILE      also write the table, as Markdown, to FILE
#   bench/echo.sh --c-server PATH      use PATH as the "gochan" server and
#                                      build no C (run Go against Go to check
#                                      the harness: --c-server of Go's binary)
#
# What it does:
#   1. builds the library, examples/echo_server.c and bench/net_cancel.c in
#      $BUILD_DIR (default build-echo/ at the top of the repository): CMake,
#      Release, -O2, no sanitizers, no tests;
#   2. builds, offline, with Debian's Go 1.19 (/usr/lib/go-1.19/bin/go),
#      standard library only: the Go twin examples/echo_server.go, the load
#      generator bench/go/echoload and the cancel twin bench/go/netcancel;
#   3. raises `ulimit -n` to what the largest row needs (each process holds
#      one descriptor per connection, and a few), up to the hard limit; it
#      says so when the hard limit is too low for a row (that row then
#      fails, and shows "err");
#   4. for each round, for each connection count, starts a fresh C server,
#      runs echoload against it, stops it (SIGTERM: it must exit 0), then
#      the same with the Go server: C and Go alternate, so that noise from
#      other work on a shared machine falls on both alike. Go runs with
#      GOMAXPROCS = nproc, gochan with its default (nproc processors);
#   5. for each round, runs net_cancel and netcancel alternately;
#   6. prints medians with min - max over the rounds, and the ratio
#      gochan/Go (below 1: gochan is lower; for round trips/s higher is
#      better, for everything else lower).
#
# echoload's phases (bench/go/echoload/main.go says more): the server's RSS
# with no connection; open N connections (64 dials in flight at most, with
# retries), each sends one 64-byte request at once: "time until all
# answered"; 0.5 s quiet, RSS again: "RSS per idle connection"; then every
# connection keeps one request outstanding for the window: round trips/s,
# p50/p99 latency; then the server's threads and VmHWM.
#
# Bounded: every process runs under timeout(1); every server is killed at
# the end, even on failure or Ctrl-C. Loopback only (127.0.0.1). A full run
# takes about 3-5 minutes on 2 cores. The figures are noisy on a shared
# machine: the load average before and after is printed with them.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=${BUILD_DIR:-$root/build-echo}
gobin=/usr/lib/go-1.19/bin/go

rounds=3
conns_list="100 1000 10000"
window=3
trials=1000
do_echo=1
do_cancel=1
markdown=
c_server=
while [ $# -gt 0 ]; do
    case $1 in
    --rounds) rounds=$2; shift ;;
    --rounds=*) rounds=${1#*=} ;;
    --conns) conns_list=$2; shift ;;
    --conns=*) conns_list=${1#*=} ;;
    --window) window=$2; shift ;;
    --window=*) window=${1#*=} ;;
    --trials) trials=$2; shift ;;
    --trials=*) trials=${1#*=} ;;
    --no-cancel) do_cancel= ;;
    --only-cancel) do_echo= ;;
    --markdown) markdown=$2; shift ;;
    --markdown=*) markdown=${1#*=} ;;
    --c-server) c_server=$2; shift ;;
    --c-server=*) c_server=${1#*=} ;;
    -h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "echo.sh: unknown argument: $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
done
positive() { case $1 in '' | *[!0-9]* | 0) return 1 ;; esac; }
positive "$rounds" || { echo "echo.sh: --rounds needs a positive number" >&2; exit 2; }
positive "$window" || { echo "echo.sh: --window needs a positive number of seconds" >&2; exit 2; }
positive "$trials" || { echo "echo.sh: --trials needs a positive number" >&2; exit 2; }
[ "$rounds" -le 50 ] && [ "$window" -le 60 ] && [ "$trials" -le 100000 ] ||
    { echo "echo.sh: at most 50 rounds, a 60 s window, 100000 trials" >&2; exit 2; }
max_conns=0
for n in $conns_list; do
    positive "$n" && [ "$n" -le 30000 ] ||
        { echo "echo.sh: connection counts are 1..30000: $n" >&2; exit 2; }
    [ "$n" -gt "$max_conns" ] && max_conns=$n
done

tmp=$(mktemp -d)
server_pid=
# stop_server: SIGTERM (the servers' clean stop), then SIGKILL after 5 s.
# Sets server_status to the exit status (or "killed").
stop_server() {
    server_status=
    [ -n "$server_pid" ] || return 0
    local pid=$server_pid i
    server_pid=
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        server_status=killed
    else
        server_status=0
        wait "$pid" 2>/dev/null || server_status=$?
    fi
}
cleanup() {
    stop_server
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'echo "echo.sh: interrupted" >&2; exit 130' INT TERM

# ---- build ------------------------------------------------------------------
if [ ! -x "$gobin" ]; then
    echo "echo.sh: installing golang-1.19-go" >&2
    sudo=; [ "$(id -u)" -ne 0 ] && sudo=sudo
    $sudo apt-get install -y golang-1.19-go ||
        { $sudo apt-get update && $sudo apt-get install -y golang-1.19-go; }
fi
mkdir -p "$build/bench"

if [ -z "$c_server" ]; then
    echo "echo.sh: building echo_server and net_cancel in $build" >&2
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" -DGOCHAN_SANITIZER= \
        -DGOCHAN_BUILD_BENCH=ON -DGOCHAN_BUILD_TESTS=OFF -DGOCHAN_BUILD_EXAMPLES=ON \
        >"$tmp/cmake.log" 2>&1 || { cat "$tmp/cmake.log" >&2; exit 1; }
    cmake --build "$build" --target echo_server net_cancel -j "$(nproc)" \
        >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log" >&2; exit 1; }
    c_server=$build/examples/echo_server
    c_cancel=$build/bench/net_cancel
else
    c_server=$(cd "$(dirname "$c_server")" && pwd)/$(basename "$c_server")
    [ -x "$c_server" ] || { echo "echo.sh: --c-server $c_server is not executable" >&2; exit 2; }
    c_cancel=
fi

echo "echo.sh: building the Go programs with $("$gobin" version)" >&2
goenv=(env GOPATH="$tmp/gopath" GOCACHE="$tmp/gocache" GOPROXY=off GOFLAGS=-mod=mod
    GOTOOLCHAIN=local CGO_ENABLED=0)
go_server=$build/bench/echo_server_go
echoload=$build/bench/echoload
go_cancel=$build/bench/netcancel
(cd "$root/examples" && "${goenv[@]}" GO111MODULE=off "$gobin" build -o "$go_server" echo_server.go)
(cd "$here/go" && "${goenv[@]}" GO111MODULE=on "$gobin" build -o "$echoload" ./echoload)
(cd "$here/go" && "${goenv[@]}" GO111MODULE=on "$gobin" build -o "$go_cancel" ./netcancel)

# ---- descriptors ------------------------------------------------------------
cores=$(nproc)
notes=$tmp/notes
: >"$notes"
need=$((max_conns + 256))
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$need" ]; then
    echo "echo.sh: the hard limit on open files is $hard; $max_conns connections need $need per process: those rows will fail (raise it: ulimit -Hn, limits.conf)" >&2
    echo "hard limit on open files $hard < $need: the $max_conns-connection rows cannot all connect" >>"$notes"
    ulimit -n "$hard"
else
    soft=$(ulimit -Sn)
    [ "$soft" != unlimited ] && [ "$soft" -lt "$need" ] && ulimit -n "$need"
fi
echo "echo.sh: ulimit -n $(ulimit -n)" >&2

# ---- run --------------------------------------------------------------------
results=$tmp/results.tsv # impl <TAB> round <TAB> id <TAB> value
: >"$results"
raw=$build/echo-bench.log # every echoload and cancel line, for the record
: >"$raw"

# start_server IMPL: a fresh server on 127.0.0.1:0; sets server_pid and addr.
start_server() {
    local impl=$1 i
    addr=
    if [ "$impl" = gochan ]; then
        "$c_server" 127.0.0.1:0 >"$tmp/server.out" 2>"$tmp/server.err" &
    else
        GOMAXPROCS=$cores "$go_server" 127.0.0.1:0 >"$tmp/server.out" 2>"$tmp/server.err" &
    fi
    server_pid=$!
    for ((i = 0; i < 100; i++)); do
        addr=$(awk '/^listening on / { print $3; exit }' "$tmp/server.out")
        [ -n "$addr" ] && return 0
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.05
    done
    echo "echo.sh: $impl server did not start: $(head -c 300 "$tmp/server.err")" >&2
    stop_server
    return 1
}

# echo_run IMPL ROUND CONNS
echo_run() {
    local impl=$1 round=$2 n=$3 rc=0 line
    if ! start_server "$impl"; then
        printf '%s\t%s\terr_%s\t1\n' "$impl" "$round" "$n" >>"$results"
        echo "$impl: the server did not start (round $round, $n connections)" >>"$notes"
        return 0
    fi
    timeout -k 5 $((window + 150)) "$echoload" -addr "$addr" -conns "$n" \
        -pid "$server_pid" -window "${window}s" -label "$impl" \
        >"$tmp/load.out" 2>"$tmp/load.err" || rc=$?
    stop_server
    line=$(grep '^echoload ' "$tmp/load.out" || true)
    echo "round=$round $line" >>"$raw"
    if [ $rc -ne 0 ] || [ -z "$line" ]; then
        local why="exit status $rc"
        [ $rc -eq 124 ] && why="timed out"
        echo "echo.sh: $impl, $n connections, round $round: echoload failed ($why): $(head -c 300 "$tmp/load.err")" >&2
        echo "$impl: echoload failed at $n connections in round $round ($why; $(head -c 200 "$tmp/load.err" | tr '\n' ' '))" >>"$notes"
        printf '%s\t%s\terr_%s\t1\n' "$impl" "$round" "$n" >>"$results"
        return 0
    fi
    [ "$server_status" = 0 ] ||
        echo "$impl: the server did not exit cleanly on SIGTERM (status $server_status) after $n connections in round $round" >>"$notes"
    printf '%s\n' "$line" | tr ' ' '\n' | awk -F= -v impl="$impl" -v r="$round" -v n="$n" '
        NF == 2 && $1 != "impl" { print impl "\t" r "\t" $1 "_" n "\t" $2 }' >>"$results"
}

# cancel_run IMPL ROUND COMMAND...
cancel_run() {
    local impl=$1 round=$2 rc=0
    shift 2
    timeout -k 5 120 "$@" --trials "$trials" >"$tmp/cancel.out" 2>"$tmp/cancel.err" || rc=$?
    sed "s/^/round=$round $impl /" "$tmp/cancel.out" >>"$raw"
    awk -F'\t' -v impl="$impl" -v r="$round" -v notes="$notes" '
        $1 == "note" { print impl ": " $2 >> notes; next }
        NF >= 3 { print impl "\t" r "\t" $1 "\t" $2 }' "$tmp/cancel.out" >>"$results"
    if [ $rc -ne 0 ]; then
        echo "echo.sh: $impl cancel: exit status $rc: $(head -c 300 "$tmp/cancel.err")" >&2
        echo "$impl: the cancel benchmark failed in round $round (exit status $rc)" >>"$notes"
        printf '%s\t%s\terr_cancel\t1\n' "$impl" "$round" >>"$results"
    fi
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
start=$(date +%s)
for ((r = 1; r <= rounds; r++)); do
    if [ -n "$do_echo" ]; then
        for n in $conns_list; do
            echo "echo.sh: round $r/$rounds, $n connections" >&2
            echo_run gochan "$r" "$n"
            echo_run go "$r" "$n"
        done
    fi
    if [ -n "$do_cancel" ]; then
        echo "echo.sh: round $r/$rounds, cancel" >&2
        [ -n "$c_cancel" ] && cancel_run gochan "$r" "$c_cancel"
        cancel_run go "$r" "$go_cancel"
    fi
done
elapsed=$(($(date +%s) - start))
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- report -----------------------------------------------------------------
# Rows: id | label | unit. An id ending in _N stands for every count N run.
rows=
if [ -n "$do_echo" ]; then
    for n in $conns_list; do
        rows+="threads_end_$n|$n conns: server threads at the end|count
threads_max_$n|$n conns: server threads, most seen|count
connect_ms_$n|$n conns: time until all answered once|ms
rtt_per_s_$n|$n conns: round trips/s (higher is better)|1/s
p50_us_$n|$n conns: round-trip latency p50|us
p99_us_$n|$n conns: round-trip latency p99|us
rss_per_idle_conn_b_$n|$n conns: RSS per idle connection|B
hwm_kb_$n|$n conns: server VmHWM (peak RSS)|KiB
"
    done
fi
if [ -n "$do_cancel" ]; then
    rows+="cancel_p50|blocked read stopped by cancel (Go: past deadline): p50|us
cancel_p99|blocked read stopped by cancel (Go: past deadline): p99|us
cancel_max|blocked read stopped by cancel (Go: past deadline): max|us
deadline_p50|blocked read stopped by a past deadline: p50|us
deadline_p99|blocked read stopped by a past deadline: p99|us
deadline_max|blocked read stopped by a past deadline: max|us
thread_cancel_p50|as cancel, the reader on a locked thread: p50|us
thread_cancel_p99|as cancel, the reader on a locked thread: p99|us
thread_cancel_max|as cancel, the reader on a locked thread: max|us
"
fi

table() { # $1 = md or text
    printf '%s' "$rows" | awk -F'|' -v fmt="$1" -v results="$results" '
    BEGIN {
        while ((getline line < results) > 0) {
            split(line, f, "\t")
            k = f[1] SUBSEP f[3]
            if (f[3] ~ /^err_/) { err[k] = 1; continue }
            if (f[4] + 0 < 0) continue # -1: not measured (no /proc)
            n[k]++; val[k, n[k]] = f[4] + 0
        }
    }
    function stat(impl, id,    k, m, i, j, t, a) {
        k = impl SUBSEP id; m = n[k]
        if (m == 0) return 0
        for (i = 1; i <= m; i++) a[i] = val[k, i]
        for (i = 2; i <= m; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
        S_min = a[1]; S_max = a[m]
        S_med = (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
        return 1
    }
    function num(x) {
        if (x >= 1000 || x <= -1000) return sprintf("%.0f", x)
        if (x >= 100 || x <= -100) return sprintf("%.1f", x)
        if (x >= 10 || x <= -10) return sprintf("%.2f", x)
        return sprintf("%.3f", x)
    }
    function fmtv(x) { return (unit == "count" && x == int(x)) ? sprintf("%d", x) : num(x) }
    function cell(impl, id,    c) {
        if (stat(impl, id)) {
            C_med = S_med; C_rng = fmtv(S_min) " - " fmtv(S_max)
            return fmtv(S_med)
        }
        C_med = ""; C_rng = ""
        c = id; sub(/^.*_/, "", c)
        if ((impl SUBSEP "err_" c) in err || (impl SUBSEP "err_cancel") in err) return "err"
        return "n/a"
    }
    NF >= 3 {
        id = $1; name = $2; unit = $3
        g = cell("gochan", id); gm = C_med; gr = C_rng
        o = cell("go", id); om = C_med; orng = C_rng
        ratio = (gm != "" && om != "" && om > 0) ? sprintf("%.2f", gm / om) : "-"
        if (fmt == "md")
            printf "| %s | %s | %s | %s | **%s** | %s | %s |\n", name, unit, g, o, ratio, gr, orng
        else
            printf "%-62s %-6s %10s %10s %7s   %-21s %-21s\n", name, unit, g, o, ratio, gr, orng
    }'
}

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git -C "$root" status --porcelain --untracked-files=no -- . ':!bench' 2>/dev/null)" ] &&
    commit="$commit + uncommitted changes"
go_version=$("$gobin" version | awk '{ print $3 }')
summary="$rounds rounds, ${window} s load window, $trials cancel trials, $elapsed s; $cores cores ($cpu), GOMAXPROCS=$cores; gochan $commit, $go_version"
loads="load average (1, 5, 15 min) before: $load_start; after: $load_end"

echo
printf "%-62s %-6s %10s %10s %7s   %-21s %-21s\n" row unit gochan Go ratio \
    "gochan min - max" "Go min - max"
table text
[ -s "$notes" ] && { echo; sort -u "$notes"; }
echo
echo "$summary"
echo "$loads"
echo "raw lines: $raw"

if [ -n "$markdown" ]; then
    {
        echo "Produced by \`bench/echo.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'): $summary."
        echo "The $loads."
        echo "Medians over the rounds, with min - max; the ratio is gochan/Go (for round trips/s higher is better, for every other row lower)."
        echo
        echo '| row | unit | gochan median | Go median | gochan/Go | gochan min - max | Go min - max |'
        echo '| --- | --- | ---: | ---: | ---: | --- | --- |'
        table md
        if [ -s "$notes" ]; then
            echo
            sort -u "$notes" | sed 's/^/- /'
        fi
    } >"$markdown"
    echo "echo.sh: wrote $markdown" >&2
fi
