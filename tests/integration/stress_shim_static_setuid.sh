#!/bin/sh
# SPDX-License-Identifier: MIT
# Programs LD_PRELOAD cannot reach run as if the shim did not exist:
#  - a statically linked program (no dynamic loader: LD_PRELOAD is never read) allocates,
#    checks its own maps, and keeps LD_PRELOAD in the environment it hands on, so a
#    dynamic program it starts does get the shim;
#  - a setuid-root program started by an unprivileged user (the loader runs in secure
#    mode and ignores a preload path with a slash) runs without it, while the same
#    program without the setuid bit gets it. Needs root and setpriv (else that part is
#    reported as not run).
# Nothing breaks in either case: same output as without LD_PRELOAD, exit status 0.
. "$(dirname "$0")/../lib.sh"
need_preload
need_built "$SHIM"
need_helper shim_probe
ran=0

# --- A static binary ---
cat >"$TMP/static.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
/* Allocates and checks; says whether libmemshim is mapped here, then in a child shell. */
int main(void) {
    unsigned long sum = 0;
    for (int i = 0; i < 20000; i++) {
        size_t n = 1 + (size_t)(i * 7919) % 70000;
        unsigned char *p = malloc(n);
        if (p == NULL) return 1;
        memset(p, i & 0xff, n);
        sum += p[n - 1];
        free(p);
    }
    char line[4096];
    int mapped = 0;
    FILE *f = fopen("/proc/self/maps", "r");
    while (f != NULL && fgets(line, sizeof(line), f) != NULL)
        if (strstr(line, "libmemshim") != NULL) mapped = 1;
    if (f != NULL) fclose(f);
    printf("sum %lu\nstatic: libmemshim %s\n", sum, mapped ? "mapped" : "not mapped");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c",
              "if grep -q libmemshim /proc/$$/maps; then echo 'child: libmemshim mapped'; "
              "else echo 'child: libmemshim not mapped'; fi",
              (char *)NULL);
        _exit(127);
    }
    int st;
    return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}
C
if ${CC:-cc} -static -O1 -o "$TMP/static" "$TMP/static.c" 2>"$TMP/static.cc.err"; then
    ran=$((ran + 1))
    "$TMP/static" >"$TMP/static.plain" 2>&1 || fail "static: exit $? without LD_PRELOAD"
    LD_PRELOAD="$SHIM" "$TMP/static" >"$TMP/static.shim" 2>&1 || fail "static: exit $? under LD_PRELOAD"
    grep -qx 'static: libmemshim not mapped' "$TMP/static.shim" || fail "static: $(cat "$TMP/static.shim")"
    [ "$(head -n 2 "$TMP/static.plain")" = "$(head -n 2 "$TMP/static.shim")" ] ||
        fail "static: output differs under LD_PRELOAD"
    grep -qx 'child: libmemshim mapped' "$TMP/static.shim" ||
        fail "static: its dynamic child did not get the preload it passed on"
    echo "ok: static binary: shim not used, same output; its dynamic child has it"
else
    echo "static binary: not run, cannot link with -static ($(head -n 1 "$TMP/static.cc.err"))"
fi

# --- A setuid-root binary run by nobody ---
if [ "$(id -u)" -ne 0 ]; then
    echo "setuid binary: not run, needs root to create a setuid-root file"
elif ! command -v setpriv >/dev/null 2>&1; then
    echo "setuid binary: not run, setpriv is not installed"
else
    chmod 755 "$TMP"
    cp "$HELPERS/shim_probe" "$TMP/probe_suid"
    cp "$HELPERS/shim_probe" "$TMP/probe_plain"
    chown root:root "$TMP/probe_suid"
    chmod 4755 "$TMP/probe_suid"
    chmod 755 "$TMP/probe_plain"
    as_nobody() {
        setpriv --reuid=65534 --regid=65534 --clear-groups env LD_PRELOAD="$SHIM" "$@"
    }
    as_nobody "$TMP/probe_plain" >"$TMP/plain.out" 2>&1 || fail "setuid control: exit $?"
    if ! grep -qx 'memshim: active' "$TMP/plain.out"; then
        echo "setuid binary: not run, nobody cannot load $SHIM ($(tail -n 1 "$TMP/plain.out"))"
    else
        as_nobody "$TMP/probe_suid" >"$TMP/suid.out" 2>"$TMP/suid.err" ||
            fail "setuid: exit $? ($(cat "$TMP/suid.err"))"
        if grep -qx 'memshim: absent' "$TMP/suid.out"; then
            ran=$((ran + 1))
            note=
            [ -s "$TMP/suid.err" ] && note=" (loader: $(head -n 1 "$TMP/suid.err"))"
            echo "ok: setuid-root binary run by nobody: shim not used, exit 0$note"
        elif findmnt -no OPTIONS -T "$TMP" 2>/dev/null | grep -q nosuid; then
            echo "setuid binary: not run, the setuid bit had no effect (nosuid mount?)"
        else
            fail "setuid: the shim was loaded into a setuid program: $(cat "$TMP/suid.out")"
        fi
    fi
fi
[ $ran -gt 0 ] || skip "neither a static nor a setuid binary could be built here"
