/* SPDX-License-Identifier: MIT */
/*
 * util.c - the small conversions kvcore's replies depend on byte for byte: strict integer
 * parsing (Redis's string2ll), long-double formatting (ld2string, human mode), glob
 * matching (stringmatchlen), memory units (memtoull), human byte counts, the argument
 * splitter used by inline commands and the config file (sdssplitargs), and kvcore's one
 * pseudo-random generator (kv_rand64, declared in kv_util.h).
 *
 * Each function reproduces the Redis 7.0 behaviour clients observe; where Redis relies
 * on NUL-terminated buffers these take explicit lengths and stop at the same places.
 */
#include "kv_internal.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <unistd.h>
#include <time.h>

bool kv_str2ull(const char *s, size_t len, unsigned long long *out) {
    unsigned long long v = 0;
    if (len == 0 || len > 20) return false;
    if (len == 1 && s[0] == '0') {
        *out = 0;
        return true;
    }
    if (s[0] < '1' || s[0] > '9') return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (ULLONG_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

bool kv_str2ll(const char *s, size_t len, long long *out) {
    unsigned long long v;
    if (len == 0 || len > 20) return false;
    if (s[0] == '-') {
        if (len == 1 || !kv_str2ull(s + 1, len - 1, &v)) return false;
        if (v == 0) return false; /* "-0" */
        if (v > (unsigned long long)LLONG_MAX + 1) return false;
        *out = (long long)(0 - v);
        return true;
    }
    if (!kv_str2ull(s, len, &v) || v > (unsigned long long)LLONG_MAX) return false;
    *out = (long long)v;
    return true;
}

bool kv_str2ld(const char *s, size_t len, long double *out) {
    char buf[5 * 1024];
    char *end;
    if (len == 0 || len >= sizeof(buf)) return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    long double v = strtold(buf, &end);
    /* end == buf + len also refuses an embedded NUL ("\0z" is not 0), as Redis does. */
    if (isspace((unsigned char)buf[0]) || *end != '\0' || end != buf + len ||
        (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || fpclassify(v) == FP_ZERO)) ||
        errno == EINVAL || isnan(v))
        return false;
    *out = v;
    return true;
}

bool kv_str2d(const char *s, size_t len, double *out) {
    char buf[5 * 1024];
    char *end;
    if (len == 0 || len >= sizeof(buf)) return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    double v = strtod(buf, &end);
    if (isspace((unsigned char)buf[0]) || *end != '\0' || end != buf + len ||
        (errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL || fpclassify(v) == FP_ZERO)) ||
        isnan(v))
        return false;
    *out = v;
    return true;
}

size_t kv_ld2str(char *buf, size_t cap, long double v) {
    if (isinf(v)) {
        const char *s = v > 0 ? "inf" : "-inf";
        size_t n = strlen(s);
        if (cap < 5) return 0;
        memcpy(buf, s, n + 1);
        return n;
    }
    int l = snprintf(buf, cap, "%.17Lf", v);
    if (l < 0 || (size_t)l + 1 > cap) return 0;
    if (strchr(buf, '.') != NULL) {
        char *p = buf + l - 1;
        while (*p == '0') {
            p--;
            l--;
        }
        if (*p == '.') l--;
    }
    if (l == 2 && buf[0] == '-' && buf[1] == '0') {
        buf[0] = '0';
        l = 1;
    }
    buf[l] = '\0';
    return (size_t)l;
}

static int lower(int c) {
    return tolower((unsigned char)c);
}

