#!/bin/sh
# Starts, stops and restarts hello-app the way systemd or pm2 would: one process per host,
# its pid in $DEPLOY_DIR/hello.pid, its log in $SHARED_DIR/hello.log. Run by the release
# engine's hooks, which set DEPLOY_DIR, RELEASE_DIR and SHARED_DIR. With strategy blue-green
# they also set DEPLOY_SLOT and DEPLOY_PORT: each slot has its own pid file and port.
set -u
pidfile="$DEPLOY_DIR/hello${DEPLOY_SLOT:+-$DEPLOY_SLOT}.pid"
log="$SHARED_DIR/hello.log"
if [ -z "${HELLO_PORT:-}" ] && [ -f "$SHARED_DIR/.env" ]; then
  # shellcheck source=/dev/null
  . "$SHARED_DIR/.env"
fi
export HELLO_PORT="${DEPLOY_PORT:-${HELLO_PORT:-8080}}"

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

stop() {
  running || { rm -f "$pidfile"; return 0; }
  pid=$(cat "$pidfile")
  kill "$pid"
  i=0
  while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
  rm -f "$pidfile"
}

start() {
  setsid node "$RELEASE_DIR/server.js" >>"$log" 2>&1 </dev/null &
  echo $! >"$pidfile"
  i=0
  while [ "$i" -lt 100 ]; do
    curl -fs -o /dev/null "http://127.0.0.1:$HELLO_PORT/" && return 0
    running || { echo "hello-app exited; see $log" >&2; return 1; }
    sleep 0.05
    i=$((i + 1))
  done
  echo "hello-app did not answer on port $HELLO_PORT" >&2
  return 1
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  restart) stop && start ;;
  status) running ;;
  *) echo "usage: $0 start|stop|restart|status" >&2; exit 2 ;;
esac
