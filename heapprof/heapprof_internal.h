/* SPDX-License-Identifier: MIT */
/*
 * heapprof_internal.h - what the analyser's files (libheapprof) share and nobody else sees:
 * growable arrays, a string interner, a u64 -> u32 map, the symbolizer's per-address
 * result and the symbolized profile that every report (top, diff, collapsed, flame, pprof)
 * reads. Only heapprof/ files (and heapprof's unit tests) include it.
 *
 * Invariants: ids are dense uint32 indexes starting at 0; strings from an hp_strtab keep
 * their address until hp_strtab_fini (they live in chunks that never move).
 */
#ifndef HEAPPROF_INTERNAL_H
#define HEAPPROF_INTERNAL_H

#include "heapprof.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* printf-style format checking for the analyser's own formatters. */
#define HP_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* --- Growable arrays and small containers (util.c) --- */

/*
 * Makes room for `need` elements of `elem` bytes in *data (capacity *cap, in elements),
 * doubling. 0 or -ENOMEM (then *data and *cap are unchanged).
 */
int hp_grow(void **data, size_t *cap, size_t need, size_t elem);

/* An interner: equal strings get the same id; the text lives until hp_strtab_fini. */
typedef struct hp_strtab {
    char **chunks; // text storage, never moved once written
    size_t nchunks;
    size_t chunk_used;
    size_t chunk_size;
    struct hp_strent {
        const char *s;
        size_t len;
    } * ents; // id -> text
    size_t count, ents_cap;
    uint32_t *slots; // open addressing: id + 1, 0 = empty
    size_t nslots;
} hp_strtab_t;

void hp_strtab_init(hp_strtab_t *t);
void hp_strtab_fini(hp_strtab_t *t);
/* Interns s[0..len) and stores its id in *id. 0 or -ENOMEM. */
int hp_strtab_intern(hp_strtab_t *t, const char *s, size_t len, uint32_t *id);
/* The text of id (NUL-terminated). pre: id < t->count. */
const char *hp_strtab_get(const hp_strtab_t *t, uint32_t id);

/* A map from uint64 keys to uint32 values (open addressing). */
typedef struct hp_u64map {
    uint64_t *keys;
    uint32_t *vals; // value + 1, 0 = empty slot
    size_t nslots, count;
} hp_u64map_t;

void hp_u64map_init(hp_u64map_t *m);
void hp_u64map_fini(hp_u64map_t *m);
/* true and *val when key is present. */
bool hp_u64map_find(const hp_u64map_t *m, uint64_t key, uint32_t *val);
/* Sets key -> val (val < UINT32_MAX). 0 or -ENOMEM. */
int hp_u64map_put(hp_u64map_t *m, uint64_t key, uint32_t val);

/* Files named by a dump (objects, debug files) are never trusted to be what they say. */
#define HP_MAX_OBJECT_SIZE (16ull << 30)

/*
 * Opens path read-only if it is a regular file of at most max_size bytes: never a FIFO
 * (whose open or read would block), a device or a directory. The open does not block
 * (O_NONBLOCK) nor acquire a terminal (O_NOCTTY), and the checks are repeated with fstat on
 * the descriptor, so a file swapped between the check and the open is refused too.
 * The fd (O_CLOEXEC, blocking mode restored), or -errno of stat/open, -EISDIR (a
 * directory), -ENODEV (a FIFO, socket or device: not a regular file), -EFBIG (too large).
 */
int hp_open_regular(const char *path, uint64_t max_size);

/*
 * v rounded to the nearest integer and clamped to int64's range (NaN gives 0): for the
 * reports' integer outputs, where llround would return an unspecified value.
 */
int64_t hp_round_i64(double v);

/* Hashes for the tables above (also used by callers keying their own tables). */
uint64_t hp_hash_bytes(const void *p, size_t len);
uint64_t hp_hash_u64(uint64_t x);

/* --- Symbolizer (symbolize.c) --- */

/*
 * One function frame at an address. An address inside inlined code has several: the
 * innermost (inlined callee) first, the function that holds the code last.
 */
typedef struct hp_sym_frame {
    uint32_t func;    // function name id in the symbolizer's strtab (short, demangled)
    uint32_t sysname; // symbol as in the object (mangled), same id as func for C
    uint32_t file;    // source file id, HP_NO_STR if unknown
    uint32_t line;    // 0 if unknown
    /*
     * What tells this function from another of the same name (two statics in two files):
     * its DWARF declaration file, else for a local symbol the symbol table's STT_FILE name
     * or "@<address in hex>"; HP_NO_STR for a global symbol without DWARF.
     */
    uint32_t decl;
} hp_sym_frame_t;

#define HP_NO_STR UINT32_MAX

/* What an address resolves to. */
typedef struct hp_sym_addr {
    int32_t map;      // index of the dump mapping holding it, -1 if none
    int32_t obj;      // index of the object (hp_symbolizer_object), -1 if none
    uint64_t rel;     // address inside the object's ELF image (its vaddr), 0 if none
    bool known;       // a function name was found
    bool allocator;   // the frame belongs to the allocator (dropped from the top of stacks)
    uint32_t nframes; // >= 1 (an unknown address gets one frame naming the address)
    uint32_t first;   // index of frames[0] in the symbolizer's frame array
} hp_sym_addr_t;

