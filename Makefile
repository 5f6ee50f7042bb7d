# SPDX-License-Identifier: MIT
# memshim: one non-recursive GNU Makefile (docs/style.md#build). Outputs go to $(BUILD)/.
#
# One folder is one library; the layers and what links what: docs/architecture.md#layers.
#   shim/*.c (minus override.c)         -> libmemshim.a   (unit tests, ASan)
#   the same + shim/override.c          -> libmemshim.so  (preload / -lmemshim)
#   heapprof/*.c                        -> libheapprof.a  (the dump analyser)
#   defrag/*.c                          -> libdefrag.a
#   kvcore/*.c (minus main.c)           -> libkvcore.a + kvcore-server
#   tools/memshim*.c -> memshim ; tools/heapprof*.c -> heapprof
# Unit tests are tests/unit/test_<module>_<unit>.c; the module prefix picks the libraries.

BUILD   ?= build
PREFIX  ?= /usr/local
OPT     ?= -O2 -g
WERROR  ?= -Werror
SAN     ?=
CC      ?= cc
# Set to 1 when the sanitizer owns malloc: binaries link libmemshim.a (no overrides).
NOSHIM  ?= 0

WARN := -Wall -Wextra $(WERROR) -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wold-style-definition -Wpointer-arith -Wformat=2 -Wundef -Wwrite-strings \
        -Wvla -Wimplicit-fallthrough -Wno-missing-field-initializers

CPPFLAGS += -D_GNU_SOURCE -Ishim -Iheapprof -Idefrag -Ikvcore -I$(BUILD)/gen -I/usr/include/liblzf
CFLAGS   += -std=c11 $(OPT) $(WARN) $(SAN) -fno-omit-frame-pointer
LDFLAGS  += $(SAN)

# libgcc_s is named before libunwind on purpose: libunwind.so.8 also exports the whole
# _Unwind_* ABI, and whichever comes first in the global scope would own C++ exception
# unwinding (and jemalloc's libgcc backtraces) in every process under the shim.
SYS_SHIM_LIBS := -ljemalloc -Wl,--push-state,--no-as-needed -lgcc_s -Wl,--pop-state -lunwind \
                 -lpthread -ldl
SYS_HP_LIBS   := -ldw -lelf -lprotobuf-c -lz -lm
SYS_KV_LIBS   := -llzf -lm

# The Debian packages everything here needs (make deps installs the missing ones).
DEB_BUILD_PKGS := build-essential pkg-config libjemalloc-dev libjemalloc2 libunwind-dev \
                  libcmocka-dev libdw-dev libelf-dev zlib1g-dev protobuf-c-compiler liblzf-dev \
                  libprotobuf-c-dev golang-github-google-pprof-dev clang-format
DEB_TEST_PKGS  := redis-server redis-tools python3 sqlite3 g++ valgrind golang-go \
                  hyperfine clang libclang-rt-14-dev procps psmisc libc6-dbg libxml2-utils \
                  prometheus tcl

.DEFAULT_GOAL := all
.PHONY: all deps deps-test test unit unit-bins integration run bench asan valgrind fuzz \
        check-symbols check-format format install clean conformance

# ---------------------------------------------------------------------------------------
# Sources

