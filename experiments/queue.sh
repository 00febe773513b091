#!/usr/bin/env bash
# Run experiment commands one after another (one model job at a time on a 2-core machine), each
# resumable; a failed step does not stop the queue. Usage:
#   nohup experiments/queue.sh experiments/queue_today.txt > runs/queue.log 2>&1 &
# The file holds one shell command per line (# comments allowed). Each finished line is recorded in
# runs/queue.done, so rerunning the queue skips what already finished.
set -u
list="${1:-}"
if [[ -z "$list" || ! -f "$list" ]]; then
  echo "queue.sh: give a queue file that exists (got '${list}'); usage: experiments/queue.sh experiments/i21/queue13.txt" >&2
  exit 2
fi
done_file="runs/queue.done"
mkdir -p runs
touch "$done_file"
while IFS= read -r cmd || [[ -n "$cmd" ]]; do  # the -n test: a last line without a newline still runs
  [[ -z "${cmd// }" || "$cmd" == \#* ]] && continue
  if grep -qxF -- "$cmd" "$done_file"; then echo "[queue] skip (done): $cmd"; continue; fi
  echo "[queue] $(date -u +%FT%TZ) start: $cmd"
  # stdin from /dev/null: a command that reads stdin would otherwise eat the rest of the queue file
  bash -c "$cmd" < /dev/null
  rc=$?  # kept before the log line: its $(date) would reset $? to 0
  if [[ $rc -eq 0 ]]; then
    echo "$cmd" >> "$done_file"
    echo "[queue] $(date -u +%FT%TZ) done: $cmd"
  else
    echo "[queue] $(date -u +%FT%TZ) FAILED ($rc): $cmd"
  fi
done < "$list"
