#!/usr/bin/env bash
# The README's run command (SPEC §15): the whole relay on this machine, on .NET Aspire (hosting/WebhookConnect.AppHost).
# Installs redis-server when missing (and permitted), builds the AppHost (which builds every service), then runs it:
# Redis, the services, a demo channel, a connector, an echo target and the Aspire dashboard. Ctrl-C or SIGTERM stops
# everything. --help answers at once, without building.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  cat <<'HELP'
Usage: scripts/run.sh [--data DIR] [--fresh]

Starts the whole relay on this machine with .NET Aspire: a private redis-server, queue-manager, ingress, admin, a
demo channel 'demo' with endpoint 'demo', a connector and an echo target that prints each delivery, and the Aspire
dashboard (every process's console and structured logs, the trace of each webhook, metrics). The terminal shows
what to try, each delivery the echo target receives, and every warning and error of every process. Ctrl-C (or
SIGTERM) stops everything and returns once no process is left.

Options:
  --data DIR   where Redis keeps its data (AOF) and the services their files (default: .devstack in the
               repository); queued messages survive a restart of the stack
  --fresh      delete the data directory first (an empty Redis)
  --help       this text

Environment:
  ADMIN_TOKEN                      admin token, at least 32 characters (admin refuses shorter ones); default:
                                   generated for this run and printed. Kept in DIR/admin-token, never on a
                                   command line.
  REDIS_PORT                       6390   the private redis-server (not 6379, so a system Redis does not collide)
  QUEUE_MANAGER_PORT               5001   queue-manager public gRPC (Connect, for connectors)
  QUEUE_MANAGER_HTTP_PORT          5003   queue-manager HTTP/1.1 connector protocols (WebSocket, SSE, long-poll)
  QUEUE_MANAGER_INTERNAL_PORT      5004   queue-manager internal gRPC (Publish, internal admin; loopback, no token here)
  INGRESS_PORT                     8080   ingress: POST /webhook/{endpoint}
  ADMIN_GRPC_PORT                  5002   admin gRPC (grpcurl)
  ADMIN_HTTP_PORT                  8082   admin HTTP/JSON twin (curl) and operator console
  ECHO_PORT                        8099   the echo target the demo connector delivers to
  INGRESS_MANAGEMENT_PORT          9090   ingress /healthz /readyz /metrics
  QUEUE_MANAGER_MANAGEMENT_PORT    9091   queue-manager /healthz /readyz /metrics
  ADMIN_MANAGEMENT_PORT            9092   admin /healthz /readyz /metrics
  CONNECTOR_MANAGEMENT_PORT        9093   connector /healthz /readyz /metrics
  DASHBOARD_PORT                   18888  the Aspire dashboard (its login URL is printed)
  DASHBOARD_OTLP_PORT              18889  the dashboard's OTLP/gRPC receiver the services export to
  DASHBOARD_RESOURCE_SERVICE_PORT  18890  the AppHost's resource service the dashboard reads

Working on a service: rebuild it (dotnet build -c Release services/Ingress) and press Restart on its row in the
dashboard; the other processes keep running.
HELP
}

for argument in "$@"; do
  case "$argument" in
    -h|--help) usage; exit 0 ;;
  esac
done

# shellcheck source=scripts/lib.sh
. scripts/lib.sh

require_dotnet
command -v redis-server >/dev/null || apt_install redis-server

log "build (Release)"
dotnet build hosting/WebhookConnect.AppHost -c Release --verbosity quiet -nologo

# exec: Ctrl-C and SIGTERM reach the AppHost itself, which stops every resource and waits for them.
exec dotnet hosting/WebhookConnect.AppHost/bin/Release/net10.0/WebhookConnect.AppHost.dll "$@"
