# SPDX-License-Identifier: MIT
#
# bpf/*.bpf.c -> build/bpf/*.bpf.o -> build/*.skel.h -> htmd, htmctl.
# `make test` builds everything, the unit tests twice (plain and ASan+UBSan)
# and runs all three tiers through tests/run.sh.

BUILD	?= build
CC	?= gcc
CLANG	?= clang
BPFTOOL	?= bpftool
ARCH	:= $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

PKGS		:= libbpf liburing libcjson libnl-genl-3.0 libcrypto zlib
PKG_CFLAGS	:= $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS	:= $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lelf -lm -lpthread

WARN		:= -Wall -Wextra -Werror
CFLAGS		?= -O2 -g
ALL_CFLAGS	:= $(CFLAGS) $(WARN) -std=gnu11 -D_GNU_SOURCE -Iinclude -Iuser \
		   -I$(BUILD) $(PKG_CFLAGS)
SAN_FLAGS	:= -fsanitize=address,undefined -fno-omit-frame-pointer \
		   -fno-sanitize-recover=undefined
# BPF_PROG() declares ctx and every tracepoint argument, used or not
BPF_CFLAGS	:= -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) $(WARN) \
		   -Wno-unused-parameter -mcpu=v3 -I. -Iinclude

CORE_SRC	:= $(wildcard user/core/*.c)
ENGINE_SRC	:= $(wildcard user/engine/*.c)
SYS_SRC		:= $(wildcard user/sys/*.c)
SIM_SRC		:= $(wildcard user/sim/*.c)
DAEMON_SRC	:= user/htmd.c
CTL_SRC		:= $(wildcard tools/*.c)
BPF_SRC		:= $(wildcard bpf/*.bpf.c)
UNIT_SRC	:= $(wildcard tests/unit/test_*.c)
TESTBIN_SRC	:= $(wildcard tests/bin/*.c)

obj		= $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
asan_obj	= $(patsubst %.c,$(BUILD)/asan/obj/%.o,$(1))
SKELS		:= $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRC))
UNIT_BINS	:= $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRC))
ASAN_BINS	:= $(patsubst tests/unit/%.c,$(BUILD)/asan/tests/unit/%,$(UNIT_SRC))
TEST_BINS	:= $(patsubst tests/bin/%.c,$(BUILD)/tests/bin/%,$(TESTBIN_SRC))

.PHONY: all deps test unit vmtest bench fuzz vmlinux clean check-layers
.DELETE_ON_ERROR:
.SECONDARY:

all: $(BUILD)/htmd $(BUILD)/htmctl

deps:
	sh scripts/deps.sh --test

# --- BPF: compile, link with bpftool (drops DWARF, keeps BTF), skeleton ---
$(BUILD)/bpf/%.tmp.bpf.o: bpf/%.bpf.c vmlinux.h $(wildcard include/htm/*.h bpf/*.bpf.h)
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/bpf/%.bpf.o: $(BUILD)/bpf/%.tmp.bpf.o
	$(BPFTOOL) gen object $@ $<

$(BUILD)/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $*_bpf > $@

# --- userspace ---
$(BUILD)/obj/%.o: %.c | $(SKELS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/asan/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libhtm-core.a: $(call obj,$(CORE_SRC))
	$(AR) rcs $@ $^

$(BUILD)/libhtm-engine.a: $(call obj,$(ENGINE_SRC))
	$(AR) rcs $@ $^

$(BUILD)/libhtm-sys.a: $(call obj,$(SYS_SRC))
	$(AR) rcs $@ $^

$(BUILD)/libhtm-sim.a: $(call obj,$(SIM_SRC))
	$(AR) rcs $@ $^

# the engine is the same in both: htmd wires it to the Linux world,
# `htmctl simulate` to the simulated one
$(BUILD)/htmd: $(call obj,$(DAEMON_SRC)) $(BUILD)/libhtm-engine.a \
		$(BUILD)/libhtm-sys.a $(BUILD)/libhtm-core.a
	$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/htmctl: $(call obj,$(CTL_SRC)) $(BUILD)/libhtm-sim.a \
		$(BUILD)/libhtm-engine.a $(BUILD)/libhtm-core.a
	$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS)

# --- tests ---
# unit tests run the engine and the simulated world, never the Linux one
$(BUILD)/tests/unit/%: $(BUILD)/obj/tests/unit/%.o $(BUILD)/libhtm-sim.a \
		$(BUILD)/libhtm-engine.a $(BUILD)/libhtm-core.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/asan/libhtm.a: $(call asan_obj,$(SIM_SRC) $(ENGINE_SRC) $(CORE_SRC))
	$(AR) rcs $@ $^

$(BUILD)/asan/tests/unit/%: $(BUILD)/asan/obj/tests/unit/%.o $(BUILD)/asan/libhtm.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SAN_FLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/tests/bin/%: $(BUILD)/obj/tests/bin/%.o
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS)

unit: $(UNIT_BINS) $(ASAN_BINS)

# the include graph of user/ has no cycle and keeps its layers (the script
# says which)
check-layers:
	@bash scripts/check-layers.sh

test: check-layers all unit $(TEST_BINS)
	tests/run.sh $(BUILD)

vmtest: all $(TEST_BINS)
	TESTS=vm tests/run.sh $(BUILD)

# On demand, not part of `make test`: every tests/bench/*.sh (but lib.sh,
# their shared helpers) in turn, each
# given $(BUILD) (what each measures is in its header). One that cannot run
# here (exit 77) is reported as skipped; a failure fails the target once all
# have run.
bench: all $(TEST_BINS)
	@rc=0; for b in tests/bench/*.sh; do \
		[ "$$b" != tests/bench/lib.sh ] || continue; \
		echo "=== $$b $(BUILD)"; \
		$$b $(BUILD); s=$$?; \
		case $$s in \
		0) echo "=== $$b: done" ;; \
		77) echo "=== $$b: skipped" ;; \
		*) echo "=== $$b: failed (exit status $$s)"; rc=1 ;; \
		esac; \
	done; exit $$rc

# vmlinux.h comes from a 6.1 kernel's BTF (the VM tier's kernel), so that
# CO-RE relocations are checked against the oldest kernel we test.
VMLINUZ ?= $(lastword $(wildcard /boot/vmlinuz-6.1.*))
vmlinux:
	sh scripts/vmlinux-h.sh $(VMLINUZ) > vmlinux.h.tmp && mv vmlinux.h.tmp vmlinux.h

# libFuzzer targets (tests/fuzz/fuzz.mk): `make fuzz` runs each for a
# bounded time; `make test` replays each over its corpus.
-include tests/fuzz/fuzz.mk

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
