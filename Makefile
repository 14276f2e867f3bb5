# bitnet-c build.
#
#   make                 libbitnet.a, libbitnet.so and (once its sources exist) bnbench
#   make test            build and run every Criterion test binary in tests/
#   make run             install missing deps, build, run the default bnbench suite
#   make bench           run every suite (long)
#   make debug           -O0 -g3 build in build-debug/
#   make SANITIZER=address|undefined|thread [test]   sanitizer build in build-<san>/
#   make format-check    clang-format --dry-run -Werror over every source
#   make WERROR=1 ...    warnings are errors (CI sets it; a user's build with
#                        another compiler or headers warns and still builds)
#   make MPI=0|1         bnbench without / with Open MPI (default: with it when
#                        mpicc is found); `bnbench run --mpi` needs it
#   make install PREFIX=/usr/local DESTDIR=
#
# Sources are found by wildcard, so adding a file needs no edit here. ISA flags
# go on kernel objects only (kernels/x86/avx2, kernels/x86/avx512): the rest of
# the library never executes an instruction the CPU may lack.

CC        ?= cc
PREFIX    ?= /usr/local
SANITIZER ?=
WERROR    ?=
VERSION   := 0.1.0

ifeq ($(SANITIZER),)
  BUILD   ?= build
  OPT     ?= -O2
else
  BUILD   ?= build-$(SANITIZER)
  OPT     ?= -O1
endif
ifeq ($(MAKECMDGOALS),debug)
  BUILD   := build-debug
  OPT     := -O0 -g3 -DBN_DEBUG=1
endif

# Packages the harness and tests link against (pkg-config names).
DEP_PKGS  := hwloc papi sqlite3 libcurl libcjson libmicrohttpd criterion openblas

WARN      := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
             -Wno-unused-parameter -Wno-format-truncation $(if $(filter 1,$(WERROR)),-Werror)
BASEFLAGS := -std=c11 -D_GNU_SOURCE $(OPT) -g -fPIC -pthread $(WARN) \
             -Iengine/include -Iengine -Ikernels -I. \
             -DBN_VERSION=\"$(VERSION)\" \
             -DBN_BUILD_TYPE=\"$(if $(findstring -O0,$(OPT)),debug,release)$(if $(SANITIZER),+$(SANITIZER),)\"
ifneq ($(SANITIZER),)
  SANFLAGS := -fsanitize=$(SANITIZER) -fno-omit-frame-pointer
  ifeq ($(SANITIZER),undefined)
    SANFLAGS += -fno-sanitize-recover=all
  endif
endif
CFLAGS    += $(BASEFLAGS) $(SANFLAGS)
# recorded with every bnbench run (collectors/context.c)
CFLAGS    += -DBN_CFLAGS='"$(OPT) $(SANFLAGS) | avx2: $(AVX2_FLAGS) | avx512: $(AVX512_FLAGS)"'
LDFLAGS   += $(SANFLAGS) -pthread
# Dependency headers are system headers (-isystem): their warnings (papi.h's
# old-style prototypes under /opt, say) are not ours. A directory the
# compiler already searches as a system directory is dropped rather than
# moved ahead of the compiler's own headers.
CC_SYS_DIRS := $(shell $(CC) -xc -E -v /dev/null 2>&1 | \
                 sed -n '/^\#include <\.\.\.> search starts/,/^End of/s/^ //p')
DEP_CFLAGS = $(patsubst -I%,-isystem %,$(filter-out $(foreach d,$(CC_SYS_DIRS),-I$(d) -I$(d)/),\
               $(shell pkg-config --cflags $(DEP_PKGS) 2>/dev/null)))
DEP_LIBS   = $(shell pkg-config --libs $(DEP_PKGS) 2>/dev/null) -llapacke -ldl -lm

# Open MPI: bnbench is an MPI program (`mpirun -np N bnbench run --mpi`) when
# mpicc is found, a plain one otherwise; MPI=1 insists, MPI=0 leaves it out.
# Only collectors/mpi.c includes <mpi.h>; the flags come from mpicc itself.
MPI       ?= auto
MPICC     ?= mpicc
ifeq ($(MPI),0)
  HAVE_MPI :=
else
  HAVE_MPI := $(if $(shell command -v $(MPICC) 2>/dev/null),1,)
  ifeq ($(MPI)$(HAVE_MPI),1)
    $(error MPI=1 but $(MPICC) was not found (Debian: apt-get install libopenmpi-dev openmpi-bin))
  endif
