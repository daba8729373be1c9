# The two commands of the README: `make demo` and `make check`. Both install
# what is missing (scripts/install-deps.sh, apt-get only), then build.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
# ccache (installed by scripts/install-deps.sh) keeps one cache per machine;
# paths below the checkout are hashed relative to it, so every clone shares it.
# (Looked for when cmake runs, after `deps`: on a fresh machine ccache is
# installed by then, not yet when make reads this file.)
LAUNCHER    = $(if $(shell command -v ccache 2>/dev/null),-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
export CCACHE_BASEDIR := $(CURDIR)
# Debug info names the build directory; without hashing it a new clone reuses
# what an earlier one compiled (gdb then finds sources through the old path).
export CCACHE_NOHASHDIR := 1

.PHONY: all deps build demo check test asan bench clean

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD)/build.ninja: CMakeLists.txt | deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(LAUNCHER)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD) -j $(JOBS)

demo: build
	@bash scripts/demo.sh $(BUILD)/vigil

# Unit and end-to-end tests, then the unit tests under ASan+UBSan and the
# libFuzzer target for 60 s (clang build in $(ASAN_BUILD)).
check: build asan
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS)

$(ASAN_BUILD)/build.ninja: CMakeLists.txt | deps
	CC=clang CXX=clang++ cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug $(LAUNCHER) \
	  -DVIGIL_SANITIZE=ON -DVIGIL_FUZZ=ON -DVIGIL_BENCH=OFF -DVIGIL_E2E=OFF \
	  -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link"

# The sanitized unit tests and the fuzzers: what `make check` runs there.
asan: deps $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD) -j $(JOBS) vigil_tests fuzzers

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

bench: build
	@bash bench/ktap_throughput.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
