# dispatch-lib.sh -- shared by profile-dispatch.sh and compare-dispatch.sh
# (sourced, not run): start the benchmark's activity endpoint and a noop
# worker against it, both on 127.0.0.1, as bench.js's dispatch runs do.
# shellcheck shell=bash disable=SC2034  # dl_* are read by the scripts that source this

# dl_start_fake WORKDIR: fake_activity.js in tasks mode; sets dl_fake (pid)
# and dl_port.
dl_start_fake() {
  local work=$1 top
  top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  node "$top/tests/bench/fake_activity.js" --mode tasks --max-seconds 300 >"$work/port" &
  dl_fake=$!
  for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
  dl_port=$(sed 's/.*"port": *\([0-9]*\).*/\1/' "$work/port")
}

# dl_start_worker BIN SLOTS WORKDIR: `BIN worker --handler noop` with dummy
# keys and nothing of the caller's environment; sets dl_worker (pid).
dl_start_worker() {
  env -i PATH="$PATH" HOME="$3" AWS_EC2_METADATA_DISABLED=true AWS_REGION=us-east-1 \
    AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY \
    AWS_ENDPOINT_URL_SFN="http://127.0.0.1:$dl_port" \
    BACKFILL_ACTIVITY_ARN=arn:aws:states:us-east-1:123456789012:activity:bench \
    BACKFILL_HANDLER=noop BACKFILL_CONCURRENCY="$2" BACKFILL_WORKER_NAME=bw-dispatch \
    "$1" worker 2>/dev/null &
  dl_worker=$!
}

# dl_succeeded: tasks the endpoint has seen answered so far.
dl_succeeded() {
  curl -s "http://127.0.0.1:$dl_port/__admin/stats" | sed 's/.*"succeeded":\([0-9]*\).*/\1/'
}

# dl_cpu_ticks PID: the process's utime + stime so far, in clock ticks.
dl_cpu_ticks() {
  awk '{print $14 + $15}' "/proc/$1/stat"
}
