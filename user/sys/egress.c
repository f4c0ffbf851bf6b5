// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "core/pathfmt.h"
#include "egress.h"
#include "egress.skel.h"

#define MAX_LINKS 16
/* a loopback GSO packet can be 64 KiB: the bucket must hold at least that */
#define MIN_BURST (128u << 10)
/*
 * And what the rate earns while TCP waits to try again. A segment the
 * program drops fails in tcp_transmit_skb; with nothing left in flight no
 * ACK prompts a retry, only the zero-window probe timer: 200 ms (RTO_MIN)
 * the first time, 500 ms (TCP_RESOURCE_PROBE_INTERVAL) after a failed
 * probe. A bucket smaller than half a second of rate overflows during that
 * pause and the tokens lost are throughput lost: with a tenth of a second
 * a 1 MiB/s limit gave 58% of it. With half a second plus a packet nothing
 * overflows, so a sender with more to send gets the configured rate.
 */

struct htm_egress {
	struct egress_bpf *skel;
	struct bpf_link *links[MAX_LINKS];
	int nlinks;
	char pin[600];
};

int htm_egress_new(struct htm_egress **out, const char *pin_dir, char *why,
		   size_t whylen)
{
	struct htm_egress *e = calloc(1, sizeof(*e));
	int r;

	if (!e)
		return -ENOMEM;
	e->skel = egress_bpf__open();
	if (!e->skel) {
		r = -errno;
		snprintf(why, whylen, "open: %s", strerror(-r));
		goto fail;
	}
	if (pin_dir && pin_dir[0]) {
		htm_pathf(e->pin, sizeof(e->pin), "%s/htm_egress", pin_dir);
		unlink(e->pin);	/* a crashed run's: replaced */
		bpf_map__set_pin_path(e->skel->maps.htm_egress, e->pin);
	}
	r = egress_bpf__load(e->skel);
	if (r < 0) {
		snprintf(why, whylen, "load: %s", strerror(-r));
		goto fail;
	}
	*out = e;
	return 0;
fail:
	htm_egress_free(e);
	return r;
}

void htm_egress_free(struct htm_egress *e)
{
	if (!e)
		return;
	for (int i = 0; i < e->nlinks; i++)
		bpf_link__destroy(e->links[i]);
	if (e->skel && e->pin[0])
		bpf_map__unpin(e->skel->maps.htm_egress, NULL);
	egress_bpf__destroy(e->skel);
	free(e);
}

int htm_egress_attach(struct htm_egress *e, const char *cgroup)
{
	struct bpf_link *l;
	int fd, r = 0;

	if (e->nlinks == MAX_LINKS)
		return -ENOSPC;
	fd = open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* a link, not a legacy attach: it goes when htmd does */
	l = bpf_program__attach_cgroup(e->skel->progs.htm_egress_limit, fd);
	if (!l)
		r = -errno;
	else
		e->links[e->nlinks++] = l;
	close(fd);
	return r;
}

int htm_egress_set(struct htm_egress *e, uint64_t cgid, uint64_t bps)
{
	struct htm_egress_bucket b = { 0 };
	int fd = bpf_map__fd(e->skel->maps.htm_egress);

	if (!bps)
		return bpf_map_delete_elem(fd, &cgid) < 0 && errno != ENOENT ? -errno : 0;
	b.rate_bps = bps;
	b.burst_bytes = bps / 2 + MIN_BURST;	/* see MIN_BURST */
	b.tokens = b.burst_bytes;
	b.last_ns = 0;
	return bpf_map_update_elem(fd, &cgid, &b, BPF_ANY) < 0 ? -errno : 0;
}

int htm_egress_read(struct htm_egress *e, uint64_t cgid,
		    struct htm_egress_bucket *out)
{
	return bpf_map_lookup_elem(bpf_map__fd(e->skel->maps.htm_egress), &cgid,
				   out) < 0 ? -errno : 0;
}
