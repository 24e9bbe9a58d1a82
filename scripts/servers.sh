#!/usr/bin/env bash
# Install what the real-server tests need (Debian 12): redis-server, rabbitmq-server (with
# Erlang), and the MongoDB-wire test server secantusdb in its own venv (.venv-mongo).
# A fast no-op when everything is there. The servers themselves are started by the tests
# (tests/servers.py) on loopback with temporary directories and free ports.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v redis-cli >/dev/null || need+=(redis-tools)
compgen -G "/usr/lib/rabbitmq/lib/rabbitmq_server-*/sbin/rabbitmq-server" >/dev/null || need+=(rabbitmq-server)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null; then SUDO="sudo"; else
      echo "servers.sh: missing ${need[*]} and not root (no sudo): install them with apt-get" >&2
      exit 1
    fi
  fi
  echo "servers.sh: installing ${need[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
fi
if [ -z "${MONGO_URL:-}" ] && [ ! -x .venv-mongo/bin/secantusd-py ]; then
  echo "servers.sh: installing secantusdb into .venv-mongo"
  PY=${PY:-python3}
  "$PY" -m venv .venv-mongo
  .venv-mongo/bin/pip install -q secantusdb==0.7.0b3
fi
