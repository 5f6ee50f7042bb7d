/* SPDX-License-Identifier: MIT */
/*
 * crc64.c - the CRC-64 of RDB files and DUMP payloads: Jones's polynomial
 * 0xad93d23594c935a9, reflected input and output, initial value 0, no final xor (the
 * check value of "123456789" is 0xe9c6d914c4b8d9ca). Eight tables, built once, let the
 * loop consume eight bytes per step ("slicing by 8"), which keeps the checksum well below
 * the cost of writing a snapshot (docs/kvcore.md#persistence).
 */
#include "rdb.h"

#include <pthread.h>

#define CRC64_REFLECTED_POLY 0x95ac9329ac4bc9b5ull /* 0xad93d23594c935a9 bit-reversed */

static uint64_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_build(void) {
    for (unsigned n = 0; n < 256; n++) {
        uint64_t c = n;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ CRC64_REFLECTED_POLY : c >> 1;
        table[0][n] = c;
    }
    for (unsigned n = 0; n < 256; n++) {
        uint64_t c = table[0][n];
        for (int k = 1; k < 8; k++) {
            c = table[0][c & 0xff] ^ (c >> 8);
            table[k][n] = c;
        }
    }
}

uint64_t kv_crc64(uint64_t crc, const void *p, size_t len) {
    pthread_once(&table_once, table_build);
    const unsigned char *s = p;
    while (len >= 8) {
        uint64_t v = crc ^ ((uint64_t)s[0] | (uint64_t)s[1] << 8 | (uint64_t)s[2] << 16 |
                            (uint64_t)s[3] << 24 | (uint64_t)s[4] << 32 | (uint64_t)s[5] << 40 |
                            (uint64_t)s[6] << 48 | (uint64_t)s[7] << 56);
        crc = table[7][v & 0xff] ^ table[6][(v >> 8) & 0xff] ^ table[5][(v >> 16) & 0xff] ^
              table[4][(v >> 24) & 0xff] ^ table[3][(v >> 32) & 0xff] ^ table[2][(v >> 40) & 0xff] ^
              table[1][(v >> 48) & 0xff] ^ table[0][v >> 56];
        s += 8;
        len -= 8;
    }
    while (len-- > 0)
        crc = table[0][(crc ^ *s++) & 0xff] ^ (crc >> 8);
    return crc;
}
