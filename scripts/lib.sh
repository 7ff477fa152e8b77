# Shared by scripts/test.sh and scripts/run.sh (sourced, not run).

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

require_dotnet() {
  command -v dotnet >/dev/null || { echo "The .NET SDK 10 is required: https://learn.microsoft.com/dotnet/core/install/linux-debian" >&2; exit 1; }
}
