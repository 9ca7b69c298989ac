#!/usr/bin/env bash
# analytics_cli.sh — the contract of the analytics commands (issue 4): `strata sql`
# with repeated --param and --json/--csv, `strata metric record TABLE JSON` with its
# errors (exit 1, nothing recorded), `strata analytics export DIR` read back by
# DuckDB (through `strata sql` on a second store), `strata analytics summary`, and
# the metric counts in `strata stats`. Prints "N passed, N failed".
set -u

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"     # the shared preamble and helpers
need_cli
need python3 "to check JSON"
workdir strata-an-cli
FAIL_STDOUT_BYTES=             # fail shows stdout's first 5 lines without a byte cap

# helpers: pass, fail, run, t, t_out, t_json, py, has_out and has_err are lib.sh's
count() { # count TABLE: rows in TABLE of store S
    "$CLI" --dir "$S" sql "SELECT count(*) AS n FROM $1" --csv 2>/dev/null | tail -1
}

t 0 --dir "$S" init
OLD=$(( $(date +%s) * 1000 - 2 * 86400000 )) # two days ago: older than the summary's 24 h, kept by retention

# ---- help ----
for c in sql "metric" "metric record" "analytics" "analytics export" "analytics summary"; do
    # shellcheck disable=SC2086
    t 0 help $c;                   has_out "usage: strata"
done
t 0 help sql;                      has_out "--param NAME=VALUE"
run help sql
awk 'length > 80 { bad = 1 } END { exit bad }' "$T/out" && pass || fail "help sql fits 80 columns"
run help metric record
awk 'length > 80 { bad = 1 } END { exit bad }' "$T/out" && pass || fail "help metric record fits 80 columns"

# ---- metric record ----
t 0 --dir "$S" metric record query_metrics \
    '{"query_type":"search","latency_ms":12.5,"result_count":3,"retrieval_strategy":"dense","success":true}'
t 0 --dir "$S" metric record query_metrics \
    '{"query_type":"qa","latency_ms":30,"result_count":0,"retrieval_strategy":"hybrid","success":false,"timestamp":'"$OLD"'}'
echo '{"model_name":"bge-m3","embedding_time_ms":4,"text_length":800,"dimension":1024}' |
    "$CLI" --dir "$S" metric record embedding_metrics - >"$T/out" 2>"$T/err"; rc=$?
last="metric record embedding_metrics -"
[ "$rc" -eq 0 ] && pass || fail "record from stdin"
t 0 --dir "$S" metric record reranking_metrics \
    '{"query_type":"qa","document_count":20,"rerank_time_ms":8,"quality_score":0.9}'
t 0 --dir "$S" metric record system_metrics '{"metric_name":"gpu.util","metric_value":0.5,"metric_unit":"ratio"}'
t 1 --dir "$S" metric record query_metrics '{"query_type":"search","latency_ms":1,"result_count":1,"success":true}'
has_err "missing field 'retrieval_strategy'"
t 1 --dir "$S" metric record query_metrics \
    '{"query_type":"search","latency_ms":"fast","result_count":1,"retrieval_strategy":"d","success":true}'
has_err "'latency_ms' must be a number"
t 1 --dir "$S" metric record query_metrics \
    '{"query_type":"search","latency_ms":1,"result_count":1,"retrieval_strategy":"d","success":"yes"}'
has_err "'success' must be true or false"
t 1 --dir "$S" metric record embedding_metrics '{"model_name":"m","embedding_time_ms":1,"text_length":1.5,"dimension":3}'
has_err "'text_length' must be an integer"
t 1 --dir "$S" metric record query_metrics '{"query_type":"search","extra":1}'
has_err "no field 'extra'"
t 1 --dir "$S" metric record query_metrics 'not json'
has_err "not valid JSON"
t 1 --dir "$S" metric record op_metrics '{}'
has_err "no metric table"
t 2 --dir "$S" metric record query_metrics
t_out 0 "n
2" --dir "$S" sql "SELECT count(*) AS n FROM query_metrics" --csv
[ "$(count embedding_metrics)" = 1 ] && [ "$(count reranking_metrics)" = 1 ] && [ "$(count system_metrics)" = 1 ] &&
    pass || fail "one row in each other table"

# ---- sql ----
t_json --dir "$S" sql "SELECT query_type, latency_ms, success, timestamp FROM query_metrics ORDER BY query_type" --json
py "len(d) == 2 and d[0]['query_type'] == 'qa' and d[0]['latency_ms'] == 30 and d[0]['success'] is False"
py "d[0]['timestamp'] == $OLD and d[1]['success'] is True"
t_json --dir "$S" sql 'SELECT count(*) AS n FROM query_metrics WHERE latency_ms > $min AND retrieval_strategy = $s' \
    --param min=10 --param s=dense --json
