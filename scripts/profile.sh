#!/usr/bin/env bash
# CPU profile of every service under the end-to-end benchmark's throughput phase (issue 19, docs/performance.md).
#
#   scripts/profile.sh [--tool perf|dotnet-trace] [--messages 100000] [--out DIR] [--all-frames] [-- benchmark args]
#
# Runs tests/Benchmarks/EndToEnd (Release) with --phase-file, waits until phase 2 (throughput: POST → target → ack)
# starts, records a CPU profile until it ends, and writes per service (queue-manager, ingress, connector; perf also
# redis-server and the benchmark process, which holds the target and the load generator) the top frames by self time
# and by inclusive time into DIR (default /tmp/webhookconnect-profile), beside the benchmark's own output (which has
# the CPU µs, allocated bytes and Redis commands per webhook of the same phase).
#
#   --tool perf          (default) `perf record -e cpu-clock -g` of the whole machine (Debian: linux-perf), with
#                        DOTNET_PerfMapEnabled=1 so JIT-compiled frames have names (/tmp/perf-<pid>.map) and
#                        DOTNET_EnableWriteXorExecute=0 so perf finds them (with W^X on, JIT code runs from a
#                        double-mapped memfd that the map does not cover). Sees native and kernel time too.
#   --tool dotnet-trace  `dotnet-trace collect --profile dotnet-sampled-thread-time` of each .NET service (managed
#                        frames only, every method named, including ReadyToRun framework code), then
#                        `dotnet-trace report … topN`. Installed into DIR/tools from NuGet when missing.
#   --all-frames         (perf) DOTNET_ReadyToRun=0: the framework's precompiled code is JIT-compiled too, so its
#                        frames get names instead of "[unknown] (…/System.Private.CoreLib.dll)". Costs JIT time
#                        at startup (before the measured phase) and changes code quality a little: use it to read
#                        where framework time goes, not for the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

tool=perf messages=100000 out=/tmp/webhookconnect-profile all_frames=0
bench_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --tool) tool="$2"; shift 2 ;;
    --messages) messages="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --all-frames) all_frames=1; shift ;;
    --) shift; bench_args=("$@"); break ;;
    -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case "$tool" in perf|dotnet-trace) ;; *) echo "--tool takes perf or dotnet-trace, not '$tool'" >&2; exit 2 ;; esac
[[ "$messages" =~ ^[0-9]+$ ]] || { echo "--messages takes a number, not '$messages'" >&2; exit 2; }

require_dotnet
command -v h2load >/dev/null || apt_install nghttp2-client
command -v redis-server >/dev/null || apt_install redis-server
mkdir -p "$out"
rm -f "$out"/*.txt "$out"/*.data "$out"/*.nettrace "$out/phases"
if [ "$tool" = perf ]; then
  command -v perf >/dev/null || apt_install linux-perf
  perf record -e cpu-clock -o "$out/probe.data" -- true >/dev/null 2>&1 ||
    { echo "perf cannot record here (kernel.perf_event_paranoid is $(cat /proc/sys/kernel/perf_event_paranoid)); run as root or lower it" >&2; exit 1; }
  rm -f "$out/probe.data"
else
  trace="$out/tools/dotnet-trace"
  [ -x "$trace" ] || dotnet tool install --tool-path "$out/tools" dotnet-trace --version 10.0.750501 >/dev/null
fi

log "building the end-to-end benchmark and the services (Release)"
dotnet build -c Release tests/Benchmarks/EndToEnd -v q -nologo >/dev/null

export DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0
[ "$all_frames" = 1 ] && export DOTNET_ReadyToRun=0
log "running the benchmark (--messages $messages); its output: $out/benchmark.txt"
dotnet run -c Release --no-build --project tests/Benchmarks/EndToEnd -- --messages "$messages" --phase-file "$out/phases" "${bench_args[@]}" \
  >"$out/benchmark.txt" 2>&1 &
bench=$!
trap 'kill $bench 2>/dev/null || true' EXIT

wait_for() { # file pattern seconds
  local deadline=$((SECONDS + $3))
  until grep -q "$2" "$1" 2>/dev/null; do
    kill -0 $bench 2>/dev/null || { echo "the benchmark ended before '$2':" >&2; tail -30 "$out/benchmark.txt" >&2; exit 1; }
    [ $SECONDS -lt $deadline ] || { echo "no '$2' in $1 after $3 s" >&2; exit 1; }
    sleep 0.2
  done
}
wait_for "$out/benchmark.txt" '^processes:' 300
pids=$(grep -m1 '^processes:' "$out/benchmark.txt")
pid_of() { sed -E "s/.*$1 ([0-9]+).*/\\1/" <<<"$pids"; }
declare -A services=(
  [queue-manager]=$(pid_of queue-manager) [ingress]=$(pid_of ingress) [connector]=$(pid_of connector)
  [redis-server]=$(pid_of redis-server) [benchmark]=$(pid_of 'benchmark \(load \+ target\)'))
wait_for "$out/phases" '^throughput start' 600

# Job control on: background jobs of a script otherwise ignore SIGINT, which both recorders take as "stop and save".
set -m
recorders=()
if [ "$tool" = perf ]; then
  perf record -e cpu-clock -F 999 -a -g -o "$out/perf.data" >/dev/null 2>"$out/perf-record.txt" &
  recorders+=($!)
else
  for name in queue-manager ingress connector; do
    "$trace" collect -p "${services[$name]}" --profile dotnet-sampled-thread-time -o "$out/$name.nettrace" >"$out/$name-collect.txt" 2>&1 &
    recorders+=($!)
  done
fi
wait_for "$out/phases" '^throughput end' 600
kill -INT "${recorders[@]}"
wait "${recorders[@]}" || true
set +m
log "the profile covers phase 2 only; waiting for the benchmark to finish"
wait $bench || { echo "the benchmark failed:" >&2; tail -30 "$out/benchmark.txt" >&2; exit 1; }
trap - EXIT

log "reports"
if [ "$tool" = perf ]; then
  for name in "${!services[@]}"; do
    for mode in self inclusive; do
      children=--no-children; [ $mode = inclusive ] && children=--children
      perf report -i "$out/perf.data" --pid "${services[$name]}" $children --sort sym -g none --percentage relative --stdio 2>/dev/null \
        | grep -v '^#' | grep -v '^$' | cut -c1-220 | head -60 >"$out/$name-$mode.txt" || true
    done
  done
else
  for name in queue-manager ingress connector; do
    "$trace" report "$out/$name.nettrace" topN -n 40 >"$out/$name-self.txt" 2>&1 || true
    "$trace" report "$out/$name.nettrace" topN -n 40 --inclusive >"$out/$name-inclusive.txt" 2>&1 || true
  done
fi
sed -n '/^End-to-end benchmark/,$p' "$out/benchmark.txt" | grep -E '^  (2\.|   )' | head -12 || true
echo
ls -1 "$out"/*-self.txt "$out"/*-inclusive.txt
