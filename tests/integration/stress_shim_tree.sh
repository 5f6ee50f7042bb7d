#!/bin/sh
# SPDX-License-Identifier: MIT
# Stress: a process tree of shell scripts under LD_PRELOAD=libmemshim.so. Each node
# records whether libmemshim is mapped in its own /proc/<pid>/maps, then starts three
# children three different ways (a background job, a command substitution through env,
# a pipeline into xargs), four levels deep: 40 shells, plus a grep at every leaf that
# checks its own maps. With the default policy every process of the tree, grandchildren
# included, has the shim; with MEMSHIM_INHERIT=0 only the root has it.
. "$(dirname "$0")/../lib.sh"
need_preload
need_built "$SHIM"
need_cmd xargs

cat >"$TMP/node.sh" <<'SH'
# node.sh DEPTH NAME: one node of the tree; appends "NAME yes|no" to $TREE_OUT.
depth=$1
name=$2
if grep -q libmemshim "/proc/$$/maps"; then m=yes; else m=no; fi
echo "$name $m" >>"$TREE_OUT"
if [ "$depth" -lt 3 ]; then
    d=$((depth + 1))
    sh "$0" "$d" "$name.a" &
    out=$(env sh "$0" "$d" "$name.b")
    echo "$name.c" | xargs sh "$0" "$d"
    wait
else
    # A non-shell grandchild reads its own maps.
    n=$(grep -c libmemshim /proc/self/maps)
    if [ "$n" -gt 0 ]; then m=yes; else m=no; fi
    echo "$name.grep $m" >>"$TREE_OUT"
fi
SH

run_tree() { # label env-assignments...
    label=$1
    shift
    TREE_OUT="$TMP/tree.$label"
    : >"$TREE_OUT"
    # The root shell is the first process to get LD_PRELOAD (not env or timeout: with
    # MEMSHIM_INHERIT=0 they would take it out before exec'ing the root).
    env TREE_OUT="$TREE_OUT" "$@" timeout 60 env LD_PRELOAD="$SHIM" sh "$TMP/node.sh" 0 root ||
        fail "$label: the tree exited with status $?"
    total=$(wc -l <"$TREE_OUT")
    yes=$(grep -c ' yes$' "$TREE_OUT")
    [ "$total" -eq 67 ] || fail "$label: $total processes reported, expected 40 shells + 27 greps"
    echo "$label: $yes of $total processes have libmemshim mapped"
}

run_tree inherit
[ "$yes" -eq 67 ] || fail "inherit: missing in: $(grep ' no$' "$TMP/tree.inherit" | head -n 5)"
grep -qx 'root.c.b.a.grep yes' "$TMP/tree.inherit" || fail "inherit: great-great-grandchild"

run_tree noinherit MEMSHIM_INHERIT=0
grep -qx 'root yes' "$TMP/tree.noinherit" || fail "MEMSHIM_INHERIT=0: the root lost the shim"
[ "$yes" -eq 1 ] || fail "MEMSHIM_INHERIT=0: inherited by $(grep ' yes$' "$TMP/tree.noinherit" |
    grep -v '^root ' | head -n 5)"
echo "ok: every descendant inherits the preload by default, none with MEMSHIM_INHERIT=0"
