#!/bin/sh
# SPDX-License-Identifier: MIT
# heapprof's command-line conventions: --version; --help, `help CMD` and every
# subcommand's --help (or -h, even after other arguments) print usage to stdout and exit 0;
# a usage error prints exactly one line plus "Try 'heapprof [CMD] --help' ..." to stderr
# and exits 1. --alloc on a dump without allocation totals (prof_accum off) says so and
# exits 1, writing no report (no nan); a dump with them reports them. `heapprof flame`
# shows its progress on a terminal (a pty; HEAPPROF_PROGRESS_DELAY=0 so that the line does
# not depend on the machine's speed) and writes nothing to a piped stderr.
set -u
. "$(dirname "$0")/../lib.sh"
need_built "$HP"
need_cmd python3
fail=0

# --- version and help ---
want_version=$(sed -n 's/^#define MEMSHIM_VERSION "\(.*\)"$/\1/p' shim/memshim.h)
got=$("$HP" --version)
check "--version" "0 heapprof (memshim) $want_version" "$? $got"

"$HP" --help >"$TMP/help.out" 2>"$TMP/help.err"
check "--help exit" 0 $?
check "--help first line" "usage: heapprof <command> ...   (heapprof <command> --help for details)" \
    "$(head -n 1 "$TMP/help.out")"
check "--help stderr" "" "$(cat "$TMP/help.err")"

for cmd in top diff collapsed flame pprof; do
    for h in --help -h; do
        "$HP" "$cmd" "$h" >"$TMP/$cmd.out" 2>"$TMP/$cmd.err"
        check "$cmd $h exit" 0 $?
        check "$cmd $h usage line" "usage: heapprof $cmd " "$(head -n 1 "$TMP/$cmd.out" | cut -c1-$((17 + ${#cmd})))"
        grep -q '^  -h, --help ' "$TMP/$cmd.out" || check "$cmd $h lists --help" yes no
        check "$cmd $h stderr" "" "$(cat "$TMP/$cmd.err")"
    done
    "$HP" help "$cmd" >"$TMP/$cmd.help" 2>&1
    check "help $cmd exit" 0 $?
    cmp -s "$TMP/$cmd.out" "$TMP/$cmd.help" || check "help $cmd = $cmd --help" same different
    # --help wins over bad arguments around it
    "$HP" "$cmd" --bogus x y z --help >"$TMP/$cmd.out2" 2>&1
    check "$cmd --bogus --help exit" 0 $?
    cmp -s "$TMP/$cmd.out" "$TMP/$cmd.out2" || check "$cmd --help after --bogus" same different
done
grep -q '^  --alloc  *.*prof_accum:true' "$TMP/top.out" || check "top --help explains --alloc" yes no
grep -q -- '--title' "$TMP/top.out" && check "top --help lists only top's options" yes no

# --- usage errors: one line, then the hint ---
printf 'heap_v2/1\n  t*: 1: 100 [0: 0]\n@ 0xa0\n  t*: 1: 100 [0: 0]\n\nMAPPED_LIBRARIES:\n' \
    >"$TMP/noacc.heap"
usage_error() { # hint-command args...
    hint=$1
    shift
    "$@" >"$TMP/ue.out" 2>"$TMP/ue.err"
    rc=$?
    what="$(echo "$*" | sed "s|$HP|heapprof|; s|$TMP/||g")"
    check "$what: exit" 1 "$rc"
    check "$what: stdout" "" "$(cat "$TMP/ue.out")"
    check "$what: lines" 2 "$(wc -l <"$TMP/ue.err")"
    check "$what: hint" "Try '$hint --help' for more information." "$(sed -n 2p "$TMP/ue.err")"
    case $(head -n 1 "$TMP/ue.err") in
    "heapprof"*": "*) ;;
    *) check "$what: first line" "heapprof...: ..." "$(head -n 1 "$TMP/ue.err")" ;;
    esac
}
usage_error heapprof "$HP"
usage_error heapprof "$HP" frobnicate
usage_error heapprof "$HP" --bogus
usage_error "heapprof top" "$HP" top
usage_error "heapprof top" "$HP" top "$TMP/noacc.heap" --bogus
usage_error "heapprof top" "$HP" top "$TMP/noacc.heap" --title x
usage_error "heapprof top" "$HP" top "$TMP/noacc.heap" -n x
usage_error "heapprof top" "$HP" top "$TMP/noacc.heap" -n
usage_error "heapprof top" "$HP" top "$TMP/noacc.heap" "$TMP/noacc.heap"
usage_error "heapprof diff" "$HP" diff "$TMP/noacc.heap"
usage_error "heapprof flame" "$HP" flame "$TMP/noacc.heap" --width 5 -o "$TMP/x.svg"
usage_error "heapprof pprof" "$HP" pprof "$TMP/noacc.heap"
usage_error "heapprof collapsed" "$HP" collapsed "$TMP/noacc.heap" --json

