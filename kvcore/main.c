/* SPDX-License-Identifier: MIT */
/*
 * main.c - kvcore-server's entry point: `kvcore-server [configfile] [--name value ...]`.
 * Everything else is in libkvcore (kv.h: kv_server_main).
 */
#include "kv.h"

int main(int argc, char **argv) {
    return kv_server_main(argc, argv);
}
