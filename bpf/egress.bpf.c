// SPDX-License-Identifier: GPL-2.0
/*
 * htm egress throttle: a token bucket per cgroup, on cgroup_skb/egress.
 *
 * Attached to the priority classes htmd may limit; a packet of a socket
 * whose cgroup (bpf_skb_cgroup_id: the task's own cgroup) has a bucket in
 * htm_egress spends len bytes of tokens, refilled at rate_bps up to
 * burst_bytes. Without tokens it is dropped with a congestion notification
 * (return 2), so TCP shrinks its window instead of waiting for a
 * retransmission timeout: a policer TCP can live with. Cgroups without a
 * bucket (the usual case, and every cgroup when no class is limited) pass
 * after one hash miss.
 *
 * Cost per packet: one hash lookup; for limited cgroups a spin lock around
 * a few arithmetic operations and two atomic counter adds.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "htm/egress.h"

#define PASS 1
#define DROP_CN 2	/* dropped, and TCP is told it is congestion */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct htm_egress_bucket);
} htm_egress SEC(".maps");

SEC("cgroup_skb/egress")
int htm_egress_limit(struct __sk_buff *skb)
{
	struct htm_egress_bucket *b;
	__u64 cgid = bpf_skb_cgroup_id(skb), now, tokens, len = skb->len;
	bool pass;

	b = bpf_map_lookup_elem(&htm_egress, &cgid);
	if (!b || !b->rate_bps)
		return PASS;
	now = bpf_ktime_get_ns();
	bpf_spin_lock(&b->lock);
	tokens = b->tokens;
	if (now > b->last_ns) {
		/* whole seconds and the rest apart: no overflow for years */
		__u64 dt = now - b->last_ns;

		tokens += (dt / 1000000000) * b->rate_bps +
			  (dt % 1000000000) * b->rate_bps / 1000000000;
		if (tokens > b->burst_bytes)
			tokens = b->burst_bytes;
	}
	b->last_ns = now;
	pass = tokens >= len;
	if (pass)
		tokens -= len;
	b->tokens = tokens;
	bpf_spin_unlock(&b->lock);
	if (pass) {
		__sync_fetch_and_add(&b->passed_pkts, 1);
		__sync_fetch_and_add(&b->passed_bytes, len);
		return PASS;
	}
	__sync_fetch_and_add(&b->dropped_pkts, 1);
	__sync_fetch_and_add(&b->dropped_bytes, len);
	return DROP_CN;
}

char LICENSE[] SEC("license") = "GPL";