endif
ifeq ($(HAVE_MPI),1)
  MPI_CFLAGS := $(patsubst -I%,-isystem %,$(shell $(MPICC) --showme:compile)) -DBNB_HAVE_MPI=1
  MPI_LIBS   := $(shell $(MPICC) --showme:link)
endif
# objects change with the MPI setting: a stamp that changes only with it
MPI_STAMP := $(BUILD)/.mpi-config
$(shell mkdir -p $(BUILD) && { [ "$$(cat $(MPI_STAMP) 2>/dev/null)" = "mpi=$(HAVE_MPI)" ] || \
          echo "mpi=$(HAVE_MPI)" > $(MPI_STAMP); })

AVX2_FLAGS   := -mavx2 -mfma -mf16c
AVX512_FLAGS := -mavx2 -mfma -mf16c -mavx512f -mavx512bw -mavx512vl -mavx512dq \
                -mavx512vnni -mavx512bf16

ENGINE_SRC := $(wildcard engine/*.c) $(wildcard kernels/*.c) $(wildcard kernels/ref/*.c)
AVX2_SRC   := $(wildcard kernels/x86/avx2/*.c)
AVX512_SRC := $(wildcard kernels/x86/avx512/*.c)
LIB_OBJ    := $(ENGINE_SRC:%.c=$(BUILD)/%.o) $(AVX2_SRC:%.c=$(BUILD)/%.o) \
              $(AVX512_SRC:%.c=$(BUILD)/%.o)

BNB_SRC    := $(filter-out suites/cli/main.c,$(wildcard db/model/*.c collectors/*.c db/*.c suites/*.c reports/*.c suites/cli/*.c))
BNB_OBJ    := $(BNB_SRC:%.c=$(BUILD)/%.o)
HAVE_BNB   := $(wildcard suites/cli/main.c)

TEST_SRC   := $(wildcard tests/test_*.c)
MT_SRC     := $(wildcard tests/mt_*.c)
TEST_SUPPORT := $(filter-out $(TEST_SRC) $(MT_SRC),$(wildcard tests/*.c))
TEST_SUPPORT_OBJ := $(TEST_SUPPORT:tests/%.c=$(BUILD)/tests/support/%.o)
TEST_BIN   := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
MT_BIN     := $(MT_SRC:tests/%.c=$(BUILD)/tests/%)
# Criterion cannot start under ThreadSanitizer (Criterion issue #274), so the
# thread build runs the plain concurrency programs tests/mt_*.c only.
ifeq ($(SANITIZER),thread)
  RUN_TESTS := $(MT_BIN)
else
  RUN_TESTS := $(TEST_BIN) $(MT_BIN)
endif

LIBA  := $(BUILD)/libbitnet.a
LIBSO := $(BUILD)/libbitnet.so
LIBBNB := $(BUILD)/libbnb.a
BNBENCH := $(if $(HAVE_BNB),$(BUILD)/bnbench,)
DEPS_STAMP := $(BUILD)/.deps-ok

.PHONY: all test run bench debug install format format-check alloc-check clean deps fuzz-short
.DEFAULT_GOAL := all

all: $(DEPS_STAMP) $(LIBA) $(LIBSO) $(BNBENCH)
debug: all

# Dependencies: pkg-config must find every package. As root we install what is
# missing; otherwise we print the exact command and stop.
$(DEPS_STAMP):
	@mkdir -p $(BUILD)
	@if ! pkg-config --exists $(DEP_PKGS) || [ ! -e /usr/include/lapacke.h ]; then \
	  if [ "$$(id -u)" = 0 ]; then ci/install-deps.sh || exit 2; \
	  else echo "bitnet-c: missing build dependencies; run as root:"; \
	       echo "  $$(ci/install-deps.sh --print)"; exit 2; fi; \
	fi
	@touch $@
deps: $(DEPS_STAMP)

# The linear-algebra core is plain C loops over runtime trip counts, which
# gcc vectorizes only at -O3 (its -O2 cost model refuses loops needing an
# epilogue); -O3 comes after OPT, so it wins. -ffp-contract=fast lets it fuse
# a*b+c into FMA where the ISA has one (-std=c11 turns contraction off).
$(filter %/linalg_ref.o %/linalg_avx2.o %/linalg_avx512.o,$(LIB_OBJ)): CFLAGS += -O3 -ffp-contract=fast

$(BUILD)/kernels/x86/avx2/%.o: kernels/x86/avx2/%.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(AVX2_FLAGS) -MMD -MP -c $< -o $@

$(BUILD)/kernels/x86/avx512/%.o: kernels/x86/avx512/%.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(AVX512_FLAGS) -MMD -MP -c $< -o $@

$(BUILD)/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEP_CFLAGS) $(MPI_CFLAGS) -MMD -MP -c $< -o $@

$(BNB_OBJ) $(BUILD)/suites/cli/main.o: $(MPI_STAMP)

$(LIBA): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(LIBSO): $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,libbitnet.so.0 -o $@ $^ $(LDFLAGS) -lm

$(LIBBNB): $(BNB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# bnbench never links the test framework: a sanitizer build would otherwise
# keep libcriterion, whose start-up aborts a bnbench spawned by a test.
$(BUILD)/bnbench: $(BUILD)/suites/cli/main.o $(LIBBNB) $(LIBA)
	$(CC) -o $@ $(filter-out $(MPI_STAMP),$^) $(LDFLAGS) $(filter-out -lcriterion,$(DEP_LIBS)) $(MPI_LIBS)

# A test binary compiles one source (so -MMD writes its headers, tests/*.h
# included, to build/tests/test_x.d); shared test sources are objects.
$(TEST_SUPPORT_OBJ): $(BUILD)/tests/support/%.o: tests/%.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEP_CFLAGS) $(MPI_CFLAGS) -Itests -MMD -MP -c $< -o $@

$(BUILD)/tests/%: tests/%.c $(TEST_SUPPORT_OBJ) $(LIBBNB) $(LIBA) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEP_CFLAGS) $(MPI_CFLAGS) -Itests -MMD -MP -o $@ $< $(TEST_SUPPORT_OBJ) $(LIBBNB) $(LIBA) $(LDFLAGS) $(DEP_LIBS) $(MPI_LIBS)

$(BUILD)/tests/mt_%: tests/mt_%.c $(LIBA) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -Itests -o $@ $< $(LIBA) $(LDFLAGS) -lm

# Each test binary runs on its own; ci/run-tests.sh prints one summary line.
test: all $(RUN_TESTS)
ifeq ($(SANITIZER),thread)
	@echo "note: Criterion cannot run under ThreadSanitizer (Criterion #274); running tests/mt_*.c"
endif
	@BUILD=$(BUILD) ci/run-tests.sh $(RUN_TESTS)

run: all
	@if [ -z "$(BNBENCH)" ]; then echo "bitnet-c: bnbench is not built yet"; exit 2; fi
	@# bnbench exits 1 when a target is missed: a result of the run, shown in the
	@# table and the report. make run fails only when the job itself did (2).
	$(BUILD)/bnbench run --db bnbench.db --reason manual $(RUN_ARGS); rc=$$?; \
	  [ $$rc -le 1 ] || exit $$rc; \
	  $(BUILD)/bnbench report --db bnbench.db -o bnbench-report.md && \
	  $(BUILD)/bnbench report --db bnbench.db -o bnbench-report.html || exit 2; \
	  if [ $$rc -eq 1 ]; then echo "bitnet-c: the run finished; some targets were missed or cases failed (see the table above and bnbench-report.html)"; fi

bench: all
	$(BUILD)/bnbench run --db bnbench.db --suite all $(RUN_ARGS)

# Fuzzing the parsers that take outside input: the option parser
# (tests/fuzz/fuzz_cli.c), the targets file (tests/fuzz/fuzz_targets.c) and
# the run document that serve and import read (tests/fuzz/fuzz_rundoc.c),
# each with its seed corpus in tests/fuzz/corpus/<name>/. With clang's
# libFuzzer and ASan+UBSan when clang can link it; else each target with
# tests/fuzz/standalone.c's replay-and-mutate driver built by $(CC) under the
# same sanitizers (a fixed number of mutations). fuzz-short is bounded
# (FUZZ_SECONDS of libFuzzer per target, FUZZ_SECONDS_rundoc for the run
# document, whose seeds are real documents of up to 64 KiB) so CI can call it.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 30
FUZZ_ITERS   ?= 300000
FUZZ_SECONDS_rundoc ?= 60
FUZZ_NAMES   := cli targets rundoc
FUZZ_SRC_cli     := tests/fuzz/fuzz_cli.c suites/cli/cli.c db/model/text.c
FUZZ_SRC_targets := tests/fuzz/fuzz_targets.c db/model/targets.c db/model/result.c \
                    db/model/text.c
FUZZ_SRC_rundoc  := tests/fuzz/fuzz_rundoc.c db/rundoc.c db/names.c db/model/result.c \
                    db/model/text.c
FUZZ_LIBS    = $(shell pkg-config --libs libcjson 2>/dev/null) -lm
FUZZ_CFLAGS  = -std=c11 -D_GNU_SOURCE -g -O1 -I. -Iengine/include \
               $(shell pkg-config --cflags libcjson 2>/dev/null)
HAVE_LIBFUZZER = $(shell printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n){return 0;}' | \
                   $(FUZZ_CC) -x c -fsanitize=fuzzer - -o /dev/null 2>/dev/null && echo yes)
FUZZ_BIN     := $(FUZZ_NAMES:%=build/fuzz/fuzz_%)

.SECONDEXPANSION:
build/fuzz/fuzz_%: $$(FUZZ_SRC_$$*) tests/fuzz/standalone.c $(wildcard db/model/*.h db/*.h suites/cli/*.h)
	@mkdir -p $(dir $@)
	@if [ "$(HAVE_LIBFUZZER)" = yes ]; then \
	  echo "fuzz: $@ with libFuzzer ($(FUZZ_CC))"; \
	  $(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $(FUZZ_SRC_$*) $(FUZZ_LIBS); \
	else \
	  echo "fuzz: $@ with the standalone driver ($(CC); no libFuzzer)"; \
	  $(CC) $(FUZZ_CFLAGS) -fsanitize=address,undefined -fno-sanitize-recover=all -o $@ \
	    $(FUZZ_SRC_$*) tests/fuzz/standalone.c $(FUZZ_LIBS); \
	fi
fuzz-short: $(FUZZ_BIN)
	@set -e; for n in $(FUZZ_NAMES); do \
	  mkdir -p build/fuzz/corpus-$$n; \
	  if [ "$(HAVE_LIBFUZZER)" = yes ]; then \
	    secs=$(FUZZ_SECONDS); maxlen=8192; \
	    if [ $$n = rundoc ]; then secs=$(FUZZ_SECONDS_rundoc); maxlen=65536; fi; \
	    build/fuzz/fuzz_$$n -max_total_time=$$secs -max_len=$$maxlen -print_final_stats=1 \
	      build/fuzz/corpus-$$n tests/fuzz/corpus/$$n > build/fuzz/fuzz_$$n.log 2>&1 || \
	      { tail -n 60 build/fuzz/fuzz_$$n.log; echo "fuzz: fuzz_$$n failed (build/fuzz/fuzz_$$n.log)"; exit 1; }; \
	    echo "fuzz_$$n: $$(grep -E '^Done [0-9]+ runs' build/fuzz/fuzz_$$n.log), no crash, leak or broken invariant"; \
	  else \
	    build/fuzz/fuzz_$$n tests/fuzz/corpus/$$n $(FUZZ_ITERS); \
	  fi; \
	done

FORMAT_SRC = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(FORMAT_SRC)
format-check:
	clang-format --dry-run -Werror $(FORMAT_SRC)

# Every allocation of libbitnet goes through engine/alloc.c, where tests can
# make the Nth one fail (tests/test_faults.c); a raw call elsewhere in
# engine/ or kernels/ would escape that, so CI refuses it.
alloc-check:
	@bad=$$(grep -rnwE 'malloc|calloc|realloc|posix_memalign|aligned_alloc|strdup|strndup' \
	  --include='*.c' --include='*.h' engine kernels | grep -v '^engine/alloc\.c:' | \
	  grep -vE '^[^:]+:[0-9]+:\s*(/?\*|//)' | grep -vE 'alloc__(malloc|calloc|realloc|aligned)'); \
	if [ -n "$$bad" ]; then echo "alloc-check: allocations outside engine/alloc.c:"; \
	  echo "$$bad"; exit 1; fi; echo "alloc-check: every engine and kernel allocation goes through engine/alloc.c"

install: $(LIBA) $(LIBSO)
	install -d $(DESTDIR)$(PREFIX)/include/bitnet $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 engine/include/bitnet/*.h $(DESTDIR)$(PREFIX)/include/bitnet/
	install -m 644 $(LIBA) $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(LIBSO) $(DESTDIR)$(PREFIX)/lib/libbitnet.so.$(VERSION)
	ln -sf libbitnet.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libbitnet.so.0
	ln -sf libbitnet.so.0 $(DESTDIR)$(PREFIX)/lib/libbitnet.so
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' bitnet.pc.in \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/bitnet.pc
	$(if $(BNBENCH),install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/bitnet && install -m 755 $(BNBENCH) $(DESTDIR)$(PREFIX)/bin/ && install -m 644 suites/targets.json $(DESTDIR)$(PREFIX)/share/bitnet/,)

clean:
	rm -rf build build-debug build-address build-undefined build-thread

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
