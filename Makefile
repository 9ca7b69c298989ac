# Strata — the commands the README names. CMake does the building; this file only
# strings the steps together.
#
#   make demo                  bootstrap, build build/, run scripts/demo (store ./strata-demo)
#   make test                  bootstrap, build + ctest in build/, then in build-asan/ (ASan+UBSan+LSan),
#                              then the libFuzzer targets in build-fuzz/ (FUZZ_SECONDS each),
#                              then the threaded tests (ctest -L threads) under ThreadSanitizer in build-tsan/
#   make install PREFIX=/opt/strata [DESTDIR=/staging]
#   make clean                 remove build/, build-asan/, build-fuzz/, build-tsan/ and the demo store
#   make distclean             also remove third_party/ (the DuckDB download cache)
#
# scripts/bootstrap installs what is missing (Debian packages, DuckDB in third_party/);
# set DUCKDB_ROOT to use a system DuckDB instead.

SHELL      := /bin/bash
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
TSAN_BUILD ?= build-tsan
# Seconds each libFuzzer target (tests/fuzz) runs in `make test`.
FUZZ_SECONDS ?= 30
JOBS       ?= 2
PREFIX     ?= /usr/local
DESTDIR    ?=
CMAKE      ?= cmake
CTEST      ?= ctest
# Extra arguments for the configure steps, e.g. CMAKE_ARGS=-DDUCKDB_ROOT=/opt/duckdb
CMAKE_ARGS ?=

# Sanitizer settings for the ASan+UBSan run, with LeakSanitizer on. The prebuilt
# libduckdb.so is not built with ASan, which is fine: the ASan runtime is linked into
# each executable and intercepts DuckDB's allocations too. DuckDB 1.4.4 shows no leaks
# of its own today, so nothing is suppressed; should it ever, tests/lsan.supp (frames
# in libduckdb.so only) is picked up when it exists.
LSAN_SUPP := $(wildcard $(CURDIR)/tests/lsan.supp)
ASAN_ENV := ASAN_OPTIONS=detect_leaks=1:detect_stack_use_after_return=1 \
            LSAN_OPTIONS=$(if $(LSAN_SUPP),suppressions=$(LSAN_SUPP):)print_suppressions=0 \
            UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# ThreadSanitizer on the tests labelled 'threads'. Built for TSan, those tests run their
# own stores with analytics off (tests/test.h: the prebuilt libduckdb.so is not
# instrumented, so TSan cannot see DuckDB's synchronisation); test_analytics keeps
# DuckDB on, as does the store a restore checks. tests/tsan.supp silences only reports
# inside DuckDB (and glibc's time-zone lock); any report fails the test (also one
# printed by a forked child).
TSAN_ENV := TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$(CURDIR)/tests/tsan.supp"
# gcc 12's TSan runtime cannot map its shadow memory on kernels with more ASLR bits
# (vm.mmap_rnd_bits = 32): the tests run with address randomisation off when the
# machine lets setarch do that, and as they are otherwise.
TSAN_RUN := $(shell setarch $$(uname -m) -R true >/dev/null 2>&1 && echo setarch $$(uname -m) -R)

.PHONY: all bootstrap build build-asan demo test install clean distclean

all: build

bootstrap:
	scripts/bootstrap

build: bootstrap
	$(CMAKE) -S . -B $(BUILD) $(CMAKE_ARGS)
	$(CMAKE) --build $(BUILD) -j$(JOBS)

build-asan: bootstrap
	$(CMAKE) -S . -B $(ASAN_BUILD) -DSTRATA_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug $(CMAKE_ARGS)
	$(CMAKE) --build $(ASAN_BUILD) -j$(JOBS)

demo: build
	STRATA_BIN=$(CURDIR)/$(BUILD)/strata scripts/demo

# Every stage always runs, so one failure does not hide another; the last line says
# plainly which passed.
test: bootstrap
	@status=0; failed=""; \
	echo "==== [1/4] $(BUILD)/: build + ctest"; \
	if $(CMAKE) -S . -B $(BUILD) $(CMAKE_ARGS) && $(CMAKE) --build $(BUILD) -j$(JOBS); then \
	  $(CTEST) --test-dir $(BUILD) --output-on-failure -j$(JOBS) || failed="$$failed $(BUILD)/(tests)"; \
	else failed="$$failed $(BUILD)/(build)"; fi; \
	echo "==== [2/4] $(ASAN_BUILD)/: ASan+UBSan+LSan build + ctest"; \
	if $(CMAKE) -S . -B $(ASAN_BUILD) -DSTRATA_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug $(CMAKE_ARGS) && \
	   $(CMAKE) --build $(ASAN_BUILD) -j$(JOBS); then \
	  $(ASAN_ENV) $(CTEST) --test-dir $(ASAN_BUILD) --output-on-failure -j$(JOBS) || failed="$$failed $(ASAN_BUILD)/(tests)"; \
	else failed="$$failed $(ASAN_BUILD)/(build)"; fi; \
	echo "==== [3/4] $(FUZZ_BUILD)/: libFuzzer targets, $(FUZZ_SECONDS) s each"; \
	if $(CMAKE) -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DSTRATA_FUZZ=ON -DSTRATA_BUILD_TESTS=OFF \
	     -DSTRATA_BUILD_BENCH=OFF -DSTRATA_FUZZ_SECONDS=$(FUZZ_SECONDS) $(CMAKE_ARGS) && \
	   $(CMAKE) --build $(FUZZ_BUILD) -j$(JOBS); then \
	  $(CTEST) --test-dir $(FUZZ_BUILD) --output-on-failure || failed="$$failed $(FUZZ_BUILD)/(fuzz)"; \
	else failed="$$failed $(FUZZ_BUILD)/(build)"; fi; \
	echo "==== [4/4] $(TSAN_BUILD)/: ThreadSanitizer build + ctest -L threads"; \
	if $(CMAKE) -S . -B $(TSAN_BUILD) -DSTRATA_TSAN=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTRATA_BUILD_BENCH=OFF $(CMAKE_ARGS) && \
	   $(CMAKE) --build $(TSAN_BUILD) -j$(JOBS); then \
	  $(TSAN_ENV) $(TSAN_RUN) $(CTEST) --test-dir $(TSAN_BUILD) -L threads --output-on-failure -j$(JOBS) || failed="$$failed $(TSAN_BUILD)/(tests)"; \
	else failed="$$failed $(TSAN_BUILD)/(build)"; fi; \
	if [ -z "$$failed" ]; then \
	  echo "make test: PASSED ($(BUILD)/, $(ASAN_BUILD)/ with ASan+UBSan+LSan, $(FUZZ_BUILD)/ fuzzing, $(TSAN_BUILD)/ TSan)"; \
	else \
	  echo "make test: FAILED in:$$failed"; exit 1; \
	fi

install: build
	DESTDIR="$(DESTDIR)" $(CMAKE) --install $(BUILD) --prefix "$(PREFIX)"

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(TSAN_BUILD) strata-demo

distclean: clean
	rm -rf third_party