/* Redis's stringmatchlen_impl with explicit bounds (a missing byte reads as NUL). */
static bool glob_impl(const char *p, size_t plen, const char *s, size_t slen, bool nocase,
                      bool *skip_longer, int nesting) {
    if (nesting > 1000) return false;
    while (plen && slen) {
        switch (p[0]) {
        case '*':
            while (plen > 1 && p[1] == '*') {
                p++;
                plen--;
            }
            if (plen == 1) return true;
            while (slen) {
                if (glob_impl(p + 1, plen - 1, s, slen, nocase, skip_longer, nesting + 1))
                    return true;
                if (*skip_longer) return false;
                s++;
                slen--;
            }
            *skip_longer = true;
            return false;
        case '?':
            s++;
            slen--;
            break;
        case '[': {
            bool neg, match = false;
            p++;
            plen--;
            neg = plen > 0 && p[0] == '^';
            if (neg) {
                p++;
                plen--;
            }
            for (;;) {
                if (plen >= 2 && p[0] == '\\') {
                    p++;
                    plen--;
                    if (p[0] == s[0]) match = true;
                } else if (plen > 0 && p[0] == ']') {
                    break;
                } else if (plen == 0) {
                    p--;
                    plen++;
                    break;
                } else if (plen >= 3 && p[1] == '-') {
                    int start = (unsigned char)p[0], end = (unsigned char)p[2];
                    int ch = (unsigned char)s[0];
                    if (start > end) {
                        int t = start;
                        start = end;
                        end = t;
                    }
                    if (nocase) {
                        start = lower(start);
                        end = lower(end);
                        ch = lower(ch);
                    }
                    p += 2;
                    plen -= 2;
                    if (ch >= start && ch <= end) match = true;
                } else if (!nocase ? p[0] == s[0] : lower(p[0]) == lower(s[0])) {
                    match = true;
                }
                p++;
                plen--;
            }
            if (neg) match = !match;
            if (!match) return false;
            s++;
            slen--;
            break;
        }
        case '\\':
            if (plen >= 2) {
                p++;
                plen--;
            }
            __attribute__((fallthrough));
        default:
            if (!nocase ? p[0] != s[0] : lower(p[0]) != lower(s[0])) return false;
            s++;
            slen--;
            break;
        }
        p++;
        plen--;
        if (slen == 0) {
            while (plen > 0 && *p == '*') {
                p++;
                plen--;
            }
            break;
        }
    }
    return plen == 0 && slen == 0;
}

bool kv_glob_match(const char *pat, size_t plen, const char *s, size_t slen, bool nocase) {
    bool skip = false;
    return glob_impl(pat, plen, s, slen, nocase, &skip, 0);
}

void kv_bytes_human(char *buf, size_t cap, unsigned long long n) {
    static const char units[] = "KMGTP";
    unsigned long long base = 1024;
    for (int i = 0; i < 5; i++, base *= 1024) {
        if (n >= base && (n / 1024) < base) {
            snprintf(buf, cap, "%.2f%c", (double)n / (double)base, units[i]);
            return;
        }
    }
    snprintf(buf, cap, "%lluB", n);
}

bool kv_memtoull(const char *s, size_t len, unsigned long long *out) {
    char buf[128];
    size_t digits = 0;
    unsigned long long mul;
    if (len >= sizeof(buf)) return false;
    if (len > 0 && s[0] == '-') return false;
    while (digits < len && isdigit((unsigned char)s[digits]))
        digits++;
    const char *u = s + digits;
    size_t ulen = len - digits;
    if (ulen == 0 || (ulen == 1 && lower(u[0]) == 'b'))
        mul = 1;
    else if (ulen == 1 && lower(u[0]) == 'k')
        mul = 1000;
    else if (ulen == 2 && !strncasecmp(u, "kb", 2))
        mul = 1024;
    else if (ulen == 1 && lower(u[0]) == 'm')
        mul = 1000 * 1000;
    else if (ulen == 2 && !strncasecmp(u, "mb", 2))
        mul = 1024 * 1024;
    else if (ulen == 1 && lower(u[0]) == 'g')
        mul = 1000ULL * 1000 * 1000;
    else if (ulen == 2 && !strncasecmp(u, "gb", 2))
        mul = 1024ULL * 1024 * 1024;
    else
        return false;
    memcpy(buf, s, digits);
    buf[digits] = '\0';
    errno = 0;
    char *end;
    unsigned long long v = strtoull(buf, &end, 10);
    if ((v == 0 && errno == EINVAL) || *end != '\0' || errno == ERANGE) return false;
    if (v > ULLONG_MAX / mul) return false;
    *out = v * mul;
    return true;
}

bool kv_arg_is(const kv_arg_t *a, const char *word) {
    size_t n = strlen(word);
    return a->len == n && strncasecmp(a->ptr, word, n) == 0;
}

int64_t kv_mstime(void) {
    return kv_ustime() / 1000;
}

