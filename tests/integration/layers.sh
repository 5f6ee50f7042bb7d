#!/bin/sh
# SPDX-License-Identifier: MIT
# The layers point one way (docs/architecture.md#layers): shim/ -> heapprof/ -> defrag/ ->
# kvcore/ -> tools/. A plain reading of every `#include "..."` line of the .c and .h files
# in those folders, each header mapped to the folder that holds it:
#  - a file never includes a header of a higher layer (so there is no cycle between
#    folders either);
#  - a folder's internal headers (*_internal.h, and shim/ms_defs.h) are included only from
#    their own folder (tests/ is not checked: unit tests look inside their module).
# Headers found in no layer folder (system headers, the generated profile.pb-c.h) are not
# layers. A header name held by two folders is an error: an include must say one thing.
# usage: sh tests/integration/layers.sh [TREE]   (TREE: the tree to check, default this one)
. "$(dirname "$0")/../lib.sh"
self=$top/tests/integration/layers.sh
cd "${1:-$top}" || exit 2

layers="shim heapprof defrag kvcore tools"

rank() { # folder -> its position in $layers (0 = lowest)
    i=0
    for l in $layers; do
        [ "$l" = "$1" ] && { echo $i; return; }
        i=$((i + 1))
    done
    echo -1
}

# Exceptions still to remove, one "file: header" a line (none today). Each must still
# occur, so the list can only shrink.
known=""

# header name -> folder, from the files present
map=$(for l in $layers; do
    for h in "$l"/*.h; do [ -f "$h" ] && echo "$(basename "$h") $l"; done
done)
dups=$(echo "$map" | awk '{print $1}' | sort | uniq -d)
bad=0
if [ -n "$dups" ]; then
    for d in $dups; do echo "FAIL: header $d exists in more than one layer folder"; done
    bad=1
fi

seen_known=""
for l in $layers; do
    r=$(rank "$l")
    for f in "$l"/*.c "$l"/*.h; do
        [ -f "$f" ] || continue
        # `#include "x.h"` (spaces allowed after '#'), the name only
        for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f"); do
            name=$(basename "$inc")
            hl=$(echo "$map" | awk -v n="$name" '$1 == n {print $2; exit}')
            [ -n "$hl" ] || continue # not a layer's header
            why=""
            hr=$(rank "$hl")
            if [ "$hr" -gt "$r" ]; then
                why="includes $hl/$name, a header of a higher layer"
            elif [ "$hl" != "$l" ]; then
                case "$name" in
                *_internal.h | ms_defs.h) why="includes $hl/$name, internal to $hl/" ;;
                esac
            fi
            [ -n "$why" ] || continue
            if printf '%s\n' "$known" | grep -qxF "$f: $name"; then
                seen_known="$seen_known
$f: $name"
                echo "known: $f $why (to be removed)"
                continue
            fi
            echo "FAIL: $f $why"
            bad=1
        done
    done
done

printf '%s\n' "$known" | while IFS= read -r k; do
    [ -n "$k" ] || continue
    printf '%s\n' "$seen_known" | grep -qxF "$k" ||
        echo "FAIL: '$k' is listed as a known exception but no longer occurs: remove it from $0"
done | grep . && bad=1

[ $bad -eq 0 ] || exit 1
echo "ok: every include points down the layers $layers"

# The check must be able to fail: on a copy of the folders, each planted include below
# must be reported (once per run on the real tree, not on copies).
[ $# -eq 0 ] || exit 0
tmp=$TMP/copy
mkdir -p "$tmp" || exit 2
for plant in "shim/stats.c kv.h" "heapprof/util.c defrag.h" "defrag/cycle.c memshim_internal.h" \
    "tools/heapprof.c heapprof_internal.h" "shim/ctlcmd.c heapprof.h"; do
    set -- $plant
    rm -rf "${tmp:?}"/*
    for l in $layers; do
        mkdir -p "$tmp/$l"
        cp "$l"/*.c "$l"/*.h "$tmp/$l/" 2>/dev/null
    done
    printf '#include "%s"\n' "$2" >>"$tmp/$1"
    if out=$(sh "$self" "$tmp" 2>&1); then
        echo "FAIL: a planted '#include \"$2\"' in $1 was not reported"
        exit 1
    fi
    echo "$out" | grep -q "^FAIL: $1 includes" || {
        echo "FAIL: the planted include in $1 failed for another reason:"
        echo "$out"
        exit 1
    }
done
echo "ok: planted includes of a higher layer or another folder's internal header fail"
