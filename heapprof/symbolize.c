/* SPDX-License-Identifier: MIT */
/*
 * symbolize.c - names for the PCs of a heap dump, through elfutils (libdwfl/libdw),
 * never by spawning addr2line.
 *
 * A PC is mapped through the dump's MAPPED_LIBRARIES (a copy of /proc/<pid>/maps) to its
 * executable mapping, then to a file offset (pc - start + offset), then through the
 * object's PT_LOAD headers to an address in the ELF image: that handles PIE executables
 * and ASLR without guessing load biases. Each object is opened once (its own Dwfl, placed
 * at its link-time addresses) and cached by path; function names come from .symtab or
 * .dynsym, file:line and inline chains from DWARF. When the object has no symbols or no
 * DWARF, libdwfl asks find_debuginfo below, which looks only in the local debug store
 * (<debug_dir>/.build-id/xx/rest.debug, then .gnu_debuglink next to the object and under
 * <debug_dir>): no network, whatever DEBUGINFOD_URLS says. Results are cached per address.
 */
#include "heapprof_internal.h"

#include <dlfcn.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct seg {
    uint64_t off, filesz, vaddr;
} seg_t;

typedef struct sym_obj {
    hp_sym_object_t pub;
    struct hp_symbolizer *owner;
    const char *file; // the file opened (the dump's path, or --binary)
    char *build_id_hex;
    char *debug_file;
    Dwfl *dwfl;
    Dwfl_Module *mod;
    GElf_Addr bias; // dwfl address = ELF vaddr + bias
    seg_t *segs;
    size_t nsegs;
    bool tried;
    bool alt_found; // find_altfile supplied the dwz file its DWARF refers to
    /* CU address ranges, built when libdw's lookup (which relies on .debug_aranges, which
     * clang does not emit) finds no CU for an address. */
    struct cu_range *cus;
    size_t ncus;
    bool cus_built;
    /* Local function symbol (dwfl address) -> its STT_FILE name id, built by local_decl. */
    hp_u64map_t locals;
    bool locals_built;
} sym_obj_t;

typedef struct cu_range {
    Dwarf_Addr lo, hi; // [lo, hi) in DWARF addresses
    Dwarf_Addr bias;   // dwfl address - DWARF address
    Dwarf_Die die;
} cu_range_t;

typedef char *(*demangle_fn)(const char *, char *, size_t *, int *);

struct hp_symbolizer {
    hp_sym_opts_t opts;
    const char *debug_dir;
    const hp_mapping_t *maps;
    size_t nmaps;
    size_t *xmaps; // executable mappings sorted by start
    size_t nxmaps;
    int32_t *map_obj; // dump mapping -> object, -1 if none
    sym_obj_t *objs;
    size_t nobjs;
    hp_strtab_t strs;
    hp_sym_frame_t *frames;
    size_t nframes, frames_cap;
    hp_sym_addr_t *addrs;
    size_t naddrs, addrs_cap;
    hp_u64map_t cache;
    demangle_fn demangle;
    void *libstdcxx;
    char *scratch; // name buffer
    size_t scratch_cap;
};

/* --- Allocator frames --- */

/* jeprof's RemoveUninterestingFrames list for heap profiles, plus glibc's entry points. */
static const char *const alloc_names[] = {"calloc",
                                          "cfree",
                                          "malloc",
                                          "newImpl",
                                          "void* newImpl",
                                          "free",
                                          "memalign",
                                          "posix_memalign",
                                          "aligned_alloc",
                                          "pvalloc",
                                          "valloc",
                                          "realloc",
                                          "reallocarray",
                                          "mallocx",
                                          "rallocx",
                                          "xallocx",
                                          "dallocx",
                                          "sdallocx",
                                          "sdallocx_noflags",
                                          "tc_calloc",
                                          "tc_cfree",
                                          "tc_malloc",
                                          "tc_free",
                                          "tc_memalign",
                                          "tc_posix_memalign",
                                          "tc_pvalloc",
                                          "tc_valloc",
                                          "tc_realloc",
                                          "tc_new",
                                          "tc_delete",
                                          "tc_newarray",
                                          "tc_deletearray",
                                          "tc_new_nothrow",
                                          "tc_newarray_nothrow",
                                          "do_malloc",
                                          "::do_malloc",
                                          "::do_malloc_or_cpp_alloc",
                                          "DoSampledAllocation",
                                          "simple_alloc::allocate",
                                          "__malloc_alloc_template::allocate",
                                          "__builtin_delete",
                                          "__builtin_new",
                                          "__builtin_vec_delete",
                                          "__builtin_vec_new",
                                          "operator new",
                                          "operator new[]",
                                          "__libc_malloc",
                                          "__libc_calloc",
                                          "__libc_realloc",
                                          "__libc_memalign",
                                          "__posix_memalign",
                                          "malloc_zone_malloc",
                                          "malloc_zone_calloc",
                                          "malloc_zone_valloc",
                                          "malloc_zone_realloc",
                                          "malloc_zone_memalign",
                                          "malloc_zone_free",
                                          "__start_google_malloc",
                                          "__stop_google_malloc",
                                          "__start_malloc_hook",
                                          "__stop_malloc_hook"};

bool hp_sym_is_allocator_name(const char *name) {
    if (name[0] == '_' && name[1] != '_' && name[1] != ':') name++; // Mach-O's "_" prefix
    for (size_t i = 0; i < sizeof(alloc_names) / sizeof(alloc_names[0]); i++) {
        if (strcmp(name, alloc_names[i]) == 0) return true;
    }
    return strncmp(name, "TCMalloc", 8) == 0 || strstr(name, "TCMalloc") != NULL ||
           strncmp(name, "tcmalloc::", 10) == 0;
}

