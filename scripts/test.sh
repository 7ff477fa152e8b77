#!/usr/bin/env bash
# The project's test command (README "Test"). On a fresh Debian/Ubuntu machine with the .NET SDK it installs what
# the tests need, builds without warnings, checks formatting and runs every test project.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*"; }

apt_install() {
  # Installs Debian packages when we may (root, or passwordless sudo); otherwise says how.
  local packages=("$@")
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
  else
    echo "Missing: ${packages[*]}. Install with: sudo apt-get install -y ${packages[*]}" >&2
    exit 1
  fi
}

log "prerequisites"
command -v dotnet >/dev/null || { echo "The .NET SDK 10 is required: https://learn.microsoft.com/dotnet/core/install/linux-debian" >&2; exit 1; }
missing=()
# A private redis-server per test (tests/TestKit/RedisServer.cs); never a system instance.
command -v redis-server >/dev/null || missing+=(redis-server)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
# The @grpc/grpc-js interop client and server (tests/interop), pinned by package-lock.json.
npm ci --prefix tests/interop --no-audit --no-fund --loglevel=error

log "build (warnings are errors)"
dotnet restore Services.sln --verbosity quiet
dotnet build Services.sln --no-restore -c Release -warnaserror --verbosity quiet -nologo

log "format check"
dotnet format Services.sln --no-restore --verify-no-changes

log "tests"
dotnet test Services.sln --no-build -c Release --logger "console;verbosity=normal" "$@"
