#!/usr/bin/env bash
# The "leaked database transaction" scenario end to end, on a throw-away PostgreSQL cluster.
#
#   scripts/pg-scenario.sh [--out DIR] [--fixed-only] [--attach] TXLEAK_PG_BINARY [-- PREFIX...]
#
#   TXLEAK_PG_BINARY  a build of testdata/txleak_pg
#   PREFIX...         a command the service is started under, e.g. a tracer:
#                       scripts/pg-scenario.sh build/txleak_pg -- build/deftrace -o trace.txt
#                     (started as PREFIX... TXLEAK_PG_BINARY)
#   --out DIR         keep the service's stdout/stderr (service.out, service.err), the
#                     pg_stat_activity rows (activity.txt) and the result (result.txt) in DIR
#   --fixed-only      send only the requests that leak nothing (/fixed-transfer, /ctx-transfer):
#                     0 idle-in-transaction sessions expected
#   --attach          PREFIX is a deftrace command that attaches to the running service instead:
#                     the service starts untraced; once it listens, PREFIX... -p PID -o
#                     DIR/trace.txt --jsonl DIR/trace.jsonl runs (its stderr in DIR/deftrace.err).
#                     After the requests and the count (and a second more, for a --leak-age
#                     under 1 s), deftrace is sent SIGUSR1 and, once its leak_report is in
#                     trace.jsonl, SIGTERM: it must detach and exit 0, and the service must go
#                     on answering (/stats) until /quit.
#
# Steps: start a cluster (scripts/pg-cluster.sh), create the schema, start the service with
# DEFTRACE_PG set, wait for its "listening on http://..." line, send
#   /transfer?id=1..6         odd ids panic before Commit: 3 leaked transactions (1, 3, 5)
#   /fixed-transfer?id=11..13 defer tx.Rollback(): no leak
#   /ctx-transfer?id=21..23   rolled back by the request context's cancellation: no leak
# one curl per request (a fresh connection each: net/http drops the connection of a panicking
# handler, and curl does not retry), then count the service's sessions that PostgreSQL shows
# "idle in transaction", /quit the service, check it exits with status 0, stop the cluster.
#
# Prints (stdout, one per line): expected_leaked=N, idle_in_transaction=N, in_use=N (the
# service's pool, from /stats), service_exit=N, with --attach tracer_exit=N, then PASS or FAIL.
# Exit status 0 when the count is the expected one and the service (and an attached deftrace)
# exited with status 0; 1 on a mismatch or any failure,
# with the reason on stderr. Needs scripts/setup-postgres.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

die() { echo "pg-scenario: $*" >&2; exit 1; }
usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

out=
fixed_only=
attach=
while [[ ${1:-} == --* ]]; do
  case $1 in
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    --fixed-only) fixed_only=1; shift ;;
    --attach) attach=1; shift ;;
    --) break ;;
    *) usage ;;
  esac