static bool is_allocator_object(const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    static const char *const libs[] = {"libjemalloc.", "libmemshim.", "libunwind.", "libunwind-"};
    for (size_t i = 0; i < sizeof(libs) / sizeof(libs[0]); i++) {
        if (strncmp(base, libs[i], strlen(libs[i])) == 0) return true;
    }
    return false;
}

/* --- Names --- */

static bool is_word(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/*
 * Removes innermost open..close groups until none is left, like jeprof's
 * `while (s/\([^()]*\)(\s*const)?//g) {}`; an unmatched close (operator->) stays.
 */
static void strip_groups(char *s, char open, char close) {
    bool changed = true;
    while (changed) {
        changed = false;
        char *o = NULL;
        for (char *p = s; *p; p++) {
            if (*p == open) {
                o = p;
            } else if (*p == close && o != NULL) {
                char *after = p + 1;
                if (open == '(') {
                    char *q = after;
                    while (*q == ' ' || *q == '\t')
                        q++;
                    if (strncmp(q, "const", 5) == 0 && !is_word(q[5])) after = q + 5;
                }
                memmove(o, after, strlen(after) + 1);
                changed = true;
                break;
            } else if (*p == close) {
                o = NULL;
            }
        }
    }
}

void hp_sym_short_name(char *name) {
    strip_groups(name, '(', ')');
    strip_groups(name, '<', '>');
    /* jeprof: s/^.*\s+(\w+::)/$1/ (drops a leading return type). */
    char *cut = NULL;
    for (char *p = name; *p; p++) {
        if (*p != ' ' && *p != '\t') continue;
        char *w = p;
        while (*w == ' ' || *w == '\t')
            w++;
        char *e = w;
        while (is_word(*e))
            e++;
        if (e > w && e[0] == ':' && e[1] == ':') cut = w;
    }
    if (cut != NULL) memmove(name, cut, strlen(cut) + 1);
}

static int intern(hp_symbolizer_t *s, const char *str, uint32_t *id) {
    return hp_strtab_intern(&s->strs, str, strlen(str), id);
}

/* The display name of a symbol: demangled, shortened. */
static int intern_name(hp_symbolizer_t *s, const char *sym, uint32_t *id) {
    char *dem = NULL;
    if (sym[0] == '_' && sym[1] == 'Z' && s->demangle != NULL) {
        int status = 0;
        dem = s->demangle(sym, NULL, NULL, &status);
        if (status != 0) {
            free(dem);
            dem = NULL;
        }
    }
    const char *src = dem ? dem : sym;
    size_t len = strlen(src);
    if (hp_grow((void **)&s->scratch, &s->scratch_cap, len + 1, 1) != 0) {
        free(dem);
        return -ENOMEM;
    }
    memcpy(s->scratch, src, len + 1);
    bool demangled = dem != NULL;
    free(dem);
    /* Versioned dynamic names ("foo@@GLIBC_2.2.5") read better without the version, and
     * GCC's clones ("foo.part.0", "foo.cold", demangled "foo() [clone .cold]") are foo. */
    char *at = strchr(s->scratch, '@');
    if (at != NULL && at != s->scratch) *at = '\0';
    char *clone = strstr(s->scratch, " [clone ");
    if (clone != NULL) *clone = '\0';
    char *dot = demangled ? NULL : strchr(s->scratch + 1, '.');
    if (dot != NULL) *dot = '\0';
    hp_sym_short_name(s->scratch);
    if (s->scratch[0] == '\0') return intern(s, sym, id);
    return intern(s, s->scratch, id);
}

/* --- Objects --- */

static char *hex_string(const unsigned char *bits, size_t len) {
    char *out = malloc(len * 2 + 1);
    if (out == NULL) return NULL;
    for (size_t i = 0; i < len; i++)
        snprintf(out + 2 * i, 3, "%02x", bits[i]);
    out[len * 2] = '\0';
    return out;
}

/*
 * Opens path if it is a regular file whose build-id is `want` (or want is NULL). fd or -1.
 * Every file opened because a dump or an object names it goes through hp_open_regular: a
 * FIFO planted at a debug path must not hang the analyser.
 */
static int open_debug_candidate(const char *path, const void *want, size_t want_len) {
    int fd = hp_open_regular(path, HP_MAX_OBJECT_SIZE);
    if (fd < 0) return -1;
    if (want == NULL) return fd;
    Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    const void *id = NULL;
    ssize_t n = elf ? dwelf_elf_gnu_build_id(elf, &id) : -1;
    bool ok = n == (ssize_t)want_len && memcmp(id, want, want_len) == 0;
    if (elf) elf_end(elf);
    if (!ok) {
        close(fd);
        return -1;
    }
    return fd;
}

static int find_elf_none(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
                         char **file_name, Elf **elfp) {
    (void)mod, (void)userdata, (void)modname, (void)base, (void)file_name, (void)elfp;
    return -1;
}

/*
 * The build-id that the .gnu_debugaltlink section of `file` gives with the name `name`
 * (dwz's shared debug file), copied to id (cap bytes). Its length, 0 if there is none.
 */
static size_t altlink_build_id(const char *file, const char *name, unsigned char *id, size_t cap) {
    int fd = hp_open_regular(file, HP_MAX_OBJECT_SIZE);
    if (fd < 0) return 0;
    Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    size_t n = 0, shstrndx;
    if (elf != NULL && elf_getshdrstrndx(elf, &shstrndx) == 0) {
        for (Elf_Scn *scn = elf_nextscn(elf, NULL); scn != NULL; scn = elf_nextscn(elf, scn)) {
            GElf_Shdr sh;
            const char *sn;
            if (gelf_getshdr(scn, &sh) == NULL ||
                (sn = elf_strptr(elf, shstrndx, sh.sh_name)) == NULL ||
                strcmp(sn, ".gnu_debugaltlink") != 0)
                continue;
            Elf_Data *data = elf_getdata(scn, NULL);
            const char *b = data != NULL ? data->d_buf : NULL;
            const char *nul = b != NULL ? memchr(b, '\0', data->d_size) : NULL;
            if (nul != NULL && strcmp(b, name) == 0) {
                size_t idlen = data->d_size - (size_t)(nul + 1 - b);
                if (idlen > 0 && idlen <= cap) {
                    memcpy(id, nul + 1, idlen);
                    n = idlen;
                }
            }
            break;
        }
    }
    if (elf != NULL) elf_end(elf);
    close(fd);
    return n;
}

/*
 * dwz's shared debug file named by file_name's .gnu_debugaltlink: by its build-id in the
 * store, then at the path the link gives (relative to file_name's directory). Found here or
 * nowhere: libdw's own search would open those paths without checking what they are.
 */
static int find_altfile(sym_obj_t *o, const char *file_name, const char *altname,
                        const unsigned char *id, size_t idlen, char **out_name) {
    char path[4096];
    char *hex = hex_string(id, idlen);
    if (hex == NULL) return -1;
    for (int i = 0; i < 2; i++) {
        if (i == 0) {
            snprintf(path, sizeof(path), "%s/.build-id/%.2s/%s.debug", o->owner->debug_dir, hex,
                     hex + 2);
        } else if (altname[0] == '/') {
            snprintf(path, sizeof(path), "%s", altname);
        } else {
            const char *slash = strrchr(file_name, '/');
            int dlen = slash ? (int)(slash - file_name) : 1;
            snprintf(path, sizeof(path), "%.*s/%s", dlen, slash ? file_name : ".", altname);
        }
        int fd = open_debug_candidate(path, id, idlen);
        if (fd >= 0) {
            free(hex);
            *out_name = strdup(path);
            o->alt_found = true;
            return fd;
        }
    }
    free(hex);
    return -1;
}

/* libdwfl's hook for separate debug info: the local store only. */
static int find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
                          const char *file_name, const char *debuglink, GElf_Word crc,
                          char **debuginfo_file_name) {
    (void)modname, (void)base, (void)crc;
    sym_obj_t *o = *userdata;
    if (o == NULL) return -1;
    const char *dir = o->owner->debug_dir;
    char path[4096];
    if (debuglink != NULL && file_name != NULL) {
        unsigned char alt[64];
        size_t altn = altlink_build_id(file_name, debuglink, alt, sizeof(alt));
        if (altn > 0) return find_altfile(o, file_name, debuglink, alt, altn, debuginfo_file_name);
    }
    const unsigned char *bits = NULL;
    GElf_Addr vaddr;
    int n = dwfl_module_build_id(mod, &bits, &vaddr);
    if (n > 1) {
        char *hex = hex_string(bits, (size_t)n);
        if (hex == NULL) return -1;
        snprintf(path, sizeof(path), "%s/.build-id/%.2s/%s.debug", dir, hex, hex + 2);
        free(hex);
        int fd = open_debug_candidate(path, bits, (size_t)n);
        if (fd >= 0) {
            *debuginfo_file_name = strdup(path);
            return fd;
        }
    }
    if (debuglink == NULL || file_name == NULL || strchr(debuglink, '/') != NULL) return -1;
    const char *slash = strrchr(file_name, '/');
    int dlen = slash ? (int)(slash - file_name) : 1;
    const char *d = slash ? file_name : ".";
    for (int i = 0; i < 3; i++) {
        if (i == 0)
            snprintf(path, sizeof(path), "%.*s/%s", dlen, d, debuglink);
        else if (i == 1)
            snprintf(path, sizeof(path), "%.*s/.debug/%s", dlen, d, debuglink);
        else
            snprintf(path, sizeof(path), "%s%.*s/%s", dir, dlen, d, debuglink);
        if (strcmp(path, file_name) == 0) continue;
        int fd = open_debug_candidate(path, n > 1 ? bits : NULL, n > 1 ? (size_t)n : 0);
        if (fd >= 0) {
            *debuginfo_file_name = strdup(path);
            return fd;
        }
    }
    return -1;
}

