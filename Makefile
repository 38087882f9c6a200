# tokbench + tokmock. `make` builds build/tokmock and build/tokbench;
# `make run` and `make test` also install missing Debian packages first.
# Modes: BUILD=build (default, -O2), build-asan (ASan+UBSan), build-cov (gcov),
# build-fuzz (clang + libFuzzer, `make fuzz`). `make valgrind` runs the unit
# tests and a subset of the integration tests under memcheck (docs/testing.md).

CC      ?= cc
BUILD   ?= build
MODE_CFLAGS ?= -O2 -g
MODE_LDFLAGS ?=

# gcc's warnings are the authority; the clang fuzz build shows its own
# warnings on the shared sources without failing on them (WERROR=).
WERROR  ?= -Werror
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wformat=2
CFLAGS   = -std=c11 -D_POSIX_C_SOURCE=200809L $(WARN) $(WERROR) $(MODE_CFLAGS) -I. -MMD -MP
LDLIBS  := -lcivetweb -lcjson -lcurl -lpthread -lm

COMMON_SRC := $(wildcard common/*.c)
MOCK_SRC   := $(filter-out mockserver/main.c,$(wildcard mockserver/*.c))
CLIENT_SRC := $(filter-out client/main.c,$(wildcard client/*.c))
CLIENT_ASM := $(wildcard client/*.S)
UNIT_SRC   := $(wildcard tests/unit/test_*.c)

obj = $(patsubst %.c,$(BUILD)/%.o,$(patsubst %.S,$(BUILD)/%.o,$(1)))
COMMON_OBJ := $(call obj,$(COMMON_SRC))
MOCK_OBJ   := $(call obj,$(MOCK_SRC))
CLIENT_OBJ := $(call obj,$(CLIENT_SRC) $(CLIENT_ASM))
UNIT_BIN   := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRC))

PROGRAMS := $(if $(wildcard mockserver/main.c),$(BUILD)/tokmock) $(if $(wildcard client/main.c),$(BUILD)/tokbench)

.SECONDARY:
.PHONY: all deps run test unit check asan coverage lint clean fuzz fuzz-build fuzz-targets \
        valgrind install uninstall
all: $(PROGRAMS) $(UNIT_BIN) $(BUILD)/loadgen $(BUILD)/bench_floor

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# Assembly files embed data (the prompt corpus) with .incbin.
$(BUILD)/%.o: %.S fixtures/sherlock-holmes.txt
	@mkdir -p $(dir $@)
	$(CC) -I. -c $< -o $@

$(BUILD)/libcommon.a: $(COMMON_OBJ)
	@rm -f $@; ar rcs $@ $^
$(BUILD)/libmock.a: $(MOCK_OBJ)
	@rm -f $@; ar rcs $@ $^
$(BUILD)/libclient.a: $(CLIENT_OBJ)
	@rm -f $@; ar rcs $@ $^

LIBS := $(BUILD)/libclient.a $(BUILD)/libmock.a $(BUILD)/libcommon.a

$(BUILD)/tokmock: $(BUILD)/mockserver/main.o $(BUILD)/libmock.a $(BUILD)/libcommon.a
	$(CC) $(MODE_LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/tokbench: $(BUILD)/client/main.o $(BUILD)/libclient.a $(BUILD)/libcommon.a
	$(CC) $(MODE_LDFLAGS) -o $@ $^ $(LDLIBS)
# The bench-capacity load generator (scripts/loadgen.c): no library of ours
# but the clock.
$(BUILD)/loadgen: $(BUILD)/scripts/loadgen.o $(BUILD)/libcommon.a
	$(CC) $(MODE_LDFLAGS) -o $@ $^ $(LDLIBS)
# The kernel-floor benchmark (scripts/bench_floor.c): our clock and nothing
# beyond libc and pthread.
$(BUILD)/bench_floor: $(BUILD)/scripts/bench_floor.o $(BUILD)/libcommon.a
	$(CC) $(MODE_LDFLAGS) -o $@ $^ -lpthread
$(BUILD)/tests/unit/%: $(BUILD)/tests/unit/%.o $(LIBS)
	$(CC) $(MODE_LDFLAGS) -o $@ $^ $(LDLIBS)

deps:
	@scripts/deps.sh

# Builds, starts tokmock, benchmarks it with tokbench, prints the table.
run: deps
	@$(MAKE) --no-print-directory all
	@scripts/run-demo.sh $(BUILD)

# Every test: unit and integration; the last line is "N passed, N failed".
test: deps
	@scripts/deps.sh --test
	@$(MAKE) --no-print-directory all
	@tests/run.sh $(BUILD)

# Tests without the dependency check (for repeated local runs).
check: all
	@tests/run.sh $(BUILD)

asan: deps
	@scripts/deps.sh --test
	@$(MAKE) --no-print-directory BUILD=build-asan \
	  MODE_CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all" \
	  MODE_LDFLAGS="-fsanitize=address,undefined" all
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  TOKTEST_SLOW=3 tests/run.sh build-asan

coverage: deps
	@rm -rf build-cov
	@$(MAKE) --no-print-directory BUILD=build-cov MODE_CFLAGS="-O0 -g --coverage -fprofile-update=atomic" MODE_LDFLAGS="--coverage" all
	@tests/run.sh build-cov || true
	@gcovr --root . --filter 'client/' --filter 'mockserver/' --filter 'common/' build-cov

# libFuzzer targets (tests/fuzz/fuzz_*.c) built with clang into build-fuzz/:
# every source compiled with -fsanitize=fuzzer-no-link,address,undefined, then
# each target linked with the libFuzzer runtime. `make fuzz` runs each target
# for FUZZ_SECONDS on its seed corpus and fails on the first crash.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 30
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_SRC     := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN     := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))

fuzz-build:
	@scripts/deps.sh --fuzz
	@$(MAKE) --no-print-directory BUILD=build-fuzz CC=$(FUZZ_CC) WERROR= \
	  MODE_CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link $(FUZZ_SAN)" \
	  MODE_LDFLAGS="-fsanitize=fuzzer $(FUZZ_SAN)" fuzz-targets

fuzz-targets: $(FUZZ_BIN)

# Our fuzz targets themselves are held to -Werror.
$(BUILD)/tests/fuzz/%.o: override WERROR = -Werror
$(BUILD)/fuzz/%: $(BUILD)/tests/fuzz/%.o $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(MODE_LDFLAGS) -o $@ $^ $(LDLIBS)

fuzz: fuzz-build
	@tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS)

# Unit tests and the non-timing integration tests under valgrind memcheck;
# the last line is "N passed, N failed". VALGRIND_TESTS narrows the
# integration files (default: badinput, routes, tokbench_cli).
VALGRIND_TESTS ?=
valgrind: deps
	@scripts/deps.sh --valgrind
	@$(MAKE) --no-print-directory all
	@scripts/valgrind.sh $(BUILD) $(VALGRIND_TESTS)

# `make install PREFIX=/usr/local` (DESTDIR honoured): the two programs and,
# when present, their man pages (docs/man/*.1).
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man/man1
MANPAGES := $(wildcard docs/man/*.1)

install: $(PROGRAMS)
	install -d '$(DESTDIR)$(BINDIR)'
	install -m 755 $(PROGRAMS) '$(DESTDIR)$(BINDIR)/'
ifneq ($(MANPAGES),)
	install -d '$(DESTDIR)$(MANDIR)'
	install -m 644 $(MANPAGES) '$(DESTDIR)$(MANDIR)/'
endif

uninstall:
	rm -f $(foreach p,tokbench tokmock,'$(DESTDIR)$(BINDIR)/$(p)') \
	  $(foreach m,tokbench.1 tokmock.1 $(notdir $(MANPAGES)),'$(DESTDIR)$(MANDIR)/$(m)')

lint:
	@! grep -nE '\b(sprintf|strcpy|strcat|gets|atoi|gettimeofday)\s*\(' client/*.[ch] mockserver/*.[ch] common/*.[ch] \
	  || { echo "lint: forbidden function above"; exit 1; }
	@echo "lint: ok"

clean:
	rm -rf build build-asan build-cov build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