# --- --alloc without allocation totals ---
for cmd in top collapsed flame diff; do
    set -- "$TMP/noacc.heap"
    [ $cmd = diff ] && set -- "$TMP/noacc.heap" "$TMP/noacc.heap"
    "$HP" $cmd "$@" --alloc -o "$TMP/alloc.$cmd" >"$TMP/alloc.out" 2>"$TMP/alloc.err"
    check "$cmd --alloc, no totals: exit" 1 $?
    check "$cmd --alloc, no totals: stderr" \
        "heapprof: $TMP/noacc.heap: this dump has no allocation totals (jemalloc's prof_accum was off when it was written), so --alloc has nothing to show; profile with MALLOC_CONF=prof_accum:true to record them" \
        "$(cat "$TMP/alloc.err")"
    [ -e "$TMP/alloc.$cmd" ] && check "$cmd --alloc, no totals: no output file" absent present
done
"$HP" top "$TMP/noacc.heap" --alloc 2>&1 | grep -q nan && check "top --alloc prints no nan" none nan
"$HP" top "$TMP/noacc.heap" >"$TMP/inuse.out" 2>&1
check "top (in use) of the same dump" "0 Total: 100 B in use in 1 objects (sampling period 1 B)" \
    "$? $(head -n 1 "$TMP/inuse.out")"
printf 'heap_v2/1\n  t*: 1: 100 [3: 900]\n@ 0xa0\n  t*: 1: 100 [3: 900]\n\nMAPPED_LIBRARIES:\n' \
    >"$TMP/acc.heap"
"$HP" top "$TMP/acc.heap" --alloc >"$TMP/acc.out" 2>&1
check "top --alloc with totals" "0 Total: 900 B allocated in 3 objects (sampling period 1 B)" \
    "$? $(head -n 1 "$TMP/acc.out")"
grep -q '^ *900 100.0% 100.0%  *900 100.0%  *3  *3  0xa0$' "$TMP/acc.out" ||
    check "top --alloc row" "900 100.0% ... 0xa0" "$(sed -n 3p "$TMP/acc.out")"

# --- flame progress: on a terminal only ---
python3 - "$TMP/big.heap" <<'EOF'
import random, sys
random.seed(7)
n = 60000
with open(sys.argv[1], "w") as f:
    f.write("heap_v2/524288\n  t*: %d: %d [0: 0]\n" % (n, n * 4096))
    for i in range(n):
        pcs = [0x400000 + random.randrange(4096) * 16 for _ in range(random.randint(8, 24))]
        f.write("@ " + " ".join(hex(x) for x in pcs) + "\n  t*: 1: 4096 [0: 0]\n")
    f.write("\nMAPPED_LIBRARIES:\n")
EOF
# stdout and stderr on a pty; the exit status and everything written, bounded in time
cat >"$TMP/on_a_tty.py" <<'EOF'
import os, pty, signal, sys
signal.alarm(120)
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
out = b""
while True:
    try:
        chunk = os.read(fd, 65536)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode("utf-8", "replace"))
sys.exit(os.waitstatus_to_exitcode(status))
EOF
HEAPPROF_PROGRESS_DELAY=0 python3 "$TMP/on_a_tty.py" "$HP" flame "$TMP/big.heap" --no-symbols \
    -o "$TMP/big.svg" >"$TMP/tty.out"
check "flame on a tty: exit" 0 $?
tr '\r' '\n' <"$TMP/tty.out" >"$TMP/tty.lines"
grep -q '^heapprof: reading [0-9]*/[0-9]* MB' "$TMP/tty.lines" || check "tty: reading progress" shown absent
grep -q '^heapprof: merging 60000/60000 stacks' "$TMP/tty.lines" || check "tty: merging progress" shown absent
grep -q '^heapprof: drawing \([0-9]*\)/\1 frames' "$TMP/tty.lines" || check "tty: drawing progress" shown absent
grep -q '</svg>' "$TMP/big.svg" || check "tty: the SVG is complete" yes no
HEAPPROF_PROGRESS_DELAY=0 "$HP" flame "$TMP/big.heap" --no-symbols -o "$TMP/big2.svg" 2>"$TMP/pipe.err"
check "flame piped: exit" 0 $?
check "flame piped: stderr" "" "$(cat "$TMP/pipe.err")"
cmp -s "$TMP/big.svg" "$TMP/big2.svg" || check "same SVG on a tty and piped" same different
echo "progress lines on the tty: $(grep -c '^heapprof: ' "$TMP/tty.lines")"
exit $fail