static const Dwfl_Callbacks dwfl_callbacks = {
    .find_elf = find_elf_none,
    .find_debuginfo = find_debuginfo,
    .section_address = dwfl_offline_section_address,
};

/* The object carries its own DWARF (no separate debug file to decompress). */
static bool has_own_dwarf(Elf *elf) {
    size_t shstrndx;
    if (elf_getshdrstrndx(elf, &shstrndx) != 0) return false;
    for (Elf_Scn *scn = elf_nextscn(elf, NULL); scn != NULL; scn = elf_nextscn(elf, scn)) {
        GElf_Shdr sh;
        if (gelf_getshdr(scn, &sh) == NULL) continue;
        const char *name = elf_strptr(elf, shstrndx, sh.sh_name);
        if (name && (strcmp(name, ".debug_info") == 0 || strcmp(name, ".zdebug_info") == 0))
            return sh.sh_type != SHT_NOBITS;
    }
    return false;
}

/* A library the system installed (whose debug files come from the distribution). */
static bool is_system_path(const char *path) {
    static const char *const dirs[] = {"/lib/", "/lib64/", "/usr/lib/", "/usr/lib64/",
                                       "/usr/libexec/"};
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        if (strncmp(path, dirs[i], strlen(dirs[i])) == 0) return true;
    }
    return false;
}

static int check_main(const hp_mapping_t *maps, size_t n, const char *binary, char *ran,
                      size_t ran_cap, char *msg, size_t len);

