# kanary build: the libbpf-bootstrap pipeline. vmlinux.h from the running
# kernel's BTF, clang -target bpf, bpftool gen skeleton, one userspace
# binary that embeds the BPF object. Every output lands under build/.

BUILD ?= build
CC ?= gcc
CLANG ?= clang
BPFTOOL ?= bpftool
ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

PKGS := libbpf libelf zlib yaml-0.1 libmnl libmicrohttpd libcurl
CFLAGS ?= -O2 -g
# user/ is grouped into rooms by concern (cli, config, compile, dataplane,
# agent, ...); headers are included by name, so each room is on the path.
USER_ROOMS := $(patsubst %/,%,$(sort $(dir $(wildcard user/*/*.c user/*/*.h))))
CFLAGS += -Wall -Wextra -Wno-unused-parameter -std=gnu11 -Iinclude \
	  $(addprefix -I,$(USER_ROOMS)) \
	  -I$(BUILD) $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS += $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lbpf -lelf -lz -lyaml -lmnl -lmicrohttpd -lcurl)

BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall \
	      -Iinclude -I$(BUILD)

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_HDRS := $(wildcard bpf/*.h) $(wildcard include/*.h)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(BUILD)/%.bpf.o,$(BPF_SRCS))
SKELS := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))

LIB_SRCS := $(filter-out user/cli/%,$(wildcard user/*/*.c))
LIB_OBJS := $(patsubst user/%.c,$(BUILD)/user/%.o,$(LIB_SRCS))
CLI_OBJS := $(patsubst user/%.c,$(BUILD)/user/%.o,$(wildcard user/cli/*.c))
USER_HDRS := $(wildcard user/*/*.h) $(wildcard include/*.h)

UNIT_SRCS := $(wildcard tests/unit/*.c)
PKT_SRCS := $(wildcard tests/bpf/*.c)
BENCH_BINS := $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(wildcard tests/bench/*.c))

# Keep the BPF objects: tools such as bpftool and pktbench --compare use them.
.SECONDARY: $(BPF_OBJS)

.PHONY: all deps test unit-test bpf-test integration-test demo bench \
	bench-tools clean format image-test deploy-test

all: $(BUILD)/kanary $(BPF_OBJS)

deps:
	@bash scripts/deps.sh

$(BUILD):
	@mkdir -p $(BUILD)/user $(BUILD)/tests

# The kernel's own types, so that BPF code is built against what runs here.
$(BUILD)/vmlinux.h: | $(BUILD)
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp
	mv $@.tmp $@

$(BUILD)/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) $(BUILD)/vmlinux.h | $(BUILD)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(BPFTOOL) gen skeleton $< > $@.tmp
	mv $@.tmp $@

$(BUILD)/user/%.o: user/%.c $(USER_HDRS) $(SKELS) | $(BUILD)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libkanary.a: $(LIB_OBJS)
	ar rcs $@ $^

$(BUILD)/kanary: $(CLI_OBJS) $(BUILD)/libkanary.a
	$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tests/unit: $(UNIT_SRCS) $(BUILD)/libkanary.a
	$(CC) $(CFLAGS) $(UNIT_SRCS) $(BUILD)/libkanary.a $(LDLIBS) -lcriterion -o $@

$(BUILD)/tests/packet: $(PKT_SRCS) $(wildcard tests/bpf/*.h) $(SKELS) $(BUILD)/libkanary.a
	$(CC) $(CFLAGS) -Itests/bpf $(PKT_SRCS) $(BUILD)/libkanary.a $(LDLIBS) -lcriterion -o $@

# Benchmark tools: one binary per tests/bench/*.c, with the packet crafting
# helpers of the packet tests.
$(BUILD)/bench/%: tests/bench/%.c tests/bpf/pkt.c $(wildcard tests/bench/*.h) \
		  $(SKELS) $(BUILD)/libkanary.a
	@mkdir -p $(BUILD)/bench
	$(CC) $(CFLAGS) -Itests/bpf $< tests/bpf/pkt.c $(BUILD)/libkanary.a \
		$(LDLIBS) -o $@

bench-tools: $(BUILD)/kanary $(BENCH_BINS)

# Test tools: the lab's bounded SYN flood (tests/tools/synflood.c).
$(BUILD)/tests/synflood: tests/tools/synflood.c | $(BUILD)
	$(CC) $(CFLAGS) $< -o $@

unit-test: $(BUILD)/tests/unit
	$(BUILD)/tests/unit --jobs 1

bpf-test: $(BUILD)/tests/packet $(BUILD)/kanary
	$(BUILD)/tests/packet --jobs 1

integration-test: $(BUILD)/kanary bench-tools $(BUILD)/tests/synflood
	bash tests/integration/run.sh

test: deps
	$(MAKE) all
	$(MAKE) unit-test
	$(MAKE) bpf-test
	$(MAKE) integration-test

# The node agent's image (deploy/Dockerfile, built offline with podman)
# and its Kubernetes manifests; see docs/kubernetes.md. Builds its own
# kanary inside the image, so it needs no host build.
image-test: deps
	bash tests/container/test_image.sh

# Only the offline checks of deploy/: the Kubernetes manifests and the
# canary analysis templates (Flagger, Argo Rollouts) against their schemas,
# each with its self-test; no podman. image-test runs them too.
deploy-test:
	cd deploy/test && { [ node_modules/.kanary-lock -nt package-lock.json ] || \
		{ npm ci --no-audit --no-fund --loglevel=error >/dev/null && \
		  touch node_modules/.kanary-lock; }; }
	node deploy/test/validate.mjs
	node deploy/test/validate.mjs --self-test
	node deploy/test/analysis.mjs
	node deploy/test/analysis.mjs --self-test

demo: deps
	$(MAKE) all
	bash scripts/demo.sh

# Every benchmark, side by side with its baselines; see docs/BENCHMARKS.md.
bench: deps
	$(MAKE) bench-tools
	bash scripts/bench.sh

format:
	clang-format -i bpf/*.c bpf/*.h user/*/*.c user/*/*.h include/*.h tests/unit/*.c tests/bpf/*.c

clean:
	rm -rf $(BUILD)