done
bin=${1:-}
[[ -n $bin ]] || usage
shift
prefix=()
if [[ ${1:-} == -- ]]; then shift; prefix=("$@"); elif (($#)); then usage; fi
[[ -x $bin ]] || die "$bin is not an executable"
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
command -v curl >/dev/null || die "no curl; run scripts/setup-postgres.sh"
command -v psql >/dev/null || die "no psql; run scripts/setup-postgres.sh"

transfer_ids=(1 2 3 4 5 6)
[[ -z $fixed_only ]] || transfer_ids=()
fixed_ids=(11 12 13)
ctx_ids=(21 22 23)
expected=0
for id in "${transfer_ids[@]}"; do ((id % 2 == 1)) && expected=$((expected + 1)); done

work=$(mktemp -d /tmp/deftrace-pgscen.XXXXXX)
cluster=$work/cluster
if [[ -n $out ]]; then mkdir -p "$out"; out=$(cd "$out" && pwd); else out=$work/out; mkdir -p "$out"; fi
svc_pid=
tracer_pid=
cleanup() {
  local rc=$?
  if [[ -n $tracer_pid ]] && kill -0 "$tracer_pid" 2>/dev/null; then
    kill -TERM "$tracer_pid" 2>/dev/null || true
    wait "$tracer_pid" 2>/dev/null || true
  fi
  if [[ -n $svc_pid ]] && kill -0 "$svc_pid" 2>/dev/null; then
    kill -TERM "$svc_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$svc_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$svc_pid" 2>/dev/null || true
  fi
  "$here/pg-cluster.sh" stop "$cluster" || true
  if ((rc != 0)) && [[ -s $out/service.err ]]; then
    echo "pg-scenario: service stderr (last lines):" >&2
    tail -n 20 "$out/service.err" >&2
  fi
  rm -rf "$work"
}
trap cleanup EXIT

conninfo=$("$here/pg-cluster.sh" start "$cluster")
q() { "$here/pg-cluster.sh" psql "$cluster" -qAt "$@"; }
q <<'SQL'
CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL);
CREATE TABLE ledger (id serial PRIMARY KEY, account int NOT NULL, amount bigint NOT NULL);
INSERT INTO accounts SELECT g, 1000 FROM generate_series(1, 100) g;
-- A request that waits for a leaked transaction's row lock fails instead of hanging the run.
ALTER DATABASE deftrace SET lock_timeout = '5s';
SQL

app=txleak_pg_$$
under=("${prefix[@]}")
[[ -z $attach ]] || under=()
((${#prefix[@]})) || [[ -z $attach ]] || die "--attach needs a deftrace command after --"
# Emptied here, not by the redirections of the background job: the loop below must never read
# what an earlier run with the same --out left there (its URL, its "attached" line).
: >"$out/service.out"
: >"$out/service.err"
[[ -z $attach ]] || : >"$out/deftrace.err"
DEFTRACE_PG="$conninfo application_name=$app" \
  "${under[@]}" "$bin" >"$out/service.out" 2>"$out/service.err" </dev/null &
svc_pid=$!

url=
for _ in $(seq 300); do # up to 30 s: a tracer may be slow to start the program
  url=$(grep -o -m1 'listening on http://[0-9.:]*' "$out/service.out" 2>/dev/null | sed 's/^listening on //' || true)
  [[ -z $url ]] || break
  kill -0 "$svc_pid" 2>/dev/null || { wait "$svc_pid" && rc=0 || rc=$?; svc_pid=; die "the service exited (status $rc) before listening"; }
  sleep 0.1
done
[[ -n $url ]] || die "the service printed no 'listening on http://...' line within 30 s"

if [[ -n $attach ]]; then
  "${prefix[@]}" -p "$svc_pid" -o "$out/trace.txt" --jsonl "$out/trace.jsonl" 2>"$out/deftrace.err" &
  tracer_pid=$!
  for _ in $(seq 300); do # deftrace says so once its breakpoints are in
    grep -q '^deftrace: attached to process' "$out/deftrace.err" 2>/dev/null && break
    kill -0 "$tracer_pid" 2>/dev/null || die "deftrace -p exited before attaching: $(cat "$out/deftrace.err")"
    sleep 0.1
  done
  grep -q '^deftrace: attached to process' "$out/deftrace.err" || die "deftrace did not attach within 30 s"
fi

get() { curl -sS --max-time 20 -o "$work/body" -w '%{http_code}' "$url$1" 2>"$work/curl.err" || true; }
# For a failed request's message: what curl said, and whether the service (or deftrace running
# it) is still there.
why() {
  cat "$work/body" "$work/curl.err" 2>/dev/null
  kill -0 "$svc_pid" 2>/dev/null && echo "(the service is running)" || echo "(the service has exited)"
}
for id in "${transfer_ids[@]}"; do
  code=$(get "/transfer?id=$id")
  want=200; ((id % 2 == 1)) && want=000 # the panic drops the connection: no response at all
  [[ $code == "$want" ]] ||
    die "/transfer?id=$id answered HTTP $code, expected $want: $(why)"
done
for id in "${fixed_ids[@]}" "${ctx_ids[@]}"; do
  path=/fixed-transfer; ((id > 20)) && path=/ctx-transfer
  code=$(get "$path?id=$id")
  want=200; ((id % 2 == 1)) && want=000
  [[ $code == "$want" ]] ||
    die "$path?id=$id answered HTTP $code, expected $want: $(why)"
done

# A context-cancelled transaction is rolled back by another goroutine, shortly after the
# connection dropped: wait until the count stops changing (at most 5 s).
count_sql="SELECT count(*) FROM pg_stat_activity
           WHERE state = 'idle in transaction' AND datname = 'deftrace' AND application_name = '$app'"
count=$(q -c "$count_sql")
for _ in $(seq 50); do
  [[ $count == "$expected" ]] && break
  sleep 0.1
  count=$(q -c "$count_sql")
done
sleep 0.2
count=$(q -c "$count_sql")
q -c "SELECT pid, state, backend_xid IS NOT NULL AS wrote, query FROM pg_stat_activity
      WHERE datname = 'deftrace' AND application_name = '$app' ORDER BY pid" >"$out/activity.txt"
in_use=$(curl -sS --max-time 20 "$url/stats" | sed -n 's/.*in_use=\([0-9]*\).*/\1/p')

tracer_exit=
if [[ -n $attach ]]; then
  sleep 1
  kill -USR1 "$tracer_pid"
  for _ in $(seq 100); do
    grep -q '"trigger":"SIGUSR1"' "$out/trace.jsonl" 2>/dev/null && break
    sleep 0.1
  done
  grep -q '"trigger":"SIGUSR1"' "$out/trace.jsonl" || die "no leak_report in the trace 10 s after SIGUSR1"
  kill -TERM "$tracer_pid"
  wait "$tracer_pid" && tracer_exit=0 || tracer_exit=$?
  tracer_pid=
  kill -0 "$svc_pid" 2>/dev/null || die "the service is gone after deftrace detached"
  # Still serving, untraced now: the same pool, seen again.
  in_use=$(curl -sS --max-time 20 "$url/stats" | sed -n 's/.*in_use=\([0-9]*\).*/\1/p')
  [[ -n $in_use ]] || die "the service does not answer /stats after deftrace detached"
fi

curl -sS --max-time 20 -o /dev/null "$url/quit" || die "/quit failed"
status=
for _ in $(seq 300); do
  if ! kill -0 "$svc_pid" 2>/dev/null; then
    wait "$svc_pid" && status=0 || status=$?
    svc_pid=
    break
  fi
  sleep 0.1
done
[[ -n $status ]] || die "the service did not exit within 30 s of /quit"

{
  echo "expected_leaked=$expected"
  echo "idle_in_transaction=$count"
  echo "in_use=$in_use"
  echo "service_exit=$status"
  [[ -z $attach ]] || echo "tracer_exit=$tracer_exit"
} | tee "$out/result.txt"
if [[ $count != "$expected" ]]; then
  echo FAIL | tee -a "$out/result.txt"
  echo "pg-scenario: the service's sessions (pid|state|wrote|query):" >&2
  cat "$out/activity.txt" >&2
  die "PostgreSQL shows $count idle-in-transaction sessions, expected $expected"
fi
if [[ $status != 0 ]]; then
  echo FAIL | tee -a "$out/result.txt"
  die "the service exited with status $status, expected 0"
fi
if [[ -n $attach && $tracer_exit != 0 ]]; then
  echo FAIL | tee -a "$out/result.txt"
  die "deftrace -p exited with status $tracer_exit, expected 0: $(cat "$out/deftrace.err")"
fi
echo PASS | tee -a "$out/result.txt"