static void object_open(hp_symbolizer_t *s, sym_obj_t *o) {
    o->tried = true;
    int fd = hp_open_regular(o->file, HP_MAX_OBJECT_SIZE);
    if (fd < 0) {
        o->pub.open_error = fd;
        return;
    }
    o->dwfl = dwfl_begin(&dwfl_callbacks);
    if (o->dwfl == NULL) {
        close(fd);
        o->pub.open_error = -ENOMEM;
        return;
    }
    const char *base = strrchr(o->file, '/');
    o->mod = dwfl_report_elf(o->dwfl, base ? base + 1 : o->file, o->file, fd, 0, true);
    dwfl_report_end(o->dwfl, NULL, NULL);
    if (o->mod == NULL) {
        close(fd); // not consumed on failure
        o->pub.open_error = -ENOEXEC;
        return;
    }
    void **ud = NULL;
    dwfl_module_info(o->mod, &ud, NULL, NULL, NULL, NULL, NULL, NULL);
    if (ud != NULL) *ud = o;
    Elf *elf = dwfl_module_getelf(o->mod, &o->bias);
    if (elf == NULL) {
        o->pub.open_error = -ENOEXEC;
        o->mod = NULL;
        return;
    }
    o->pub.opened = true;
    size_t nph = 0;
    if (elf_getphdrnum(elf, &nph) == 0 && nph > 0) {
        o->segs = calloc(nph, sizeof(*o->segs));
        for (size_t i = 0; o->segs != NULL && i < nph; i++) {
            GElf_Phdr ph;
            if (gelf_getphdr(elf, (int)i, &ph) == NULL || ph.p_type != PT_LOAD) continue;
            o->segs[o->nsegs++] = (seg_t){ph.p_offset, ph.p_filesz, ph.p_vaddr};
        }
    }
    const unsigned char *bits = NULL;
    GElf_Addr vaddr;
    int n = dwfl_module_build_id(o->mod, &bits, &vaddr);
    if (n > 0) {
        o->build_id_hex = hex_string(bits, (size_t)n);
        if (o->build_id_hex != NULL) o->pub.build_id = o->build_id_hex;
    }
    if (o->pub.is_main && s->opts.binary != NULL) {
        /* --binary names another build than the one that ran (kept on with --force):
         * the profile's mapping carries the build-id that ran, or none if unknown. */
        char ran[128], msg[8];
        if (check_main(s->maps, s->nmaps, s->opts.binary, ran, sizeof(ran), msg, sizeof(msg)) ==
            HP_BIN_MISMATCH) {
            free(o->build_id_hex);
            o->build_id_hex = strdup(ran);
            o->pub.build_id = o->build_id_hex != NULL ? o->build_id_hex : "";
        }
    }
    o->pub.has_symbols = dwfl_module_getsymtab(o->mod) > 0;
    if (s->opts.system_lines || has_own_dwarf(elf) || !is_system_path(o->file)) {
        Dwarf_Addr dwbias;
        Dwarf *dw = dwfl_module_getdwarf(o->mod, &dwbias);
        const char *altname;
        const void *altid;
        /* DWARF that needs a dwz file find_altfile did not supply stays unread: reading
         * it would make libdw search for that file itself. */
        o->pub.has_lines =
            dw != NULL && (o->alt_found || dwelf_dwarf_gnu_debugaltlink(dw, &altname, &altid) <= 0);
    }
    const char *mainfile = NULL, *debugfile = NULL;
    dwfl_module_info(o->mod, NULL, NULL, NULL, NULL, NULL, &mainfile, &debugfile);
    if (debugfile != NULL && (mainfile == NULL || strcmp(debugfile, mainfile) != 0)) {
        o->debug_file = strdup(debugfile);
        if (o->debug_file != NULL) o->pub.debug_file = o->debug_file;
    }
}

/* --- Construction --- */

static int cmp_map_start(const void *a, const void *b, void *ctx) {
    const hp_mapping_t *maps = ctx;
    uint64_t x = maps[*(const size_t *)a].start, y = maps[*(const size_t *)b].start;
    return x < y ? -1 : x > y;
}

static bool is_file_mapping(const hp_mapping_t *m) {
    return m->path[0] == '/';
}

static bool looks_like_library(const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *so = strstr(base, ".so");
    return so != NULL && (so[3] == '\0' || so[3] == '.');
}

static bool same_file(const char *a, const char *b) {
    if (strcmp(a, b) == 0) return true;
    const char *ba = strrchr(a, '/'), *bb = strrchr(b, '/');
    return strcmp(ba ? ba + 1 : a, bb ? bb + 1 : b) == 0;
}

/* Which mapping's path is the main program: --binary's name, else the first non-library. */
static const char *main_program_path(const hp_mapping_t *maps, size_t n, const char *binary) {
    const char *first = NULL, *first_exe = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!is_file_mapping(&maps[i])) continue;
        if (binary != NULL && same_file(maps[i].path, binary)) return maps[i].path;
        if (first == NULL) first = maps[i].path;
        if (first_exe == NULL && !looks_like_library(maps[i].path)) first_exe = maps[i].path;
    }
    return first_exe ? first_exe : first;
}

/* --- Is the main program the build that ran? --- */

/* path's GNU build-id in lowercase hex into hex (cap bytes); false if it has none. */
static bool file_build_id(const char *path, char *hex, size_t cap) {
    hex[0] = '\0';
    int fd = hp_open_regular(path, HP_MAX_OBJECT_SIZE);
    if (fd < 0) return false;
    elf_version(EV_CURRENT);
    Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    const void *id = NULL;
    ssize_t n = elf ? dwelf_elf_gnu_build_id(elf, &id) : -1;
    if (n > 0 && (size_t)n * 2 < cap) {
        for (ssize_t i = 0; i < n; i++)
            snprintf(hex + 2 * i, 3, "%02x", ((const unsigned char *)id)[i]);
    }
    if (elf) elf_end(elf);
    close(fd);
    return hex[0] != '\0';
}

/*
 * Whether path's executable PT_LOAD segments fit the dump's executable mappings of main:
 * each one starts at a segment's page-aligned file offset and is as long as that segment
 * rounded out to pages (4, 16 or 64 KiB). true when the file cannot be read (nothing
 * proven).
 */
