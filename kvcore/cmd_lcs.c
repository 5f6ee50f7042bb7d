/* SPDX-License-Identifier: MIT */
/*
 * cmd_lcs.c - LCS key1 key2 [LEN] [IDX] [MINMATCHLEN n] [WITHMATCHLEN], as Redis 7.0.
 *
 * Order of checks as Redis: both keys looked up (a missing key is ""; another type than
 * string: "The specified keys must contain string values"), then the options (syntax
 * error, MINMATCHLEN's integer; a negative one counts as 0), then LEN with IDX.
 *
 * The classic dynamic-programming table of (alen+1) x (blen+1) uint32 cells; its size is
 * refused above proto-max-bulk-len (Redis's own cap, same error text), so a client cannot
 * make the server allocate more than that. The walk back from the table's corner yields
 * the LCS string and, for IDX, the matched ranges from the end of the strings towards
 * their start, each range reported once its run of contiguous matches ends.
 */
#include "kv_internal.h"

#include <stdint.h>
#include <stdlib.h>

void kv_cmd_lcs(kv_client_t *c) {
    kv_obj_t *oa = kv_db_lookup_read(c->db, &c->argv[1]);
    kv_obj_t *ob = kv_db_lookup_read(c->db, &c->argv[2]);
    if ((oa && oa->type != KV_TYPE_STRING) || (ob && ob->type != KV_TYPE_STRING)) {
        kv_reply_error(c, "ERR The specified keys must contain string values");
        return;
    }
    bool getlen = false, getidx = false, withmatchlen = false;
    long long minmatchlen = 0;
    for (int j = 3; j < c->argc; j++) {
        const kv_arg_t *opt = &c->argv[j];
        int more = c->argc - 1 - j;
        if (kv_arg_is(opt, "idx")) {
            getidx = true;
        } else if (kv_arg_is(opt, "len")) {
            getlen = true;
        } else if (kv_arg_is(opt, "withmatchlen")) {
            withmatchlen = true;
        } else if (kv_arg_is(opt, "minmatchlen") && more) {
            if (kv_arg_ll_or_reply(c, &c->argv[j + 1], &minmatchlen, NULL) != 0) return;
            if (minmatchlen < 0) minmatchlen = 0;
            j++;
        } else {
            kv_reply_syntax_err(c);
            return;
        }
    }
    if (getidx && getlen) {
        kv_reply_error(c, "ERR If you want both the length and indexes, please just use IDX.");
        return;
    }
    char abuf[24], bbuf[24];
    size_t alen = 0, blen = 0;
    const char *a = oa ? kv_obj_str(oa, abuf, &alen) : "";
    const char *b = ob ? kv_obj_str(ob, bbuf, &blen) : "";
    if (alen >= UINT32_MAX - 1 || blen >= UINT32_MAX - 1) {
        kv_reply_error(c, "ERR String too long for LCS");
        return;
    }
    unsigned long long cells = (unsigned long long)(alen + 1) * (blen + 1);
    unsigned long long bytes = cells * sizeof(uint32_t);
    uint32_t *dp = NULL;
    if (bytes / sizeof(uint32_t) == cells && bytes < SIZE_MAX) {
        if (bytes > (unsigned long long)kv_srv.cfg.proto_max_bulk_len) {
            kv_reply_error(c, "ERR Insufficient memory, transient memory for LCS exceeds "
                              "proto-max-bulk-len");
            return;
        }
        dp = malloc((size_t)bytes);
    }
    if (dp == NULL) {
        kv_reply_error(c, "ERR Insufficient memory, failed allocating transient memory for LCS");
        return;
    }
    size_t w = blen + 1;
#define CELL(i, j) dp[(size_t)(i)*w + (size_t)(j)]
    for (size_t i = 0; i <= alen; i++) {
        for (size_t j = 0; j <= blen; j++) {
            if (i == 0 || j == 0)
                CELL(i, j) = 0;
            else if (a[i - 1] == b[j - 1])
                CELL(i, j) = CELL(i - 1, j - 1) + 1;
            else
                CELL(i, j) = CELL(i - 1, j) > CELL(i, j - 1) ? CELL(i - 1, j) : CELL(i, j - 1);
        }
    }
    uint32_t total = CELL(alen, blen);
    bool compute = getidx || !getlen;
    char *result = NULL;
    if (compute) {
        result = malloc(total ? total : 1);
        if (result == NULL) {
            free(dp);
            kv_reply_oom(c);
            return;
        }
    }
    void *deferred = NULL;
    long nranges = 0;
    if (getidx) {
        kv_reply_map_len(c, 2);
        kv_reply_bulk_cstr(c, "matches");
        deferred = kv_reply_deferred(c);
    }
    /* The current range: a_start == alen means none is open. */
    size_t a_start = alen, a_end = 0, b_start = 0, b_end = 0;
    size_t i = alen, j = blen, idx = total;
    while (compute && i > 0 && j > 0) {
        bool emit = false;
        if (a[i - 1] == b[j - 1]) {
            result[idx - 1] = a[i - 1];
            if (a_start == alen) {
                a_start = a_end = i - 1;
                b_start = b_end = j - 1;
            } else if (a_start == i && b_start == j) {
                a_start--;
                b_start--;
            } else {
                emit = true;
            }
            if (a_start == 0 || b_start == 0) emit = true;
            idx--;
            i--;
            j--;
        } else {
            if (CELL(i - 1, j) > CELL(i, j - 1))
                i--;
            else
                j--;
            if (a_start != alen) emit = true;
        }
        if (emit) {
            size_t mlen = a_end - a_start + 1;
            if (getidx &&
                (minmatchlen == 0 || (unsigned long long)mlen >= (unsigned long long)minmatchlen)) {
                kv_reply_array_len(c, 2 + (withmatchlen ? 1 : 0));
                kv_reply_array_len(c, 2);
                kv_reply_int(c, (long long)a_start);
                kv_reply_int(c, (long long)a_end);
                kv_reply_array_len(c, 2);
                kv_reply_int(c, (long long)b_start);
                kv_reply_int(c, (long long)b_end);
                if (withmatchlen) kv_reply_int(c, (long long)mlen);
                nranges++;
            }
            a_start = alen;
        }
    }
#undef CELL
    if (getidx) {
        kv_reply_set_deferred(c, deferred, nranges);
        kv_reply_bulk_cstr(c, "len");
        kv_reply_int(c, (long long)total);
    } else if (getlen) {
        kv_reply_int(c, (long long)total);
    } else {
        kv_reply_bulk(c, result, total);
    }
    free(result);
    free(dp);
}
