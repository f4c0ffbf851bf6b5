/* SPDX-License-Identifier: MIT */
/* Loading bpf/egress.bpf.c, attaching it to cgroups, setting rates. */
#ifndef HTM_SYS_EGRESS_H
#define HTM_SYS_EGRESS_H

#include <stddef.h>
#include <stdint.h>

#include "htm/egress.h"

struct htm_egress;

/* Load and pin the bucket map (pin_dir "": not pinned). */
int htm_egress_new(struct htm_egress **out, const char *pin_dir, char *why,
		   size_t whylen);
void htm_egress_free(struct htm_egress *e);
/* Attach the program to a cgroup (it applies to every cgroup below). */
int htm_egress_attach(struct htm_egress *e, const char *cgroup);
/* Limit cgroup cgid to bps bytes per second; 0 removes the limit. */
int htm_egress_set(struct htm_egress *e, uint64_t cgid, uint64_t bps);
int htm_egress_read(struct htm_egress *e, uint64_t cgid,
		    struct htm_egress_bucket *out);

#endif
