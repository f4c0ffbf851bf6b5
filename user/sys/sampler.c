// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "htm/sampler.h"
#include "sampler.skel.h"

#include "sampler.h"

struct htm_sampler {
	struct sampler_bpf *skel;
	int ncpus;
	const char *programs[8];
};

int htm_sampler_new(struct htm_sampler **out, char *why, size_t whylen)
{
	struct htm_sampler *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	s->ncpus = libbpf_num_possible_cpus();
	if (s->ncpus < 0) {
		r = s->ncpus;
		snprintf(why, whylen, "cannot count possible CPUs: %s", strerror(-r));
		goto fail;
	}
	s->skel = sampler_bpf__open();
	if (!s->skel) {
		r = -errno;
		snprintf(why, whylen, "open: %s", strerror(-r));
		goto fail;
	}
	r = sampler_bpf__load(s->skel);
	if (r < 0) {
		snprintf(why, whylen, "load (verifier or BTF): %s", strerror(-r));
		goto fail;
	}
	r = sampler_bpf__attach(s->skel);
	if (r < 0) {
		snprintf(why, whylen, "attach: %s", strerror(-r));
		goto fail;
	}
	s->programs[0] = bpf_program__name(s->skel->progs.htm_sched_switch);
	*out = s;
	return 0;
fail:
	htm_sampler_free(s);
	return r;
}

void htm_sampler_free(struct htm_sampler *s)
{
	if (!s)
		return;
	sampler_bpf__destroy(s->skel);
	free(s);
}

int htm_sampler_totals(struct htm_sampler *s, struct htm_sampler_totals *t)
{
	struct htm_cpu_counters *per_cpu;
	__u32 zero = 0;
	int r = 0;

	per_cpu = calloc((size_t)s->ncpus, sizeof(*per_cpu));
	if (!per_cpu)
		return -ENOMEM;
	memset(t, 0, sizeof(*t));
	if (bpf_map_lookup_elem(bpf_map__fd(s->skel->maps.htm_cpu), &zero,
				per_cpu) < 0)
		r = -errno;
	for (int i = 0; r == 0 && i < s->ncpus; i++)
		t->switches += per_cpu[i].switches;
	free(per_cpu);
	return r;
}

const char *const *htm_sampler_programs(const struct htm_sampler *s)
{
	return s->programs;
}