static bool layout_fits(const char *path, const hp_mapping_t *maps, size_t n, const char *main) {
    int fd = hp_open_regular(path, HP_MAX_OBJECT_SIZE);
    if (fd < 0) return true;
    elf_version(EV_CURRENT);
    Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    size_t nph = 0;
    bool fits = true;
    if (elf != NULL && elf_kind(elf) == ELF_K_ELF && elf_getphdrnum(elf, &nph) == 0) {
        for (size_t i = 0; i < n && fits; i++) {
            const hp_mapping_t *m = &maps[i];
            if (m->perms[2] != 'x' || strcmp(m->path, main) != 0) continue;
            bool found = false;
            for (size_t k = 0; k < nph && !found; k++) {
                GElf_Phdr ph;
                if (gelf_getphdr(elf, (int)k, &ph) == NULL || ph.p_type != PT_LOAD ||
                    !(ph.p_flags & PF_X))
                    continue;
                for (uint64_t pg = 4096; pg <= 65536 && !found; pg *= 4) {
                    uint64_t lo = ph.p_vaddr & ~(pg - 1);
                    uint64_t hi = (ph.p_vaddr + ph.p_filesz + pg - 1) & ~(pg - 1);
                    found = (ph.p_offset & ~(pg - 1)) == m->offset && hi - lo == m->end - m->start;
                }
            }
            fits = found;
        }
    }
    if (elf) elf_end(elf);
    close(fd);
    return fits;
}

/* hp_check_binary's work; ran gets the build-id of the build that ran when known. */
static int check_main(const hp_mapping_t *maps, size_t n, const char *binary, char *ran,
                      size_t ran_cap, char *msg, size_t len) {
    ran[0] = '\0';
    if (len > 0) msg[0] = '\0';
    const char *main = main_program_path(maps, n, binary);
    const hp_mapping_t *mm = NULL;
    for (size_t i = 0; i < n && mm == NULL; i++) {
        if (main != NULL && maps[i].perms[2] == 'x' && strcmp(maps[i].path, main) == 0)
            mm = &maps[i];
    }
    if (mm == NULL || mm->inode == 0) return HP_BIN_OK;
    struct stat at, bin;
    bool same_at = stat(main, &at) == 0 && (uint64_t)at.st_ino == mm->inode;
    if (binary != NULL && stat(binary, &bin) == 0 && (uint64_t)bin.st_ino == mm->inode &&
        (!same_at || at.st_dev == bin.st_dev))
        return HP_BIN_OK; // BIN is the very file that ran (moved, or the same path)
    const char *file = binary != NULL ? binary : main;
    if (same_at) {
        file_build_id(main, ran, ran_cap);
        if (binary == NULL) return HP_BIN_OK;
        char have[128];
        bool has = file_build_id(binary, have, sizeof(have));
        if (ran[0] != '\0' && has && strcmp(ran, have) == 0) return HP_BIN_OK;
        if (ran[0] != '\0' && has) {
            snprintf(msg, len,
                     "%s is not the build that wrote the dump: its build-id is %s, the "
                     "program that ran (%s) has %s",
                     binary, have, main, ran);
            return HP_BIN_MISMATCH;
        }
    }
    if (!layout_fits(file, maps, n, main)) {
        snprintf(msg, len,
                 "%s is not the build that wrote the dump: its code segment does not fit the "
                 "dump's mapping of %s",
                 file, main);
        return HP_BIN_MISMATCH;
    }
    if (binary == NULL) {
        if (stat(main, &at) != 0) return HP_BIN_OK; // gone: the open warning says so
        snprintf(msg, len,
                 "%s was replaced after the dump was written (inode %" PRIu64
                 " in the dump, %" PRIu64 " now), so it may not be the build that ran; "
                 "pass that build with --binary",
                 main, mm->inode, (uint64_t)at.st_ino);
        return HP_BIN_MISMATCH;
    }
    snprintf(msg, len,
             "cannot check that %s is the build that wrote the dump (the dump records no "
             "build-id, and %s is no longer the file that ran)",
             binary, main);
    return HP_BIN_UNVERIFIED;
}

int hp_check_binary(const hp_dump_t *d, const hp_sym_opts_t *opts, char *msg, size_t len) {
    size_t n;
    const hp_mapping_t *maps = hp_dump_mappings(d, &n);
    char ran[128];
    if (opts != NULL && opts->no_symbols) return HP_BIN_OK;
    return check_main(maps, n, opts ? opts->binary : NULL, ran, sizeof(ran), msg, len);
}

hp_symbolizer_t *hp_symbolizer_new(const hp_dump_t *dump, const hp_sym_opts_t *opts) {
    hp_symbolizer_t *s = calloc(1, sizeof(*s));
    if (s == NULL) return NULL;
    if (opts != NULL) s->opts = *opts;
    s->debug_dir = s->opts.debug_dir ? s->opts.debug_dir : "/usr/lib/debug";
    hp_strtab_init(&s->strs);
    hp_u64map_init(&s->cache);
    s->maps = hp_dump_mappings(dump, &s->nmaps);
    s->xmaps = calloc(s->nmaps + 1, sizeof(*s->xmaps));
    s->map_obj = calloc(s->nmaps + 1, sizeof(*s->map_obj));
    s->objs = calloc(s->nmaps + 1, sizeof(*s->objs));
    if (s->xmaps == NULL || s->map_obj == NULL || s->objs == NULL) goto oom;
    const char *main_path = main_program_path(s->maps, s->nmaps, s->opts.binary);
    for (size_t i = 0; i < s->nmaps; i++) {
        const hp_mapping_t *m = &s->maps[i];
        s->map_obj[i] = -1;
        if (m->perms[2] != 'x') continue;
        s->xmaps[s->nxmaps++] = i;
        if (!is_file_mapping(m) || s->opts.no_symbols) continue;
        size_t j = 0;
        while (j < s->nobjs && strcmp(s->objs[j].pub.path, m->path) != 0)
            j++;
        if (j == s->nobjs) {
            sym_obj_t *o = &s->objs[s->nobjs++];
            o->owner = s;
            o->pub.path = m->path;
            o->pub.build_id = "";
            o->pub.debug_file = "";
            o->pub.allocator = is_allocator_object(m->path);
            o->pub.is_main = main_path != NULL && strcmp(m->path, main_path) == 0;
            o->file = o->pub.is_main && s->opts.binary ? s->opts.binary : m->path;
        }
        s->map_obj[i] = (int32_t)j;
    }
    qsort_r(s->xmaps, s->nxmaps, sizeof(*s->xmaps), cmp_map_start, (void *)s->maps);
    s->libstdcxx = dlopen("libstdc++.so.6", RTLD_LAZY | RTLD_LOCAL);
    if (s->libstdcxx != NULL)
        s->demangle = (demangle_fn)(uintptr_t)dlsym(s->libstdcxx, "__cxa_demangle");
    return s;
oom:
    hp_symbolizer_free(s);
    return NULL;
}

