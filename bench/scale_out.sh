#!/usr/bin/env bash
# Scale out on one machine (issue 13, docs/scale-out.md): N web processes and M Celery workers
# on one PostgreSQL and one Redis, measured with bench/load.py.
#
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/tandem_bench REDIS_URL=redis://127.0.0.1:6379/5 \
#       bench/scale_out.sh                  # DURATION=15 USERS=8 by default
#
# 1. 1 gunicorn × 2 workers + 1 Celery worker, then 2 gunicorn × 1 worker + 2 Celery workers,
#    the mixed load. With two web processes each simulated user sends each request to the
#    next process, so a session made by one is read by the other and a token, a create or a
#    transition goes through both: zero errors shows that no state lives in a process. The
#    Celery tasks run per worker show both workers take work from the one Redis.
# 2. CONN_MAX_AGE 0 (a new PostgreSQL connection, so a new backend, per request) against 60.
# 3. The same through pgbouncer in transaction pooling (if installed), with
#    DISABLE_SERVER_SIDE_CURSORS=true, which that mode needs.
# 4. What the server runs with, and what the data set needs of it (shared_buffers).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${DATABASE_URL:?give a seeded PostgreSQL database in DATABASE_URL}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
DURATION="${DURATION:-15}"
USERS="${USERS:-8}"
PY=.venv/bin/python
SERVER="${DATABASE_URL%/*}"
DB="${DATABASE_URL##*/}"
DETAIL="incident API detail,list API default"

run() {
    echo
    echo "### bench/load.py $*"
    "$PY" bench/load.py --users "$USERS" --duration "$DURATION" "$@"
}

echo "## 1. N web processes × M workers on one PostgreSQL and one Redis"
run --phases mixed --web-processes 1 --web-workers 2 --celery-workers 1
run --phases mixed --web-processes 2 --web-workers 1 --celery-workers 2

connection_cost() {  # what CONN_MAX_AGE=0 adds to every request, without the app's noise
    "$PY" - "$1" <<'PY'
import sys, time
import psycopg2
url, n = sys.argv[1], 200
t = time.perf_counter()
for _ in range(n):
    conn = psycopg2.connect(url)
    conn.cursor().execute("SELECT 1")
    conn.close()
fresh = (time.perf_counter() - t) / n * 1000
conn = psycopg2.connect(url)
cur = conn.cursor()
t = time.perf_counter()
for _ in range(n):
    cur.execute("SELECT 1")
kept = (time.perf_counter() - t) / n * 1000
print(f"{url}: connect + SELECT 1 {fresh:.2f} ms, SELECT 1 on a kept connection {kept:.2f} ms")
PY
}

echo
echo "## 2. CONN_MAX_AGE: a connection per request, or kept"
connection_cost "$DATABASE_URL"
run --phases endpoints --endpoints "$DETAIL" --conn-max-age 0
run --phases endpoints --endpoints "$DETAIL" --conn-max-age 60

echo
echo "## 3. pgbouncer, transaction pooling"
if command -v pgbouncer >/dev/null; then
    dir="$(mktemp -d /tmp/bench-pgbouncer-XXXX)"
    chmod 755 "$dir"
    port="$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    host_port="${SERVER##*@}"
    cat >"$dir/pgbouncer.ini" <<EOF
[databases]
* = host=${host_port%:*} port=${host_port##*:}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $dir/userlist.txt
pool_mode = transaction
default_pool_size = 4
max_client_conn = 200
logfile = $dir/pgbouncer.log
log_connections = 0
log_disconnections = 0
EOF
    echo '"postgres" ""' >"$dir/userlist.txt"
    chown -R postgres "$dir" 2>/dev/null || true
    # pgbouncer refuses to run as root: -u drops to the postgres user.
    if [ "$(id -u)" = 0 ]; then pgbouncer -q -u postgres "$dir/pgbouncer.ini" & else pgbouncer -q "$dir/pgbouncer.ini" & fi
    bouncer=$!
    trap 'kill "$bouncer" 2>/dev/null || true' EXIT
    sleep 1
    pooled="postgres://postgres@127.0.0.1:$port/$DB"
    connection_cost "$pooled"
    DISABLE_SERVER_SIDE_CURSORS=true run --database-url "$pooled" --phases endpoints \
        --endpoints "$DETAIL" --conn-max-age 0
    DISABLE_SERVER_SIDE_CURSORS=true run --database-url "$pooled" --phases endpoints \
        --endpoints "$DETAIL" --conn-max-age 60
    kill "$bouncer"
    wait "$bouncer" 2>/dev/null || true
    trap - EXIT
else
    echo "pgbouncer is not installed (apt-get install pgbouncer): skipped"
fi

echo
echo "## 4. The server's settings, and what the data set needs of them"
psql "$DATABASE_URL" -X -q -P pager=off <<'SQL'
SELECT name, setting, unit FROM pg_settings
 WHERE name IN ('max_connections', 'shared_buffers', 'effective_cache_size', 'work_mem',
                'maintenance_work_mem', 'random_page_cost')
 ORDER BY name;
SELECT pg_size_pretty(pg_database_size(current_database())) AS database_size;
-- The working set of the queue and the API: the incident table and its indexes.
SELECT c.relname, pg_size_pretty(pg_table_size(c.oid)) AS table,
       pg_size_pretty(pg_indexes_size(c.oid)) AS indexes
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public' AND c.relkind = 'r'
 ORDER BY pg_total_relation_size(c.oid) DESC LIMIT 8;
SELECT blks_hit, blks_read,
       round(100.0 * blks_hit / nullif(blks_hit + blks_read, 0), 2) AS hit_percent,
       numbackends
  FROM pg_stat_database WHERE datname = current_database();
SQL
