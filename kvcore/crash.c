/* SPDX-License-Identifier: MIT */
/*
 * crash.c - the bug report kvcore-server writes when it crashes (SIGSEGV, SIGBUS,
 * SIGFPE, SIGILL, SIGABRT), laid out as Redis 7.0's: a banner naming the signal, the
 * faulting address and instruction, the stack trace, the registers, then INFO, CLIENT
 * LIST and the command being run; afterwards the signal is raised again with the default
 * action, so the exit status (and a core dump, if enabled) show the real cause.
 *
 * What runs in the handler is ordered by how safe it is. The banner, stack and registers
 * use only write(2), hand-written number formatting and libunwind's local walk
 * (unw_init_local2 from the signal's context, unw_step, unw_get_proc_name into a stack
 * buffer), which allocate nothing. INFO and the client lines allocate, which is what
 * Redis does too and is only best effort: a crash inside the allocator may hold its
 * locks, so an alarm of a few seconds bounds that part and then re-raises the signal.
 * The handler runs on its own stack (sigaltstack) so a stack overflow is reported too.
 */
#include "kv_internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#define CRASH_MAX_FRAMES   64
#define CRASH_ALTSTACK     (256 * 1024)
#define CRASH_INFO_SECONDS 5

static const int crash_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};

static int crash_fd = -1;               /* where the report goes */
static volatile sig_atomic_t crash_sig; /* the signal being reported, 0 = none */
static long utc_offset_s;               /* local time offset, taken at install (localtime is not
                                           async-signal-safe) */
static uintptr_t stack_lo, stack_hi;    /* the installing (main) thread's stack, taken at install */

/* --- Output without stdio --- */

static void out_n(const char *s, size_t n) {
    while (n > 0) {
        ssize_t w = write(crash_fd, s, n);
        if (w <= 0) return;
        s += w;
        n -= (size_t)w;
    }
}

static void out(const char *s) {
    out_n(s, strlen(s));
}

static void out_dec(long long v) {
    char buf[24];
    out_n(buf, kv_ll2str(buf, v));
}

/* Hex with a fixed number of digits (0 = as few as needed). */
static void out_hex(unsigned long long v, int digits) {
    char buf[20];
    int n = 0;
    do {
        buf[n++] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v != 0 || n < digits);
    char rev[20];
    for (int i = 0; i < n; i++)
        rev[i] = buf[n - 1 - i];
    out_n(rev, (size_t)n);
}

static void out_ptr(unsigned long long v) {
    out("0x");
    out_hex(v, 0);
}

static void out_2(int v) {
    char b[2] = {(char)('0' + v / 10 % 10), (char)('0' + v % 10)};
    out_n(b, 2);
}

/* "pid:M 21 Nov 2026 10:12:41.302 # " as kv_log, from the clock alone. */
static void out_log_prefix(void) {
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long t = (long long)ts.tv_sec + utc_offset_s;
    long long days = t / 86400, secs = t % 86400;
    if (secs < 0) {
        secs += 86400;
        days--;
    }
    /* Civil date from days since 1970-01-01 (Howard Hinnant's algorithm). */
    long long z = days + 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    long long doe = z - era * 146097;
    long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long long mp = (5 * doy + 2) / 153;
    int d = (int)(doy - (153 * mp + 2) / 5 + 1);
    int m = (int)(mp < 10 ? mp + 3 : mp - 9);
    long long y = yoe + era * 400 + (m <= 2);
    out_dec((long long)getpid());
    out(":M ");
    out_2(d);
    out(" ");
    out(months[m - 1]);
    out(" ");
    out_dec(y);
    out(" ");
    out_2((int)(secs / 3600));
    out(":");
    out_2((int)(secs / 60 % 60));
    out(":");
    out_2((int)(secs % 60));
    out(".");
    char ms[3] = {(char)('0' + ts.tv_nsec / 100000000 % 10),
                  (char)('0' + ts.tv_nsec / 10000000 % 10),
                  (char)('0' + ts.tv_nsec / 1000000 % 10)};
    out_n(ms, 3);
    out(" # ");
}

/* An argument as Redis's sdscatrepr: quoted, escapes for the unprintable. */
static void out_repr(const char *p, size_t len) {
    out("\"");
    size_t n = len > 128 ? 128 : len;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        switch (ch) {
        case '\\': out("\\\\"); break;
        case '"': out("\\\""); break;
        case '\n': out("\\n"); break;
        case '\r': out("\\r"); break;
        case '\t': out("\\t"); break;
        default:
            if (ch >= 0x20 && ch < 0x7f) {
                out_n((const char *)&ch, 1);
            } else {
                out("\\x");
                out_hex(ch, 2);
            }
        }
    }
    out("\"");
    if (len > n) out("...");
}

