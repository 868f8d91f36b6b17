#!/usr/bin/env bash
# A private Docker engine for tests: `start` installs Debian's docker.io (if missing), starts
# dockerd in its own network namespace (the host's iptables stay untouched) with its own
# data/exec roots and socket, waits until it answers, and prints `export DOCKER_HOST=...`.
# `stop` ends it. Idempotent: `start` on a running engine only prints the export line.
set -euo pipefail
ROOT=${ECSFLEET_DOCKER_ROOT:-/tmp/ecsfleet-docker}
NETNS=${ECSFLEET_DOCKER_NETNS:-ecsfleet-docker}
SOCK="$ROOT/docker.sock"
PIDFILE="$ROOT/dockerd.pid"

say_env() { echo "export DOCKER_HOST=unix://$SOCK"; }

running() {
  [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null &&
    curl -fsS --max-time 2 --unix-socket "$SOCK" http://localhost/_ping >/dev/null 2>&1
}

install() {
  if command -v dockerd >/dev/null && [ -x /usr/bin/busybox ] && command -v nsenter >/dev/null \
    && command -v ip >/dev/null && command -v curl >/dev/null; then
    return
  fi
  echo "installing docker.io busybox-static iproute2 curl (apt)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends docker.io busybox-static iproute2 curl >&2
}

start_with() {
  local driver=$1
  rm -f "$SOCK" "$PIDFILE"
  nsenter --net="/run/netns/$NETNS" dockerd \
    --data-root "$ROOT/data" --exec-root "$ROOT/exec" --pidfile "$PIDFILE" \
    -H "unix://$SOCK" --storage-driver "$driver" >"$ROOT/dockerd-$driver.log" 2>&1 &
  for _ in $(seq 1 150); do
    if curl -fsS --max-time 2 --unix-socket "$SOCK" http://localhost/_ping >/dev/null 2>&1; then
      echo "dockerd ready ($driver)" >&2
      return 0
    fi
    if ! kill -0 $! 2>/dev/null; then
      return 1
    fi
    sleep 0.2
  done
  kill $! 2>/dev/null || true
  return 1
}

case "${1:-}" in
  start)
    if running; then say_env; exit 0; fi
    install
    mkdir -p "$ROOT"
    if [ ! -e "/run/netns/$NETNS" ]; then
      ip netns add "$NETNS"
      ip netns exec "$NETNS" ip link set lo up
    fi
    if ! start_with overlay2; then
      echo "overlay2 failed (see $ROOT/dockerd-overlay2.log); trying vfs" >&2
      start_with vfs || { cat "$ROOT/dockerd-vfs.log" >&2; exit 1; }
    fi
    say_env
    ;;
  stop)
    if [ -f "$PIDFILE" ]; then
      pid=$(cat "$PIDFILE")
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      rm -f "$PIDFILE"
    fi
    [ -e "/run/netns/$NETNS" ] && ip netns delete "$NETNS" || true
    ;;
  env) say_env ;;
  *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
