# SPDX-License-Identifier: MIT
#
# libFuzzer targets, included by the top-level Makefile.
#
#   make fuzz [FUZZ_SECONDS=60] [FUZZ_TARGETS="request config"] [FUZZ_FLAGS=...]
#       run each target for FUZZ_SECONDS (libFuzzer -max_total_time) over a
#       scratch corpus $(BUILD)/fuzz/corpus-<target>, seeded from
#       tests/fuzz/corpus/<target>; one summary line per target; fails if
#       any target crashes (artifacts in $(BUILD)/fuzz/artifacts/<target>/).
#   make fuzz-corpus
#       replay every committed seed (tests/fuzz/corpus/<target>/*) once
#       through its target; fails on a crash, leak or UB. Skipped (exit 0,
#       "skip:" line) where clang's libFuzzer is missing. `make test` runs
#       this as tests/fuzz/run-corpus.sh.
#   make fuzz-build
#       just build $(BUILD)/fuzz/fuzz_<target>.
#
# The binaries are clang-only: the core sources are compiled again with
# -fsanitize=fuzzer-no-link,address,undefined into $(BUILD)/fuzz/obj/,
# the harnesses linked with -fsanitize=fuzzer. UB aborts (no recovery), so
# it counts as a crash.

FUZZ_CC		?= $(CLANG)
FUZZ_SECONDS	?= 60
FUZZ_FLAGS	?=
FUZZ_DIR	:= $(BUILD)/fuzz

FUZZ_TARGETS	?= request config record journal rules
# sources beyond CORE_SRC a target links
FUZZ_EXTRA_journal := user/sys/journal_read.c

# the project's -I/-D/-std flags (pkg-config's included), clang's own
# optimisation and warnings; unknown (gcc-only) warning flags are not errors
FUZZ_CPPFLAGS	:= $(filter -I% -D% -std=%,$(ALL_CFLAGS))
FUZZ_SAN	:= -fsanitize=address,undefined -fno-sanitize-recover=undefined \
		   -fno-omit-frame-pointer
FUZZ_CFLAGS	:= -g -O1 -Wall -Wextra -Werror -Wno-unknown-warning-option \
		   $(FUZZ_CPPFLAGS) $(FUZZ_SAN)

fuzz_obj	= $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(1))
FUZZ_CORE_OBJ	:= $(call fuzz_obj,$(CORE_SRC))
FUZZ_BINS	:= $(patsubst %,$(FUZZ_DIR)/fuzz_%,$(FUZZ_TARGETS))

$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

define fuzz_link
$(FUZZ_DIR)/fuzz_$(1): $(FUZZ_DIR)/obj/tests/fuzz/fuzz_$(1).o $(FUZZ_CORE_OBJ) \
		$(call fuzz_obj,$(FUZZ_EXTRA_$(1)))
	$$(FUZZ_CC) $$(FUZZ_CFLAGS) -fsanitize=fuzzer -o $$@ $$^ $$(PKG_LIBS)
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call fuzz_link,$(t))))

.PHONY: fuzz fuzz-build fuzz-corpus

fuzz-build: $(FUZZ_BINS)

fuzz: $(FUZZ_BINS)
	@FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_FLAGS="$(FUZZ_FLAGS)" \
		sh tests/fuzz/run-fuzz.sh $(BUILD) $(FUZZ_TARGETS)

# Builds through the script (a sub-make), so that a missing libFuzzer is a
# skip rather than a compile error.
fuzz-corpus:
	@MAKE="$(MAKE)" FUZZ_TARGETS="$(FUZZ_TARGETS)" \
		sh tests/fuzz/run-corpus.sh $(BUILD); rc=$$?; \
		if [ $$rc = 77 ]; then rc=0; fi; exit $$rc
