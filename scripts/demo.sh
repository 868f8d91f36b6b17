#!/usr/bin/env bash
# `make demo`: start the sandbox with the demo world, then run ecsfleet against it.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
PORT=${DEMO_PORT:-4566}
mkdir -p .demo
export AWS_ENDPOINT_URL="http://127.0.0.1:${PORT}" AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_ACCESS_KEY_ID=sandbox AWS_SECRET_ACCESS_KEY=sandbox

export DEMO_DNS_PORT=${DEMO_DNS_PORT:-8053}
"$BIN/ecsfleet" sandbox up --port "$PORT" --dns-port "$DEMO_DNS_PORT" --seed demo > .demo/env 2> .demo/sandbox.log &
SANDBOX_PID=$!
trap 'kill "$SANDBOX_PID" 2>/dev/null; wait "$SANDBOX_PID" 2>/dev/null || true' EXIT
if ! "$BIN/ecsfleet" sandbox ready --timeout 60; then
  cat .demo/sandbox.log >&2
  exit 1
fi
# The seed runs after the endpoint answers: wait until its services have tasks.
for _ in $(seq 1 100); do
  grep -q '^export' .demo/env 2>/dev/null && break
  sleep 0.2
done

echo "== The sandbox is up at $AWS_ENDPOINT_URL (log: .demo/sandbox.log)"
"$BIN/python" scripts/demo.py