SHIM_OVERRIDE := shim/override.c
SHIM_SRC      := $(filter-out $(SHIM_OVERRIDE),$(wildcard shim/*.c))
HP_SRC        := $(wildcard heapprof/*.c)
DEFRAG_SRC    := $(wildcard defrag/*.c)
KV_MAIN       := kvcore/main.c
KV_SRC        := $(filter-out $(KV_MAIN),$(wildcard kvcore/*.c))
TOOL_MS_SRC   := $(wildcard tools/memshim*.c)
TOOL_HP_SRC   := $(wildcard tools/heapprof*.c)
# Shared by the memshim CLI: the control protocol codec (no jemalloc needed).
TOOL_MS_EXTRA := $(wildcard shim/ctlproto.c)

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))
pic = $(patsubst %.c,$(BUILD)/pic/%.o,$(1))
# heapprof/'s objects go to $(BUILD)/hpobj/, because $(BUILD)/heapprof is the analyser binary.
hpobj = $(patsubst heapprof/%.c,$(BUILD)/hpobj/%.o,$(1))

SHIM_PIC  := $(call pic,$(SHIM_SRC))
SHIM_OPIC := $(call pic,$(SHIM_OVERRIDE))
SHIM_OBJ  := $(call obj,$(SHIM_SRC))
HP_OBJ    := $(call hpobj,$(HP_SRC))
DEFRAG_OBJ:= $(call obj,$(DEFRAG_SRC))
KV_OBJ    := $(call obj,$(KV_SRC))
KV_MAIN_OBJ := $(call obj,$(KV_MAIN))
TOOL_MS_OBJ := $(call obj,$(TOOL_MS_SRC) $(TOOL_MS_EXTRA))
TOOL_HP_OBJ := $(call obj,$(TOOL_HP_SRC))

SHIM_SO  := $(BUILD)/libmemshim.so
SHIM_A   := $(BUILD)/libmemshim.a
HP_A     := $(BUILD)/libheapprof.a
DEFRAG_A := $(BUILD)/libdefrag.a
KV_A     := $(BUILD)/libkvcore.a
KV_BIN   := $(BUILD)/kvcore-server
MS_BIN   := $(BUILD)/memshim
HP_BIN   := $(BUILD)/heapprof

# pprof's profile.proto, compiled by protobuf-c into build/gen (never hand-written wire format).
PROTO_SRC := /usr/share/gocode/src/github.com/google/pprof/proto/profile.proto
PROTO_C   := $(BUILD)/gen/profile.pb-c.c
PROTO_OBJ := $(BUILD)/gen/profile.pb-c.o

UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
HELPER_SRC:= $(wildcard tests/helpers/*.c)
HELPER_BIN:= $(patsubst tests/helpers/%.c,$(BUILD)/tests/helpers/%,$(HELPER_SRC))
HELPER_CXX:= $(patsubst tests/helpers/%.cc,$(BUILD)/tests/helpers/%,$(wildcard tests/helpers/*.cc))

ALL_BINS := $(SHIM_SO) $(SHIM_A)
ifneq ($(strip $(HP_SRC)),)
ALL_BINS += $(HP_A)
endif
ifneq ($(strip $(DEFRAG_SRC)),)
ALL_BINS += $(DEFRAG_A)
endif
ifneq ($(strip $(KV_SRC)),)
ALL_BINS += $(KV_A) $(KV_BIN)
endif
ifneq ($(strip $(TOOL_MS_SRC)),)
ALL_BINS += $(MS_BIN)
endif
ifneq ($(strip $(TOOL_HP_SRC)),)
ALL_BINS += $(HP_BIN)
endif

all: $(ALL_BINS)

# ---------------------------------------------------------------------------------------
# Compilation

$(SHIM_PIC) $(SHIM_OPIC): CFLAGS += -fPIC -fvisibility=hidden -ftls-model=initial-exec
$(SHIM_OBJ): CFLAGS += -fvisibility=hidden -ftls-model=initial-exec

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/hpobj/%.o: heapprof/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/pic/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(PROTO_C): $(PROTO_SRC)
	@mkdir -p $(@D)
	cp $< $(BUILD)/gen/profile.proto
	cd $(BUILD)/gen && protoc-c --c_out=. profile.proto

$(PROTO_OBJ): $(PROTO_C)
	$(CC) $(CPPFLAGS) -std=c11 $(OPT) $(SAN) -w -c $< -o $@

# The analyser's objects include the generated header.
$(HP_OBJ) $(TOOL_HP_OBJ): | $(PROTO_C)

# ---------------------------------------------------------------------------------------
# Libraries and programs

$(SHIM_SO): $(SHIM_PIC) $(SHIM_OPIC)
	$(CC) -shared -Wl,-soname,libmemshim.so -Wl,-z,nodelete -o $@ $^ $(LDFLAGS) $(SYS_SHIM_LIBS)

$(SHIM_A): $(SHIM_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(HP_A): $(HP_OBJ) $(PROTO_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(DEFRAG_A): $(DEFRAG_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(KV_A): $(KV_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

# kvcore-server allocates through libmemshim.so (found next to it via $ORIGIN, or in
# $ORIGIN/../lib once installed), except in sanitizer builds, where the sanitizer owns
# malloc and the static, override-free archive is linked instead.
ifeq ($(NOSHIM),1)
KV_SHIM := $(SHIM_A)
KV_SHIM_DEP := $(SHIM_A)
else
KV_SHIM := -L$(BUILD) -lmemshim -Wl,-rpath,'$$ORIGIN:$$ORIGIN/../lib'
KV_SHIM_DEP := $(SHIM_SO)
endif

$(KV_BIN): $(KV_MAIN_OBJ) $(KV_A) $(DEFRAG_A) $(KV_SHIM_DEP)
	$(CC) -o $@ $(KV_MAIN_OBJ) $(KV_A) $(DEFRAG_A) $(KV_SHIM) $(LDFLAGS) $(SYS_SHIM_LIBS) $(SYS_KV_LIBS)

# memshim serve converts heap dumps in-process with libheapprof.
$(MS_BIN): $(TOOL_MS_OBJ) $(HP_A)
	$(CC) -o $@ $^ $(LDFLAGS) $(SYS_HP_LIBS) -lpthread

$(HP_BIN): $(TOOL_HP_OBJ) $(HP_A)
	@if [ -d $@ ]; then rm -rf $@; fi # object directory of the old layout
	$(CC) -o $@ $^ $(LDFLAGS) $(SYS_HP_LIBS)

# ---------------------------------------------------------------------------------------
# Tests: one binary per tests/unit/test_<module>_<unit>.c; the module picks the libraries.
# Each binary is compiled and linked in one step; $(DEPFLAGS) writes the headers it includes
# to BINARY.d (included at the end), so touching any of them rebuilds it. A binary whose .d
# is missing (built before there were any) is rebuilt once, since its .d then counts as new.

TEST_CFLAGS = $(CPPFLAGS) -Itests/unit $(CFLAGS) -Wno-missing-prototypes
DEPFLAGS    = -MMD -MP -MF $@.d -MT $@
TEST_DEPS   := $(UNIT_BIN:=.d) $(HELPER_BIN:=.d) $(HELPER_CXX:=.d)
$(TEST_DEPS): ;

$(BUILD)/tests/test_shim_%: tests/unit/test_shim_%.c $(SHIM_A) $(BUILD)/tests/test_shim_%.d
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) $(DEPFLAGS) -o $@ $< $(SHIM_A) $(LDFLAGS) -lcmocka $(SYS_SHIM_LIBS)

$(BUILD)/tests/test_hp_%: tests/unit/test_hp_%.c $(HP_A) $(SHIM_A) $(BUILD)/tests/test_hp_%.d | $(PROTO_C)
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) $(DEPFLAGS) -o $@ $< $(HP_A) $(SHIM_A) $(LDFLAGS) -lcmocka $(SYS_HP_LIBS) $(SYS_SHIM_LIBS)

$(BUILD)/tests/test_defrag_%: tests/unit/test_defrag_%.c $(DEFRAG_A) $(SHIM_A) $(BUILD)/tests/test_defrag_%.d
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) $(DEPFLAGS) -o $@ $< $(DEFRAG_A) $(SHIM_A) $(LDFLAGS) -lcmocka $(SYS_SHIM_LIBS)

# test_kv_hash fails chosen allocations: every malloc and realloc linked into it (kvcore's
# included) goes through its __wrap_ functions.
$(BUILD)/tests/test_kv_hash: TEST_WRAP = -Wl,--wrap=malloc -Wl,--wrap=realloc

$(BUILD)/tests/test_kv_%: tests/unit/test_kv_%.c $(KV_A) $(DEFRAG_A) $(SHIM_A) $(BUILD)/tests/test_kv_%.d
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) $(DEPFLAGS) -o $@ $< $(KV_A) $(DEFRAG_A) $(SHIM_A) $(LDFLAGS) $(TEST_WRAP) -lcmocka $(SYS_SHIM_LIBS) $(SYS_KV_LIBS)

$(BUILD)/tests/test_tools_%: tests/unit/test_tools_%.c $(filter-out $(BUILD)/tools/memshim.o,$(TOOL_MS_OBJ)) $(HP_A) $(BUILD)/tests/test_tools_%.d
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) $(DEPFLAGS) -o $@ $< $(filter-out $(BUILD)/tools/memshim.o,$(TOOL_MS_OBJ)) $(HP_A) $(LDFLAGS) -lcmocka $(SYS_HP_LIBS) -lpthread

# Helper programs for integration tests (real programs that run under LD_PRELOAD).
$(BUILD)/tests/helpers/%: tests/helpers/%.c $(SHIM_SO) $(BUILD)/tests/helpers/%.d
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -std=c11 -O1 -g -fno-omit-frame-pointer -fno-inline -Wall -Wextra $(WERROR) \
	    $(DEPFLAGS) -o $@ $< $(LDFLAGS) -lpthread -ldl

$(BUILD)/tests/helpers/%: tests/helpers/%.cc $(BUILD)/tests/helpers/%.d
	@mkdir -p $(@D)
	$(CXX) -std=c++17 -O1 -g -Wall -Wextra $(WERROR) $(DEPFLAGS) -o $@ $< $(LDFLAGS) -lpthread

# ---------------------------------------------------------------------------------------
# Entry points

# Installs the Debian packages that are missing; `apt-get update` runs once, only when a
# package cannot be found otherwise. Does nothing when all are present.
deps:
	@BUILD_PKGS="$(DEB_BUILD_PKGS)" TEST_PKGS="$(DEB_TEST_PKGS)" sh tests/deps.sh build

deps-test:
	@BUILD_PKGS="$(DEB_BUILD_PKGS)" TEST_PKGS="$(DEB_TEST_PKGS)" sh tests/deps.sh test

# T=NAME runs only the tests whose name contains NAME (make unit T=kv_resp,
# make integration T=hp_); everything is built either way.
T ?=

test: deps-test
	$(MAKE) --no-print-directory all unit-bins
	BUILD=$(BUILD) NOSHIM=$(NOSHIM) sh tests/run.sh all '$(T)'

unit-bins: $(UNIT_BIN) $(HELPER_BIN) $(HELPER_CXX)

unit: unit-bins
	BUILD=$(BUILD) NOSHIM=$(NOSHIM) sh tests/run.sh unit '$(T)'

integration: all unit-bins
	BUILD=$(BUILD) NOSHIM=$(NOSHIM) sh tests/run.sh integration '$(T)'

# kvcore-server under libmemshim, ready to be heap-profiled: the control socket is on and
# heap dumps (MEMORY HEAP DUMP, memshim ctl PID heap dump) go to $(RUN_DUMPS).
# ARGS are more server arguments: make run ARGS="--maxmemory 1gb --save ''".
# A port already in use (Debian's redis-server listens on 6379) fails before starting.
RUN_PORT ?= 6379
RUN_DUMPS ?= $(BUILD)/run-dumps
ARGS ?=
run: deps
	$(MAKE) --no-print-directory all
	@if command -v ss >/dev/null 2>&1 && [ -n "$$(ss -Htln 'sport = :$(RUN_PORT)')" ]; then \
	    echo "make run: port $(RUN_PORT) is already in use (a redis-server?); pick a free one:" \
	        "make run RUN_PORT=$$(($(RUN_PORT) + 1))" >&2; \
	    exit 1; \
	fi
	@mkdir -p $(RUN_DUMPS)
	@d=$$(cd $(RUN_DUMPS) && pwd); \
	echo "kvcore-server on 127.0.0.1:$(RUN_PORT) under libmemshim, control socket on (Ctrl-C stops it)"; \
	echo "heap dumps go to $$d. To take a heap profile, from another terminal:"; \
	echo "  redis-cli -p $(RUN_PORT) MEMORY HEAP ENABLE"; \
	echo "  redis-cli -p $(RUN_PORT) MEMORY HEAP DUMP      (replies with the dump's path)"; \
	echo "  $(HP_BIN) top <that path>"; \
	echo "or through the control socket (PID: the pid= of the first log line, or $(MS_BIN) ps):"; \
	echo "  $(MS_BIN) ctl PID heap enable"; \
	echo "  $(MS_BIN) ctl PID heap dump"; \
	$(MS_BIN) run --ctl --dump-dir "$$d" -- $(KV_BIN) --bind 127.0.0.1 --port $(RUN_PORT) \
	    --heap-dump-dir "$$d" --save '' $(ARGS) || { rc=$$?; [ $$rc -ge 128 ] || \
	    echo "make run: kvcore-server exited with status $$rc" \
	        "(port in use? make run RUN_PORT=...; bad ARGS?)" >&2; exit $$rc; }

bench: deps-test
	$(MAKE) --no-print-directory all unit-bins
	BUILD=$(BUILD) sh tests/bench/run.sh

# ASan+UBSan: the sanitizer owns malloc, so everything links libmemshim.a (no overrides)
# and preload-only integration tests skip themselves (MEMSHIM_SAN=1).
asan: deps-test
	$(MAKE) --no-print-directory BUILD=build-asan OPT="-O1 -g" NOSHIM=1 CC=clang \
	    SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" all unit-bins
	MEMSHIM_SAN=1 BUILD=build-asan NOSHIM=1 sh tests/run.sh all '$(T)'

# memcheck: every unit test, then kvcore-server's integration tests with the server under
# valgrind (tests/lib.sh's KV_SERVER_WRAPPER; exit status 99 = errors or definite leaks
# at its SIGTERM shutdown). The server links libmemshim.a there (NOSHIM=1, relinked each
# time) so memcheck sees every allocation; tests that need the shim's malloc skip.
VG_SERVER := valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
             --suppressions=$(CURDIR)/tests/valgrind.supp
valgrind: deps-test
	rm -f build-vg/kvcore-server
	$(MAKE) --no-print-directory BUILD=build-vg NOSHIM=1 all unit-bins
	MEMSHIM_VALGRIND=1 BUILD=build-vg NOSHIM=1 sh tests/run.sh unit '$(T)'
	MEMSHIM_SAN=1 KV_SERVER_WRAPPER="$(VG_SERVER)" BUILD=build-vg NOSHIM=1 sh tests/run.sh integration kv_

FUZZ_SECONDS ?= 30
fuzz: deps-test
	BUILD=build-fuzz FUZZ_SECONDS=$(FUZZ_SECONDS) sh tests/fuzz/run.sh

# Valkey's Tcl test suite against kvcore-server (not part of make test; takes minutes):
# one fresh server per file, in external mode. VALKEY_SRC is a Valkey source tree or its
# .tar.gz; FILES overrides the list of test files; REF_SERVER=PATH (redis-server,
# valkey-server) runs the same files on that server too and compares. Logs and the names
# of failing tests: $(BUILD)/conformance/. README.md#conformance, docs/conformance.md.
VALKEY_SRC ?=
REF_SERVER ?=
FILES ?=
conformance: all
	python3 tests/conformance/run.py --server $(KV_BIN) --valkey-src '$(VALKEY_SRC)' \
	    --log-dir $(BUILD)/conformance $(if $(REF_SERVER),--ref '$(REF_SERVER)') \
	    $(if $(FILES),--files '$(FILES)')

# Only memshim_* and the libc/C++ allocation names may be exported from libmemshim.so.
check-symbols: $(SHIM_SO)
	sh tests/check_symbols.sh $(SHIM_SO) tests/exported_symbols.txt

FORMAT_SRC = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
check-format:
	clang-format --dry-run -Werror $(FORMAT_SRC)

format:
	clang-format -i $(FORMAT_SRC)

# Installs the tools, libmemshim (.so and .a), the analyser library libheapprof.a, the
# public headers memshim.h and heapprof.h (ms_defs.h and *_internal.h stay inside) and a
# pkg-config file for each library. tests/integration/layers_install.sh checks the list.
INSTALL_BINS    := $(MS_BIN) $(HP_BIN) $(KV_BIN)
INSTALL_HEADERS := shim/memshim.h heapprof/heapprof.h
install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/bin \
	    $(DESTDIR)$(PREFIX)/include/memshim $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 0755 $(INSTALL_BINS) $(DESTDIR)$(PREFIX)/bin/
	install -m 0755 $(SHIM_SO) $(DESTDIR)$(PREFIX)/lib/
	install -m 0644 $(SHIM_A) $(HP_A) $(DESTDIR)$(PREFIX)/lib/
	install -m 0644 $(INSTALL_HEADERS) $(DESTDIR)$(PREFIX)/include/memshim/
	sed -e 's|@PREFIX@|$(PREFIX)|g' shim/memshim.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/memshim.pc
	sed -e 's|@PREFIX@|$(PREFIX)|g' heapprof/heapprof.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/heapprof.pc

clean:
	rm -rf build build-asan build-vg build-fuzz build-*

-include $(SHIM_PIC:.o=.d) $(SHIM_OPIC:.o=.d) $(SHIM_OBJ:.o=.d) $(HP_OBJ:.o=.d) \
         $(DEFRAG_OBJ:.o=.d) $(KV_OBJ:.o=.d) $(KV_MAIN_OBJ:.o=.d) $(TOOL_MS_OBJ:.o=.d) \
         $(TOOL_HP_OBJ:.o=.d)
-include $(wildcard $(TEST_DEPS))