void hp_symbolizer_free(hp_symbolizer_t *s) {
    if (s == NULL) return;
    for (size_t i = 0; i < s->nobjs; i++) {
        sym_obj_t *o = &s->objs[i];
        if (o->dwfl) dwfl_end(o->dwfl);
        free(o->segs);
        free(o->cus);
        hp_u64map_fini(&o->locals);
        free(o->build_id_hex);
        free(o->debug_file);
    }
    free(s->objs);
    free(s->xmaps);
    free(s->map_obj);
    free(s->frames);
    free(s->addrs);
    free(s->scratch);
    hp_u64map_fini(&s->cache);
    hp_strtab_fini(&s->strs);
    if (s->libstdcxx) dlclose(s->libstdcxx);
    free(s);
}

const hp_sym_frame_t *hp_symbolizer_frames(const hp_symbolizer_t *s) {
    return s->frames;
}

const hp_strtab_t *hp_symbolizer_strings(const hp_symbolizer_t *s) {
    return &s->strs;
}

size_t hp_symbolizer_object_count(const hp_symbolizer_t *s) {
    return s->nobjs;
}

const hp_sym_object_t *hp_symbolizer_object(const hp_symbolizer_t *s, size_t i) {
    sym_obj_t *o = &s->objs[i];
    if (!o->tried) object_open(s->objs[i].owner, o);
    return &o->pub;
}

int hp_symbolizer_map_object(const hp_symbolizer_t *s, size_t map_index) {
    return map_index < s->nmaps ? s->map_obj[map_index] : -1;
}

/* --- Lookup --- */

static int find_xmap(const hp_symbolizer_t *s, uint64_t addr) {
    size_t lo = 0, hi = s->nxmaps;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->maps[s->xmaps[mid]].start <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0) return -1;
    size_t i = s->xmaps[lo - 1];
    return addr < s->maps[i].end ? (int)i : -1;
}

static uint64_t offset_to_vaddr(const sym_obj_t *o, uint64_t off) {
    for (size_t i = 0; i < o->nsegs; i++) {
        const seg_t *g = &o->segs[i];
        if (off >= g->off && off - g->off < g->filesz) return g->vaddr + (off - g->off);
    }
    return off;
}

static int push_frame(hp_symbolizer_t *s, uint32_t func, uint32_t sysname, uint32_t file,
                      uint32_t line, uint32_t decl) {
    if (hp_grow((void **)&s->frames, &s->frames_cap, s->nframes + 1, sizeof(*s->frames)) != 0)
        return -ENOMEM;
    s->frames[s->nframes++] = (hp_sym_frame_t){func, sysname, file, line, decl};
    return 0;
}

static const char *die_linkage_name(Dwarf_Die *die) {
    Dwarf_Attribute attr;
    const char *n = NULL;
    if (dwarf_attr_integrate(die, DW_AT_linkage_name, &attr) != NULL ||
        dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr) != NULL)
        n = dwarf_formstring(&attr);
    return n;
}

/* Name ids for a DWARF function DIE, or -ENOENT when it has no name. */
static int die_names(hp_symbolizer_t *s, Dwarf_Die *die, uint32_t *func, uint32_t *sysname) {
    /* C++ needs the mangled name for qualification; a C linkage name is an asm label
     * (glibc's __GI_ aliases), so C functions go by their DWARF name. */
    const char *link = die_linkage_name(die);
    const char *name = link && link[0] == '_' && link[1] == 'Z' ? link : dwarf_diename(die);
    if (name == NULL) name = link;
    if (name == NULL) return -ENOENT;
    int rc = intern_name(s, name, func);
    if (rc == 0) rc = intern(s, name, sysname);
    return rc;
}

/* Interns a source file name, joined to the CU's compilation directory when relative. */
static int file_id(hp_symbolizer_t *s, const char *file, const char *comp_dir, uint32_t *id) {
    if (file == NULL) {
        *id = HP_NO_STR;
        return 0;
    }
    if (file[0] == '/' || comp_dir == NULL || comp_dir[0] == '\0') return intern(s, file, id);
    while (file[0] == '.' && file[1] == '/')
        file += 2;
    size_t need = strlen(comp_dir) + strlen(file) + 2;
    if (hp_grow((void **)&s->scratch, &s->scratch_cap, need, 1) != 0) return -ENOMEM;
    snprintf(s->scratch, s->scratch_cap, "%s/%s", comp_dir, file);
    return intern(s, s->scratch, id);
}

static const char *cu_comp_dir(Dwarf_Die *cu) {
    Dwarf_Attribute attr;
    return dwarf_attr(cu, DW_AT_comp_dir, &attr) ? dwarf_formstring(&attr) : NULL;
}

/*
 * Frames from DWARF: the inline chain at a (innermost first), each with the file:line
 * where its code is (innermost: the line table; outer ones: the call site of the inlined
 * callee below them). Returns the number of frames pushed (0: no DWARF function found).
 */
