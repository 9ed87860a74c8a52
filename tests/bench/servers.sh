# Sourced by the benchmark scripts: starting servers in the background and finding their URL.
# Needs $work (a scratch directory) and the array pids (every started PID, for the caller's cleanup).

# start NAME CMD... : starts a server in the background (output in $work/NAME.log), waits for the
# URL it prints, sets $url and $pid.
start() {
  local name="$1"; shift
  "$@" >"$work/$name.log" 2>&1 &
  pid=$!; pids+=("$pid")
  for _ in $(seq 1 600); do
    url="$(grep -oE 'http://127\.0\.0\.1:[0-9]+' "$work/$name.log" | head -1 || true)"
    [ -n "$url" ] && return 0
    sleep 0.1
  done
  echo "$name did not start:" >&2; cat "$work/$name.log" >&2; exit 1
}
