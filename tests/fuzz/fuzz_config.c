// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: a config file's text through htm_config_parse onto the
 * built-in defaults. config.h promises that on error *c is left untouched;
 * that is checked byte for byte (abort() on any difference). On success
 * the result must still be a config htmd could start with.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct htm_config defaults, c;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	int r;

	/* memset first so padding is the same in both copies */
	memset(&defaults, 0, sizeof(defaults));
	htm_config_defaults(&defaults);
	memcpy(&c, &defaults, sizeof(c));
	err[0] = '\0';
	r = htm_config_parse(&c, (const char *)data, size, err, sizeof(err));
	if (r < 0) {
		if (memcmp(&c, &defaults, sizeof(c)) != 0)
			abort();	/* error, but *c was modified */
		if (!err[0] || !memchr(err, '\0', sizeof(err)))
			abort();	/* error without a message */
		return 0;
	}
	if (r != 0)
		abort();
	/* strings stay terminated and the documented invariants hold */
	if (!memchr(c.socket, '\0', sizeof(c.socket)) || c.socket[0] != '/' ||
	    !memchr(c.state_dir, '\0', sizeof(c.state_dir)) || c.state_dir[0] != '/' ||
	    !memchr(c.cgroup_root, '\0', sizeof(c.cgroup_root)) ||
	    (c.cgroup_root[0] && c.cgroup_root[0] != '/') ||
	    !memchr(c.bpf_pin_dir, '\0', sizeof(c.bpf_pin_dir)))
		abort();
	for (int i = 0; i < HTM_RES_COUNT; i++)
		if (!memchr(c.psi_trigger[i], '\0', sizeof(c.psi_trigger[i])))
			abort();
	if (c.slots > 4096 || c.sample_period_ns < 100000000ull ||
	    c.sample_period_ns > 60000000000ull ||
	    c.journal_segment_bytes < 4096 || c.journal_segment_bytes > (1ull << 32))
		abort();
	for (int p = 0; p < HTM_PRIO_COUNT; p++)
		if (c.priority[p].cpu_weight < 1 || c.priority[p].cpu_weight > 10000 ||
		    c.priority[p].io_weight < 1 || c.priority[p].io_weight > 10000)
			abort();
	return 0;
}