static int cmp_cu_range(const void *a, const void *b) {
    const cu_range_t *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static void build_cu_table(sym_obj_t *o) {
    o->cus_built = true;
    size_t cap = 0;
    Dwarf_Addr bias;
    for (Dwarf_Die *cu = dwfl_module_nextcu(o->mod, NULL, &bias); cu != NULL;
         cu = dwfl_module_nextcu(o->mod, cu, &bias)) {
        Dwarf_Addr base, lo, hi;
        for (ptrdiff_t off = 0; (off = dwarf_ranges(cu, off, &base, &lo, &hi)) > 0;) {
            if (hi <= lo) continue;
            if (hp_grow((void **)&o->cus, &cap, o->ncus + 1, sizeof(*o->cus)) != 0) return;
            o->cus[o->ncus++] = (cu_range_t){lo, hi, bias, *cu};
        }
    }
    if (o->ncus > 1) qsort(o->cus, o->ncus, sizeof(*o->cus), cmp_cu_range);
}

/* The CU DIE holding dwfl address a (bias in *bias), or NULL. */
static Dwarf_Die *find_cu(sym_obj_t *o, Dwarf_Addr a, Dwarf_Addr *bias) {
    Dwarf_Die *cu = dwfl_module_addrdie(o->mod, a, bias);
    if (cu != NULL) return cu;
    if (!o->cus_built) build_cu_table(o);
    size_t lo = 0, hi = o->ncus;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (o->cus[mid].lo + o->cus[mid].bias <= a)
            lo = mid + 1;
        else
            hi = mid;
    }
    /* Ranges of different CUs do not overlap; look back a little for nested ones. */
    for (size_t i = lo; i-- > 0 && lo - i <= 4;) {
        cu_range_t *r = &o->cus[i];
        if (a >= r->lo + r->bias && a < r->hi + r->bias) {
            *bias = r->bias;
            return &r->die;
        }
    }
    return NULL;
}

static int dwarf_frames(hp_symbolizer_t *s, sym_obj_t *o, Dwarf_Addr a, uint32_t sym_func,
                        uint32_t sym_sys, uint32_t sym_decl) {
    Dwarf_Addr cubias = 0;
    Dwarf_Die *cu = find_cu(o, a, &cubias);
    if (cu == NULL) return 0;
    const char *file = NULL;
    int line = 0;
    Dwarf_Line *l = dwarf_getsrc_die(cu, a - cubias);
    if (l != NULL) {
        file = dwarf_linesrc(l, NULL, NULL);
        if (dwarf_lineno(l, &line) != 0) line = 0;
    }
    const char *comp_dir = cu_comp_dir(cu);
    /* The innermost scope at the address, then its concrete parents (as eu-addr2line -i
     * does): dwarf_getscopes alone continues an inlined call into the inlined function's
     * abstract definition (its class, namespace), not into its caller. */
    Dwarf_Die *scopes = NULL;
    int n = dwarf_getscopes(cu, a - cubias, &scopes);
    if (n > 0) {
        Dwarf_Addr dwbias;
        Dwarf *dw = dwfl_module_getdwarf(o->mod, &dwbias);
        Dwarf_Die inner;
        bool ok = dw != NULL && dwarf_offdie(dw, dwarf_dieoffset(&scopes[0]), &inner) != NULL;
        free(scopes);
        scopes = NULL;
        n = ok ? dwarf_getscopes_die(&inner, &scopes) : 0;
    }
    /* The DWARF name of the function holding the code: an inlined copy of it (GCC inlines
     * a function into itself) is spelled as the function is, by its symbol. */
    uint32_t sub_func = HP_NO_STR, sub_sys;
    for (int i = 0; i < n; i++) {
        if (dwarf_tag(&scopes[i]) != DW_TAG_subprogram) continue;
        if (die_names(s, &scopes[i], &sub_func, &sub_sys) != 0) sub_func = HP_NO_STR;
        break;
    }
    Dwarf_Files *files = NULL;
    size_t nfiles = 0;
    int pushed = 0, rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        int tag = dwarf_tag(&scopes[i]);
        if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_subprogram) continue;
        uint32_t func, sys, fid, decl;
        /* The function holding the code goes by its symbol when one covers the address, as
         * it does when the object's DWARF is not read (system libraries without --lines):
         * one spelling either way (__libc_start_main, not its DWARF __libc_start_main_impl).
         * Inlined callees have no symbol: their DWARF name. */
        bool named = false;
        if (tag == DW_TAG_subprogram && sym_func != HP_NO_STR) {
            func = sym_func;
            sys = sym_sys;
            named = true;
        } else {
            named = die_names(s, &scopes[i], &func, &sys) == 0;
            if (named && func == sub_func && sym_func != HP_NO_STR) {
                func = sym_func;
                sys = sym_sys;
            }
        }
        if (named) {
            if ((rc = file_id(s, file, comp_dir, &fid)) != 0) break;
            if ((rc = file_id(s, dwarf_decl_file(&scopes[i]), comp_dir, &decl)) != 0) break;
            if (decl == HP_NO_STR && tag == DW_TAG_subprogram) decl = sym_decl;
            if ((rc = push_frame(s, func, sys, fid, line > 0 ? (uint32_t)line : 0, decl)) != 0)
                break;
            pushed++;
        }
        if (tag == DW_TAG_subprogram) break;
        /* The caller's position is this inlined call's call_file:call_line. */
        Dwarf_Attribute attr;
        Dwarf_Word cf = 0, cl = 0;
        file = NULL;
        line = 0;
        if (dwarf_attr(&scopes[i], DW_AT_call_file, &attr) != NULL &&
            dwarf_formudata(&attr, &cf) == 0) {
            if (files == NULL && dwarf_getsrcfiles(cu, &files, &nfiles) != 0) files = NULL;
            if (files != NULL && cf < nfiles) file = dwarf_filesrc(files, cf, NULL, NULL);
        }
        if (dwarf_attr(&scopes[i], DW_AT_call_line, &attr) != NULL &&
            dwarf_formudata(&attr, &cl) == 0)
            line = (int)cl;
    }
    free(scopes);
    if (rc != 0) return rc;
    if (pushed == 0 && sym_func != HP_NO_STR) {
        uint32_t fid;
        if ((rc = file_id(s, file, comp_dir, &fid)) != 0) return rc;
        if ((rc = push_frame(s, sym_func, sym_sys, fid, line > 0 ? (uint32_t)line : 0, sym_decl)) !=
            0)
            return rc;
        pushed = 1;
    }
    return pushed;
}

