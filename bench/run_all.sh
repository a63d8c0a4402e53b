#!/usr/bin/env bash
# Every measurement of BENCHMARKS.md, each run twice; output kept in bench/results/.
#   bench/run_all.sh            # everything (about 75 minutes on the 2-core machine)
#   bench/run_all.sh bulk memory  # some groups: bulk | latency | sweep | memory
# Granian and uvicorn are run alternately (g, u, g, u) so both see the same noise.
set -u
cd "$(dirname "$0")/.."
PY=.venv/bin/python
OUT=bench/results
mkdir -p "$OUT"
WAIT=${QUIET_WAIT:-30}
RUNS=${RUNS:-2}
# Other sessions run test suites on the same two cores. A higher priority for the
# benchmark and its server (inherited by the server; PostgreSQL's own processes keep
# theirs) keeps some of that noise out of the figures; NICE=0 measures without it.
NICE=${NICE:--10}

once() {  # once NAME ARGS...: one run, appended to $OUT/NAME.txt
  local name=$1
  shift
  {
    echo "=== $(date -u +%FT%TZ) run: $*"
    nice -n "$NICE" "$PY" "$@" --quiet-wait "$WAIT" 2>&1
    echo "=== exit $?"
  } | tee -a "$OUT/$name.txt"
}

run() {  # run NAME ARGS...: RUNS runs
  for _ in $(seq 1 "$RUNS"); do once "$@"; done
}

pair() {  # pair NAME SCRIPT ARGS...: RUNS rounds of granian then uvicorn
  local name=$1
  shift
  for _ in $(seq 1 "$RUNS"); do
    once "$name-granian" "$@" --server granian
    once "$name-uvicorn" "$@" --server uvicorn
  done
}

groups=" ${*:-all} "
want() { [[ $groups == *" all "* || $groups == *" $1 "* ]]; }
if want bulk; then
  pair bulk-sqlite bench/intake_bulk.py --db sqlite
  pair bulk-postgresql bench/intake_bulk.py --db postgresql
  # a database in use: 1,000,000 messages already stored, with planner statistics
  pair bulk-postgresql-prefilled bench/intake_bulk.py --db postgresql --prefill 1000000
  run bulk-sqlite-granian-prefilled bench/intake_bulk.py --db sqlite --prefill 1000000
  # two server processes on the two cores; 8 senders, or the 4 keep-alive connections
  # may all land on one worker (runs then split into ~18,000 and ~30,000 msg/s)
  run bulk-sqlite-granian-workers2 bench/intake_bulk.py --db sqlite --workers 2
  pair bulk-postgresql-workers2-c8 bench/intake_bulk.py --db postgresql --workers 2 \
    --concurrency 8
fi
if want latency; then
  pair latency-sqlite bench/intake_latency.py --db sqlite
  pair latency-sqlite-normal bench/intake_latency.py --db sqlite --sqlite-synchronous NORMAL
  pair latency-postgresql bench/intake_latency.py --db postgresql
  pair latency-postgresql-prefilled bench/intake_latency.py --db postgresql --prefill 1000000
fi
if want sweep; then
  for rate in 100 200 300 400; do
    RUNS=1 run sweep-sqlite-granian bench/intake_latency.py --rate "$rate" --duration 30
    RUNS=1 run sweep-postgresql-granian bench/intake_latency.py --db postgresql --rate "$rate" \
      --duration 30
  done
fi
if want memory; then
  run memory-sqlite-granian bench/intake_memory.py --db sqlite --server granian
  run memory-postgresql-granian bench/intake_memory.py --db postgresql --server granian
  RUNS=1 run memory-sqlite-uvicorn bench/intake_memory.py --db sqlite --server uvicorn
fi
