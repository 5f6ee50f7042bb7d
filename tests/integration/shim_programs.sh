#!/bin/sh
# SPDX-License-Identifier: MIT
# Real programs under LD_PRELOAD=libmemshim.so print byte-identical output to a run
# without it: python3 on an allocation-heavy script, sort on a few MB of input, sqlite3
# building, indexing and querying a table.
. "$(dirname "$0")/../lib.sh"
need_preload
need_built "$SHIM"
need_cmd sqlite3
[ -x /usr/bin/python3 ] || skip "/usr/bin/python3 is not installed"

cat >"$TMP/heavy.py" <<'PY'
import hashlib, random
rng = random.Random(1234)
h = hashlib.sha256()
d = {}
recent = []
for i in range(200000):
    k = "key:%d:%s" % (i, "x" * rng.randrange(0, 64))
    d[k] = [rng.random() for _ in range(rng.randrange(0, 8))]
    recent.append(k)
    if i % 3 == 0:
        d.pop(recent.pop(rng.randrange(len(recent))), None)
    if len(recent) > 64:
        del recent[:32]
for k in sorted(d)[:50000]:
    h.update(k.encode())
    h.update(repr(d[k]).encode())
blobs = [bytes(rng.randrange(1, 100000)) for _ in range(300)]
s = "".join(str(x) for x in range(300000))
print(len(d), sum(map(len, blobs)), len(s), h.hexdigest())
PY
same_output python3 /usr/bin/python3 "$TMP/heavy.py"

awk 'BEGIN { srand(42); for (i = 0; i < 150000; i++) printf "%08d %s %d\n", int(rand() * 1e8), substr("abcdefghijklmnopqrstuvwxyz", 1 + i % 26), i }' >"$TMP/sort.in"
[ "$(wc -c <"$TMP/sort.in")" -gt 3000000 ] || fail "sort input is too small"
same_output sort env LC_ALL=C sort -S 1M -k2,2 -k1,1n "$TMP/sort.in"
same_output sort_parallel env LC_ALL=C sort --parallel=4 -S 8M -r "$TMP/sort.in"

cat >"$TMP/sqlite3.in" <<'SQL'
CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, grp INTEGER, val REAL, blob BLOB);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000)
INSERT INTO t SELECT x, 'name-' || (x * 7919 % 100003), x % 97, (x * 31 % 1000) / 7.0,
       zeroblob(x % 300) FROM c;
CREATE INDEX t_name ON t(name);
CREATE INDEX t_grp ON t(grp, val);
SELECT grp, count(*), round(sum(val), 3), sum(length(blob)) FROM t GROUP BY grp ORDER BY grp;
SELECT name, id FROM t WHERE name LIKE 'name-99%' ORDER BY name LIMIT 20;
UPDATE t SET name = upper(name) WHERE id % 5 = 0;
DELETE FROM t WHERE id % 7 = 0;
VACUUM;
SELECT count(*), count(DISTINCT name), max(id), min(val) FROM t;
SQL
# A fresh database file for each run.
same_output sqlite3 sh -c 'rm -f "$1"; sqlite3 "$1"' sh "$TMP/db.sqlite"
cp "$TMP/sqlite3.in" "$TMP/sqlite3_memory.in"
same_output sqlite3_memory sqlite3 :memory:
[ "$(wc -l <"$TMP/sqlite3.plain")" -eq 118 ] || fail "sqlite3 printed $(wc -l <"$TMP/sqlite3.plain") lines, expected 118"
echo "all programs identical under the shim"