/* --- The report --- */

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* "kvcore-server(kv_cmd_debug+0x26f)[0x557b0208075f]" as backtrace_symbols_fd. */
static void out_frame(unw_cursor_t *cur, unw_word_t ip) {
    char name[256];
    unw_word_t off = 0;
    Dl_info dl;
    if (dladdr((void *)ip, &dl) != 0 && dl.dli_fname != NULL) out(base_name(dl.dli_fname));
    out("(");
    if (unw_get_proc_name(cur, name, sizeof(name), &off) == 0) {
        out(name);
        out("+0x");
        out_hex(off, 0);
    } else if (dl.dli_fbase != NULL) {
        out("+0x");
        out_hex(ip - (unw_word_t)dl.dli_fbase, 0);
    }
    out(")[");
    out_ptr(ip);
    out("]\n");
}

/* Is ip inside a loaded object? (0 and wild jumps are not; libunwind finds nothing there.) */
static bool pc_is_code(unw_word_t ip) {
    Dl_info dl;
    return ip >= 4096 && dladdr((void *)ip, &dl) != 0 && dl.dli_fbase != NULL;
}

/*
 * The crash happened at an address that is no code (a call through a NULL or corrupted
 * function pointer): libunwind has no unwind information for it and the trace would stop
 * at once. The call that got there left its return address on top of the stack and the
 * callee never ran its prologue, so the caller's state is the signal context with that
 * return address as the instruction pointer and the stack one word higher. Reads only
 * the word at the stack pointer, and only inside the thread's known stack.
 */
static bool caller_context(const void *uctx, unw_context_t *out) {
#if defined(__x86_64__)
    _Static_assert(sizeof(unw_context_t) == sizeof(ucontext_t), "x86_64 unw_context_t");
    ucontext_t uc;
    memcpy(&uc, uctx, sizeof(uc));
    uintptr_t sp = (uintptr_t)uc.uc_mcontext.gregs[REG_RSP];
    if (stack_lo == 0 || sp < stack_lo || sp > stack_hi - sizeof(uintptr_t) || sp % 8 != 0)
        return false;
    uintptr_t ret = *(const uintptr_t *)sp;
    if (!pc_is_code(ret)) return false;
    uc.uc_mcontext.gregs[REG_RIP] = (greg_t)ret;
    uc.uc_mcontext.gregs[REG_RSP] = (greg_t)(sp + sizeof(uintptr_t));
    memcpy(out, &uc, sizeof(uc));
    return true;
#else
    (void)uctx;
    (void)out;
    return false;
#endif
}

static void out_stack(void *uctx) {
    unw_context_t *uc = uctx;
    unw_cursor_t cur;
    out("\n------ STACK TRACE ------\n");
    if (uc == NULL || unw_init_local2(&cur, uc, UNW_INIT_SIGNAL_FRAME) != 0) {
        unw_context_t here;
        unw_getcontext(&here);
        if (unw_init_local(&cur, &here) != 0) {
            out("(no stack trace: libunwind could not start)\n");
            return;
        }
    }
    unw_word_t ip = 0;
    unw_get_reg(&cur, UNW_REG_IP, &ip);
    out("EIP:\n");
    out_frame(&cur, ip);
    out("\nBacktrace:\n");
    static unw_context_t callers; /* static: the alternate stack is small */
    if (uc != NULL && !pc_is_code(ip) && caller_context(uc, &callers)) {
        out("(no code at the instruction pointer: a call through a bad pointer)[");
        out_ptr(ip);
        out("]\n");
        if (unw_init_local2(&cur, &callers, 0) != 0) return;
    }
    for (int n = 0; n < CRASH_MAX_FRAMES; n++) {
        if (unw_get_reg(&cur, UNW_REG_IP, &ip) != 0 || ip == 0) break;
        out_frame(&cur, ip);
        if (unw_step(&cur) <= 0) break;
    }
}

static void out_registers(const void *uctx) {
#if defined(__x86_64__)
    const ucontext_t *uc = uctx;
    if (uc == NULL) return;
    static const struct {
        const char *name;
        int reg;
    } regs[] = {{"RAX", REG_RAX}, {"RBX", REG_RBX}, {"RCX", REG_RCX}, {"RDX", REG_RDX},
                {"RDI", REG_RDI}, {"RSI", REG_RSI}, {"RBP", REG_RBP}, {"RSP", REG_RSP},
                {"R8 ", REG_R8},  {"R9 ", REG_R9},  {"R10", REG_R10}, {"R11", REG_R11},
                {"R12", REG_R12}, {"R13", REG_R13}, {"R14", REG_R14}, {"R15", REG_R15},
                {"RIP", REG_RIP}, {"EFL", REG_EFL}};
    out("\n------ REGISTERS ------\n");
    for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
        out(regs[i].name);
        out(":");
        out_hex((unsigned long long)uc->uc_mcontext.gregs[regs[i].reg], 16);
        out(i % 2 ? "\n" : " ");
    }
#else
    (void)uctx;
