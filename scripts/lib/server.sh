# Sourced by scripts that need a running slm-server.
#
#   start_server BIN LOG [ARGS...]   starts BIN on a free 127.0.0.1 port with ARGS, stderr to
#                                    LOG; waits up to 60 s for /ready, failing fast (with the
#                                    log) if the server exits; sets PORT, BASE and SERVER (pid)
#   stop_server                      kills and reaps it (safe to call when none was started)

SERVER=""

start_server() {
  local bin=$1 log=$2
  shift 2
  PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  BASE="http://127.0.0.1:$PORT"
  "$bin" --port "$PORT" "$@" 2>"$log" &
  SERVER=$!
  for _ in $(seq 300); do
    curl -sf "$BASE/ready" >/dev/null 2>&1 && return 0
    if ! kill -0 "$SERVER" 2>/dev/null; then
      cat "$log" >&2
      echo "slm-server exited before it was ready" >&2
      return 1
    fi
    sleep 0.2
  done
  cat "$log" >&2
  echo "slm-server not ready at $BASE/ready" >&2
  return 1
}

stop_server() {
  if [ -n "$SERVER" ]; then
    kill "$SERVER" 2>/dev/null || true
    wait "$SERVER" 2>/dev/null || true
  fi
}
