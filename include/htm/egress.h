/* SPDX-License-Identifier: MIT */
/* The egress token bucket shared by bpf/egress.bpf.c and htmd. */
#ifndef HTM_EGRESS_H
#define HTM_EGRESS_H

#ifndef __VMLINUX_H__
#include <linux/bpf.h>
#include <linux/types.h>
#endif

/* htm_egress: one per limited cgroup (key: its cgroup id). */
struct htm_egress_bucket {
	__u64 rate_bps;			/* bytes per second; 0 passes everything */
	__u64 burst_bytes;		/* bucket size */
	__u64 tokens;			/* bytes that may leave now */
	__u64 last_ns;
	__u64 passed_pkts, passed_bytes;
	__u64 dropped_pkts, dropped_bytes;
	struct bpf_spin_lock lock;
};

#endif