/*
 * The source file of the local (static) function symbol at dwfl address sym_addr: the
 * STT_FILE symbol that precedes it in the symbol table (the compiler's name of its
 * translation unit), or "@<ELF address in hex>" (jeprof's way of telling same-named
 * functions apart) when the table names no file. The object's local functions are
 * indexed on first use.
 */
static int local_decl(hp_symbolizer_t *s, sym_obj_t *o, Dwarf_Addr sym_addr, uint32_t *decl) {
    if (!o->locals_built) {
        o->locals_built = true;
        int nsyms = dwfl_module_getsymtab(o->mod);
        uint32_t cur = HP_NO_STR;
        for (int i = 0; i < nsyms; i++) {
            GElf_Sym sym;
            GElf_Addr addr;
            const char *nm = dwfl_module_getsym_info(o->mod, i, &sym, &addr, NULL, NULL, NULL);
            if (nm == NULL) continue;
            uint32_t seen;
            int rc = 0;
            if (GELF_ST_TYPE(sym.st_info) == STT_FILE) {
                cur = HP_NO_STR;
                if (nm[0] != '\0') rc = intern(s, nm, &cur);
            } else if (GELF_ST_TYPE(sym.st_info) == STT_FUNC &&
                       GELF_ST_BIND(sym.st_info) == STB_LOCAL && cur != HP_NO_STR &&
                       !hp_u64map_find(&o->locals, addr, &seen)) {
                rc = hp_u64map_put(&o->locals, addr, cur);
            }
            if (rc != 0) return rc;
        }
    }
    if (hp_u64map_find(&o->locals, sym_addr, decl)) return 0;
    char buf[32];
    snprintf(buf, sizeof(buf), "@%" PRIx64, (uint64_t)(sym_addr - o->bias));
    return intern(s, buf, decl);
}

static int resolve(hp_symbolizer_t *s, uint64_t addr, hp_sym_addr_t *r) {
    char buf[600];
    int mi = find_xmap(s, addr);
    r->map = mi;
    r->obj = mi >= 0 ? s->map_obj[mi] : -1;
    r->first = (uint32_t)s->nframes;
    sym_obj_t *o = r->obj >= 0 ? &s->objs[r->obj] : NULL;
    if (o != NULL && !o->tried) object_open(s, o);
    if (o != NULL) r->allocator = o->pub.allocator;
    if (mi >= 0) {
        const hp_mapping_t *m = &s->maps[mi];
        uint64_t off = addr - m->start + m->offset;
        r->rel = o != NULL && o->pub.opened ? offset_to_vaddr(o, off) : off;
    }
    if (o != NULL && o->mod != NULL) {
        Dwarf_Addr a = r->rel + o->bias;
        GElf_Off symoff;
        GElf_Sym sym;
        const char *name = dwfl_module_addrinfo(o->mod, a, &symoff, &sym, NULL, NULL, NULL);
        uint32_t func = HP_NO_STR, sys = HP_NO_STR, decl = HP_NO_STR;
        int rc;
        if (name != NULL && name[0] != '\0') {
            if ((rc = intern_name(s, name, &func)) != 0) return rc;
            if ((rc = intern(s, name, &sys)) != 0) return rc;
            if (GELF_ST_BIND(sym.st_info) == STB_LOCAL &&
                (rc = local_decl(s, o, a - symoff, &decl)) != 0)
                return rc;
        }
        int n = o->pub.has_lines ? dwarf_frames(s, o, a, func, sys, decl) : 0;
        if (n < 0) return n;
        if (n == 0 && func != HP_NO_STR) {
            if ((rc = push_frame(s, func, sys, HP_NO_STR, 0, decl)) != 0) return rc;
            n = 1;
        }
        if (n > 0) {
            r->known = true;
            r->nframes = (uint32_t)n;
            return 0;
        }
    }
    /* Unknown: name it by object and address, or by the bare address. */
    if (mi >= 0 && s->maps[mi].path[0] != '\0') {
        const char *p = s->maps[mi].path;
        const char *base = strrchr(p, '/');
        snprintf(buf, sizeof(buf), "%s+0x%" PRIx64, base ? base + 1 : p, r->rel);
    } else {
        snprintf(buf, sizeof(buf), "0x%" PRIx64, addr);
    }
    uint32_t id;
    int rc = intern(s, buf, &id);
    if (rc == 0) rc = push_frame(s, id, id, HP_NO_STR, 0, HP_NO_STR);
    if (rc != 0) return rc;
    r->nframes = 1;
    return 0;
}

int hp_symbolizer_lookup(hp_symbolizer_t *s, uint64_t addr, hp_sym_addr_t *out) {
    uint32_t idx;
    if (hp_u64map_find(&s->cache, addr, &idx)) {
        *out = s->addrs[idx];
        return 0;
    }
    hp_sym_addr_t r = {0};
    int rc = resolve(s, addr, &r);
    if (rc != 0) return rc;
    if (hp_grow((void **)&s->addrs, &s->addrs_cap, s->naddrs + 1, sizeof(*s->addrs)) != 0)
        return -ENOMEM;
    if ((rc = hp_u64map_put(&s->cache, addr, (uint32_t)s->naddrs)) != 0) return rc;
    s->addrs[s->naddrs++] = r;
    *out = r;
    return 0;
}