typedef struct hp_symbolizer hp_symbolizer_t;

/* One ELF object the symbolizer opened (or tried to). */
typedef struct hp_sym_object {
    const char *path;       // as named by the dump (or --binary for the main program)
    const char *build_id;   // lowercase hex, "" if none or unreadable
    const char *debug_file; // separate debug file used, "" if none
    int open_error;         // 0, or -errno of opening it as ELF (-ENOEXEC: not ELF)
    bool is_main;           // the main program (the file given as --binary, if any)
    bool opened;            // the file could be read as ELF
    bool has_symbols;       // a symbol table was found (in the file or its debug file)
    bool has_lines;         // DWARF line information was found
    bool allocator;         // libjemalloc / libmemshim / ...: its frames are allocator frames
} hp_sym_object_t;

/*
 * Creates a symbolizer for the dump's mappings. opts may be NULL (defaults). The dump must
 * outlive the symbolizer. NULL on OOM.
 */
hp_symbolizer_t *hp_symbolizer_new(const hp_dump_t *dump, const hp_sym_opts_t *opts);
void hp_symbolizer_free(hp_symbolizer_t *s);
/*
 * Resolves an address (already adjusted: pc - 1 for return addresses) and stores the
 * result in *out; the result stays valid until hp_symbolizer_free. Results are cached.
 * 0 or -ENOMEM.
 */
int hp_symbolizer_lookup(hp_symbolizer_t *s, uint64_t addr, hp_sym_addr_t *out);
const hp_sym_frame_t *hp_symbolizer_frames(const hp_symbolizer_t *s);
const hp_strtab_t *hp_symbolizer_strings(const hp_symbolizer_t *s);
size_t hp_symbolizer_object_count(const hp_symbolizer_t *s);
const hp_sym_object_t *hp_symbolizer_object(const hp_symbolizer_t *s, size_t i);
/* Index of the object of mapping map_index, -1 if the mapping has no object. */
int hp_symbolizer_map_object(const hp_symbolizer_t *s, size_t map_index);
/* true when name is one of the allocator's entry points or internals (jeprof's list+). */
bool hp_sym_is_allocator_name(const char *name);
/* Shortens a demangled C++ name like jeprof: drops argument lists and template args. */
void hp_sym_short_name(char *name);

/* --- The symbolized profile (profile.c) --- */

/* A location: one (adjusted) address, with its frames (innermost first). */
typedef struct hp_loc {
    uint64_t addr; // pc for the leaf frame, pc - 1 for return addresses
    int32_t map;   // dump mapping index, -1 if none
    uint32_t nframes;
    uint32_t first; // into the profile's frames
    bool known;     // symbolized (else its one frame is named after the address)
} hp_loc_t;

/* A function as reports and pprof see it. */
/*
 * A function as reports and pprof see it: one per (name, decl). When two functions share
 * a name, each name is qualified with its file, "entry_new (t_hash.c)" (with the whole
 * path when the file names share a base name too, "entry_new@1159" when no file is known),
 * so every report keeps them apart and spells them the same.
 */
typedef struct hp_func {
    uint32_t name; // strtab ids; the qualified name when another function has the same one
    uint32_t sysname;
    uint32_t file; // declaration file (pprof's Function.filename), HP_NO_STR if unknown
    uint32_t decl; // hp_sym_frame_t's decl
} hp_func_t;

typedef struct hp_frame {
    uint32_t func; // hp_func index
    uint32_t line; // 0 if unknown
    uint32_t file; // the source file of line (can differ from the function's), HP_NO_STR
} hp_frame_t;

/* A sample: one stack of the dump, allocator frames dropped, values scaled. */
typedef struct hp_sample {
    uint32_t nlocs;
    uint32_t first; // into the profile's loc_ids, leaf first
    double v[HP_NVALUES];
} hp_sample_t;

struct hp_profile {
    uint64_t period;
    hp_strtab_t strs;
    hp_loc_t *locs;
    size_t nlocs, locs_cap;
    hp_frame_t *frames;
    size_t nframes, frames_cap;
    hp_func_t *funcs;
    size_t nfuncs, funcs_cap;
    uint32_t *loc_ids;
    size_t nloc_ids, loc_ids_cap;
    hp_sample_t *samples;
    size_t nsamples, samples_cap;
    hp_mapping_info_t *maps; // executable file mappings (pprof Mapping), main program first
    size_t nmaps;
    int32_t *map_index; // dump mapping index -> maps index, -1 if not listed
    size_t nmap_index;
    double totals[HP_NVALUES];
};

/* The display name of a frame: "func" or, with lines, "func file:line". */
int hp_frame_key(const hp_profile_t *p, const hp_frame_t *f, bool lines, char *buf, size_t len);

#endif /* HEAPPROF_INTERNAL_H */
