#!/usr/bin/env bash
# The README's run command (SPEC §15): the whole relay on this machine. Installs redis-server when missing (and
# permitted), builds the services and the dev stack once, then runs tools/DevStack, which starts Redis, the services,
# a demo channel, a connector and an echo target, and stops everything on Ctrl-C. Arguments go to the dev stack
# (--help lists them and the environment variables for ports and the admin token).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

require_dotnet
command -v redis-server >/dev/null || apt_install redis-server
command -v setsid >/dev/null || apt_install util-linux

log "build (Release)"
dotnet build tools/DevStack -c Release --verbosity quiet -nologo

exec dotnet tools/DevStack/bin/Release/net10.0/WebhookConnect.DevStack.dll "$@"