int64_t kv_ustime(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

uint64_t kv_monotonic_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    c = lower(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

int kv_split_args(const char *line, size_t len, char **scratch, size_t *scratch_cap, kv_arg_t *argv,
                  int max_args) {
    /* sdssplitargs stops at a NUL byte: so do we. */
    const char *nul = memchr(line, '\0', len);
    if (nul != NULL) len = (size_t)(nul - line);
    if (*scratch_cap < len + 1) {
        char *n = realloc(*scratch, len + 1);
        if (n == NULL) return -ENOMEM;
        *scratch = n;
        *scratch_cap = len + 1;
    }
    char *out = *scratch;
    size_t o = 0, i = 0;
    int argc = 0;
#define AT(k) ((k) < len ? line[(k)] : '\0')
    for (;;) {
        while (i < len && isspace((unsigned char)line[i]))
            i++;
        if (i >= len) break;
        bool inq = false, insq = false, done = false;
        size_t start = o;
        while (!done) {
            char ch = AT(i);
            if (inq) {
                if (ch == '\\' && AT(i + 1) == 'x' && hexval(AT(i + 2)) >= 0 &&
                    hexval(AT(i + 3)) >= 0) {
                    out[o++] = (char)(hexval(AT(i + 2)) * 16 + hexval(AT(i + 3)));
                    i += 3;
                } else if (ch == '\\' && AT(i + 1) != '\0') {
                    i++;
                    switch (AT(i)) {
                    case 'n': out[o++] = '\n'; break;
                    case 'r': out[o++] = '\r'; break;
                    case 't': out[o++] = '\t'; break;
                    case 'b': out[o++] = '\b'; break;
                    case 'a': out[o++] = '\a'; break;
                    default: out[o++] = AT(i); break;
                    }
                } else if (ch == '"') {
                    if (AT(i + 1) != '\0' && !isspace((unsigned char)AT(i + 1))) return -EPROTO;
                    done = true;
                } else if (ch == '\0') {
                    return -EPROTO;
                } else {
                    out[o++] = ch;
                }
            } else if (insq) {
                if (ch == '\\' && AT(i + 1) == '\'') {
                    i++;
                    out[o++] = '\'';
                } else if (ch == '\'') {
                    if (AT(i + 1) != '\0' && !isspace((unsigned char)AT(i + 1))) return -EPROTO;
                    done = true;
                } else if (ch == '\0') {
                    return -EPROTO;
                } else {
                    out[o++] = ch;
                }
            } else {
                switch (ch) {
                case ' ':
                case '\n':
                case '\r':
                case '\t':
                case '\0': done = true; break;
                case '"': inq = true; break;
                case '\'': insq = true; break;
                default: out[o++] = ch; break;
                }
            }
            if (AT(i) != '\0') i++;
        }
        if (argc == max_args) return -E2BIG;
        argv[argc].ptr = out + start;
        argv[argc].len = o - start;
        argc++;
    }
#undef AT
    return argc;
}

/* --- Pseudo-random numbers (splitmix64, one state per thread) --- */

static _Thread_local uint64_t rng_state;

void kv_rand_seed(uint64_t seed) {
    rng_state = seed != 0 ? seed : 0x853c49e6748fea9bULL;
}

uint64_t kv_rand64(void) {
    if (rng_state == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        kv_rand_seed(((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) ^
                     (uint64_t)(uintptr_t)&rng_state);
    }
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

double kv_rand_double(void) {
    return (double)(kv_rand64() >> 11) * 0x1.0p-53;
}

/* --- Doubles as text --- */

size_t kv_d2str(char *buf, double d) {
    if (isinf(d)) {
        const char *s = d > 0 ? "inf" : "-inf";
        size_t n = strlen(s);
        memcpy(buf, s, n + 1);
        return n;
    }
    return (size_t)snprintf(buf, 32, "%.17g", d);
}

void kv_assert_fail(const char *file, int line, const char *expr) {
    char buf[512];
    int n = snprintf(buf, sizeof(buf), "%s:%d: assertion failed: %s\n", file, line, expr);
    if (n > 0) {
        ssize_t w = write(2, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
        (void)w;
    }
    abort();
}