py "d == [{'n': 1}]"
t_json --dir "$S" sql 'SELECT $1 + $2 AS a, $3 AS b, $4 AS c, $5 IS NULL AS d' \
    --param 2=40 --param 1=2 --param=3=it\'s --param 4=2.5 --param 5=null --json
py "d == [{'a': 42, 'b': \"it's\", 'c': 2.5, 'd': True}]"
t_out 0 'q,"a,b","x""y"
1,"a,b","x""y"' --dir "$S" sql "SELECT 1 AS q, 'a,b' AS \"a,b\", 'x\"y' AS \"x\"\"y\"" --csv
t 0 --dir "$S" sql "SELECT query_type, count(*) AS n FROM query_metrics GROUP BY 1 ORDER BY 1"
has_out "query_type  n"
has_out "search      1"
t 0 --dir "$S" sql "CREATE TABLE notes (n INT); INSERT INTO notes VALUES (1), (2); SELECT sum(n) AS s FROM notes" --csv
has_out "3"
t 1 --dir "$S" sql 'SELECT count(*) FROM query_metrics WHERE latency_ms > $min' --param min=abc
has_err "Conversion Error"
t 1 --dir "$S" sql "SELEC 1";             has_err "syntax error"
t 1 --dir "$S" sql 'SELECT $x';           has_err "has no value"
t 1 --dir "$S" sql 'SELECT 1' --param y=2; has_err "no such parameter"
t 1 --dir "$S" sql "SELECT [1, 2] AS l";  has_err "CAST it to VARCHAR"
t 2 --dir "$S" sql 'SELECT 1' --param novalue
has_err "NAME=VALUE"
t 2 --dir "$S" sql 'SELECT $1' --param 2=x
has_err "without gaps"
t 2 --dir "$S" sql "SELECT 1" --json --csv
t 2 --dir "$S" sql
t 2 --dir "$S" sql "SELECT 1" "SELECT 2"
# Values never become SQL text.
t_json --dir "$S" sql 'SELECT $v AS v' --param "v=1'); DROP TABLE query_metrics; --" --json
py "d == [{'v': \"1'); DROP TABLE query_metrics; --\"}]"
[ "$(count query_metrics)" = 2 ] && pass || fail "query_metrics intact"

# ---- stats ----
t_json --dir "$S" stats --json
py "d['query_metrics'] == 2 and d['embedding_metrics'] == 1 and d['reranking_metrics'] == 1"
py "d['system_metrics'] >= 1 and d['metric_hourly_rows'] >= 4 and d['op_metrics'] >= 0"
t 0 --dir "$S" stats;                      has_out "query_metrics"

# ---- summary ----
t 0 --dir "$S" analytics summary
has_out "Queries in the last 24 hours"
has_out "Latency by retrieval strategy"
has_out "bge-m3"
t_json --dir "$S" analytics summary --json
py "d['latest_query_stats']['total_queries'] == 1 and d['latest_query_stats']['avg_latency_ms'] == 12.5"
py "[r['retrieval_strategy'] for r in d['latency_percentiles']] == ['dense']"
py "d['embedding_throughput'][0]['model_name'] == 'bge-m3' and d['embedding_throughput'][0]['embeddings'] == 1"
py "isinstance(d['hourly_queries'], list) and isinstance(d['hourly_operations'], list)"

# ---- export ----
t 0 --dir "$S" analytics export "$T/pq";   has_out "Parquet file"
n=$(find "$T/pq/table=query_metrics" -path '*/day=????-??-??/*.parquet' | wc -l)
[ "$n" -eq 2 ] && pass || fail "hive layout: $n files under table=query_metrics/day=*/"
t 0 --dir "$T/reader" init
t_json --dir "$T/reader" sql "SELECT count(*) AS n, count(DISTINCT day) AS days FROM read_parquet(\$p, hive_partitioning = true)" \
    --param "p=$T/pq/table=query_metrics/*/*.parquet" --json
py "d == [{'n': 2, 'days': 2}]"
t 1 --dir "$S" analytics export "$T/pq";   has_err "not an empty directory"
t_json --dir "$S" analytics export "$T/pq2" --json
py "d['files'] >= 5 and d['dir'].endswith('pq2')"
t 2 --dir "$S" analytics export

finish