#endif
}

/* The allocating part; an alarm ends it if the allocator's locks are held. */
static void on_info_timeout(int sig) {
    (void)sig;
    out("\n(timed out writing the rest of the report)\n");
    int s = crash_sig ? crash_sig : SIGABRT;
    signal(s, SIG_DFL);
    raise(s);
    _exit(128 + s);
}

static void out_server_state(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_info_timeout;
    sa.sa_flags = SA_NODEFER | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    alarm(CRASH_INFO_SECONDS);

    out("\n------ INFO OUTPUT ------\n");
    static const kv_arg_t all = {"all", 3};
    size_t len = 0;
    char *info = kv_info_string(&all, 1, &len);
    if (info != NULL) {
        out_n(info, len);
        free(info);
    } else {
        out("(out of memory)\n");
    }
    out("\n------ CLIENT LIST OUTPUT ------\n");
    for (kv_client_t *c = kv_srv.clients; c != NULL; c = c->next) {
        char *line = kv_client_info_line(c);
        if (line == NULL) continue;
        out(line);
        out("\n");
        free(line);
    }
    out("\n------ CURRENT CLIENT INFO ------\n");
    kv_client_t *c = kv_srv.current_client;
    if (c != NULL) {
        char *line = kv_client_info_line(c);
        if (line != NULL) {
            out(line);
            out("\n");
            free(line);
        }
        for (int i = 0; i < c->argc && c->argv != NULL; i++) {
            out("argv[");
            out_dec(i);
            out("]: '");
            out_repr(c->argv[i].ptr, c->argv[i].len);
            out("'\n");
        }
    }
    alarm(0);
}

static const char *signal_name(int sig) {
    switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGABRT: return "SIGABRT";
    default: return "signal";
    }
}

static void crash_handler(int sig, siginfo_t *info, void *uctx) {
    if (crash_sig != 0) { /* crashed again while reporting: die at once */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    crash_sig = sig;
    const char *file = kv_srv.cfg.logfile;
    crash_fd = (file && file[0]) ? open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644) : -1;
    if (crash_fd < 0) crash_fd = STDOUT_FILENO;

    out("\n\n=== KVCORE BUG REPORT START: Cut & paste starting from here ===\n");
    out_log_prefix();
    out("kvcore " KV_VERSION " crashed by signal: ");
    out_dec(sig);
    out(" (");
    out(signal_name(sig));
    out("), si_code: ");
    out_dec(info ? info->si_code : 0);
    out("\n");
    if (info != NULL && sig != SIGABRT) {
        out_log_prefix();
        out("Accessing address: ");
        out_ptr((unsigned long long)(uintptr_t)info->si_addr);
        out("\n");
    }
#if defined(__x86_64__)
    if (uctx != NULL) {
        out_log_prefix();
        out("Crashed running the instruction at: ");
        out_ptr((unsigned long long)((ucontext_t *)uctx)->uc_mcontext.gregs[REG_RIP]);
        out("\n");
    }
#endif
    if (kv_srv.current_client != NULL && kv_srv.current_client->cmd != NULL) {
        out_log_prefix();
        out("Crashed running the command: ");
        out(kv_srv.current_client->cmd->fullname);
        out("\n");
    }
    out_stack(uctx);
    out_registers(uctx);
    out_server_state();
    out("\n=== KVCORE BUG REPORT END. Make sure to include from START to END. ===\n\n");
    if (kv_srv.cfg.daemonize && kv_srv.cfg.pidfile && kv_srv.cfg.pidfile[0])
        unlink(kv_srv.cfg.pidfile);
    if (crash_fd != STDOUT_FILENO) close(crash_fd);

    /* The default action now, so the exit status is the signal's. */
    signal(sig, SIG_DFL);
    raise(sig);
}

int kv_crash_handler_install(void) {
    time_t now = time(NULL);
    struct tm tm;
    if (localtime_r(&now, &tm) != NULL) utc_offset_s = tm.tm_gmtoff;
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        void *addr;
        size_t size;
        if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
            stack_lo = (uintptr_t)addr;
            stack_hi = stack_lo + size;
        }
        pthread_attr_destroy(&attr);
    }

    stack_t ss;
    memset(&ss, 0, sizeof(ss));
    ss.ss_sp =
        mmap(NULL, CRASH_ALTSTACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int flags = SA_SIGINFO | SA_NODEFER | SA_RESETHAND;
    if (ss.ss_sp != MAP_FAILED) {
        ss.ss_size = CRASH_ALTSTACK;
        if (sigaltstack(&ss, NULL) == 0)
            flags |= SA_ONSTACK;
        else
            munmap(ss.ss_sp, CRASH_ALTSTACK);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = crash_handler;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof(crash_signals) / sizeof(crash_signals[0]); i++)
        if (sigaction(crash_signals[i], &sa, NULL) != 0) return -errno;
    return 0;
}
