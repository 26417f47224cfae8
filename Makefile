# raft-cache: the two commands of the README are `make run` and `make test`.
SWIFT ?= swift
FUZZ_SECONDS ?= 60
SEEDS ?= 10000
SEED ?=
ARGS ?=
FAULT_SECONDS ?= 60

.PHONY: help setup protos check-protos vectors build release run cluster cluster-stop test test-swift test-python test-long test-chaos chaos chaos-long leakcheck fuzz sim bench bench-storage clean

help:
	@echo "make run        install what is missing, build the release binary, start node 1 (ARGS=... for flags)"
	@echo "make cluster    start a local 3-node cluster in the background (make cluster-stop ends it; TLS=1: with mutual TLS)"
	@echo "make test       everything CI runs: drift check, warning-free build, Swift and Python tests, chaos rounds, leak check"
	@echo "make test-long  the large cluster cases on release builds: 100,000 writes and a fresh node, a million-key snapshot,"
	@echo "                400 writers of 1 MiB values flooding one node"
	@echo "make chaos      fault rounds (kill, pause, partitions) on a release cluster, FAULT_SECONDS each (default 60), checked for linearizability"
	@echo "make chaos-long the same, 300 s per fault"
	@echo "make fuzz       fuzz every wire decoder for FUZZ_SECONDS (default 60) under ASan/LSan"
	@echo "make sim        run the cluster simulation over SEEDS seeds (default 10000); SEED=N replays one, verbosely"
	@echo "make bench      raft-cache beside etcd on this machine: HTTP and binary workloads, failover, memory (installs etcd, wrk);"
	@echo "                then the cache's features beside plain writes: TTL, CAS, eviction, a million keys expiring"
	@echo "make bench-storage  the durable log beside the disk's raw fsync rate, and recovery of a 1 GB log"
	@echo "make protos     regenerate Modules/RaftProtoC and the Python modules from Protos/"
	@echo "make vectors    regenerate Tests/Vectors/*.hex from their .json"

setup:
	@tools/setup

protos: setup
	tools/gen-protos

check-protos: setup
	tools/gen-protos --check

vectors: setup
	tools/gen-vectors

build: setup
	tools/build-checked

release: setup
	$(SWIFT) build -c release --product raft-cache

run: release
	.build/release/raft-cache $(ARGS)

cluster: setup
	tools/cluster $(if $(TLS),--tls)

cluster-stop:
	tools/cluster stop

# One test at a time: the cluster and crash tests time real processes and elections, and
# on 2 cores they should not compete with 200 simulation seeds for the CPU.
test-swift: build
	$(SWIFT) test --skip-build --no-parallel

# The wire cross-check, and live clusters of the debug binary driven by the Python client.
test-python: build
	python3 -m pytest -q tools/clients/python/tests

# The codecs under LeakSanitizer: the fuzzer over the vectors and mutations of them.
leakcheck: setup
	tools/fuzz/run 15

fuzz: setup
	tools/fuzz/run $(FUZZ_SECONDS)

# Short chaos rounds on the debug build (network namespaces: needs root), the checker's own tests.
test-chaos: build
	python3 -m pytest -q tools/chaos/tests

test: check-protos test-swift test-python test-chaos leakcheck
	@echo "make test: all passed"

# The snapshot, membership and overload tests at full size, on release builds (CI runs it too).
test-long: setup
	$(SWIFT) build -c release --product raft-cache
	$(SWIFT) build -c release --product raft-cache-load
	RAFT_CACHE_LONG=1 RAFT_CACHE_BIN=.build/release/raft-cache RAFT_CACHE_LOAD_BIN=.build/release/raft-cache-load \
		python3 -m pytest -q -s tools/clients/python/tests/test_snapshots.py tools/clients/python/tests/test_overload.py

chaos: release
	python3 tools/chaos/run.py --binary .build/release/raft-cache --fault-seconds $(FAULT_SECONDS)

chaos-long: release
	python3 tools/chaos/run.py --binary .build/release/raft-cache --fault-seconds 300 --budget 600

sim: setup
	$(SWIFT) build -c release --product raft-sim
	@if [ -n "$(SEED)" ]; then .build/release/raft-sim --seed $(SEED) --verbose; else .build/release/raft-sim --seeds $(SEEDS); fi

bench: setup
	tools/bench/compare
	tools/bench/cache --no-build

bench-storage: setup
	tools/bench/storage

clean:
	rm -rf .build .fuzz .bench .cluster
