# Everyday commands.  They use whatever `python` is first on PATH (activate
# your venv first: python3 -m venv .venv && . .venv/bin/activate).
#
#   make install    the package in place, with the test extras
#   make build      rebuild the C extension in place (after editing nnext/csrc)
#   make test       the quick suite: no notebooks, nothing marked slow (minutes)
#   make test-all   the whole suite, as the README's test command runs it
#   make test-c     the C core's own test program (no Python)
#   make san        the C test program under ASan+UBSan
#   make bench      the benchmark (bench/run.py; needs a quiet machine)
#   make ci         everything CI runs, in a fresh venv (about 30 minutes)

PYTHON ?= python
CC ?= gcc
CFLAGS_TEST = -std=c11 -Wall -Wextra -g -pthread -Innext/csrc
CORE_SOURCES = $(wildcard nnext/csrc/nnext_*.c)
TEST_C = tests/c/test_core.c

.PHONY: install build test test-all test-c san bench ci clean

install:
	$(PYTHON) -m pip install -e ".[test]"

build:
	$(PYTHON) setup.py -q build_ext --inplace

test: build
	$(PYTHON) -m pytest -q -m "not notebooks and not slow"

test-all: build
	$(PYTHON) -m pytest

build/test_core: $(TEST_C) $(CORE_SOURCES) $(wildcard nnext/csrc/*.h)
	@mkdir -p build
	$(CC) $(CFLAGS_TEST) -O3 $(TEST_C) $(CORE_SOURCES) -lm -o $@

test-c: build/test_core
	./build/test_core

build/test_core_san: $(TEST_C) $(CORE_SOURCES) $(wildcard nnext/csrc/*.h)
	@mkdir -p build
	$(CC) $(CFLAGS_TEST) -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
		-fno-sanitize-recover=all $(TEST_C) $(CORE_SOURCES) -lm -o $@

san: build/test_core_san
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		./build/test_core_san

bench: build
	$(PYTHON) bench/run.py

ci:
	bash .ci/run

clean:
	rm -rf build nnext/_core*.so
