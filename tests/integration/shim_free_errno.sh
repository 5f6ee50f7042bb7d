#!/bin/sh
# SPDX-License-Identifier: MIT
# free preserves errno even when jemalloc's free changes it: a seccomp filter makes
# madvise fail and dirty_decay_ms:0 makes jemalloc purge inside free, so bare jemalloc's
# free sets errno (checked, so the test cannot pass vacuously). Under the shim errno is
# kept in the main thread, in threads created before the shim was loaded (dlopen mode)
# and after it, and in a child forked from a thread; MEMSHIM_FREE_KEEPS_ERRNO=0 gives
# jemalloc's own behaviour back. A successful realloc and a successful malloc keep errno
# too (modes realloc and malloc: small blocks moved to another size class, whose slabs
# jemalloc purges as they empty), which bare jemalloc's do not.
. "$(dirname "$0")/../lib.sh"
need_preload
need_built "$SHIM"
need_helper shim_free_errno
H="$HELPERS/shim_free_errno"
JE=$(ldd "$SHIM" | awk '/libjemalloc/ { print $3 }')
export MALLOC_CONF=dirty_decay_ms:0,muzzy_decay_ms:0
# jemalloc's initial-exec TLS needs room in the static TLS block when it is dlopen'ed.
export GLIBC_TUNABLES=glibc.rtld.optional_static_tls=65536

run() { # expect(zero|all) label env...
    expect=$1 label=$2
    shift 2
    out=$(env "$@" timeout 60 "$H" ${mode:-preload} ${lib:-})
    rc=$?
    [ $rc = 77 ] && skip "$out"
    [ $rc = 0 ] || fail "$label: exit $rc: $out"
    echo "$label: $out"
    set -- $out
    case $expect in
    zero) [ "$2" = 0 ] || fail "$label: free changed errno ($out)" ;;
    all) [ "$2" -gt 0 ] || fail "$label: errno never changed, the test proves nothing ($out)" ;;
    esac
}

run zero "glibc (no preload)" LD_PRELOAD=
[ -f "$JE" ] && run all "bare jemalloc" LD_PRELOAD="$JE"
run zero "memshim" LD_PRELOAD="$SHIM"
run all "memshim, MEMSHIM_FREE_KEEPS_ERRNO=0" LD_PRELOAD="$SHIM" MEMSHIM_FREE_KEEPS_ERRNO=0
run zero "memshim, MEMSHIM_CONF=config.free_keeps_errno:true" LD_PRELOAD="$SHIM" \
    MEMSHIM_CONF=config.free_keeps_errno:true
mode=dlopen lib="$SHIM"
run zero "memshim dlopen'ed after threads started" LD_PRELOAD=
run all "memshim dlopen'ed, MEMSHIM_FREE_KEEPS_ERRNO=0" LD_PRELOAD= MEMSHIM_FREE_KEEPS_ERRNO=0
mode=realloc lib=
run zero "memshim, realloc" LD_PRELOAD="$SHIM"
[ -f "$JE" ] && run all "bare jemalloc, realloc" LD_PRELOAD="$JE"
run zero "memshim, realloc, MEMSHIM_FREE_KEEPS_ERRNO=0" LD_PRELOAD="$SHIM" MEMSHIM_FREE_KEEPS_ERRNO=0
mode=malloc
run zero "memshim, malloc" LD_PRELOAD="$SHIM"
[ -f "$JE" ] && run all "bare jemalloc, malloc" LD_PRELOAD="$JE"
