// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/taskstats.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include "taskstats.h"

struct htm_taskstats {
	struct nl_sock *sk;
	int family;
};

struct reply {
	struct htm_delays *out;
	int found;
};

int htm_taskstats_open(struct htm_taskstats **out)
{
	struct htm_taskstats *ts = calloc(1, sizeof(*ts));
	int r;

	if (!ts)
		return -ENOMEM;
	ts->sk = nl_socket_alloc();
	if (!ts->sk) {
		free(ts);
		return -ENOMEM;
	}
	/* one reply per request; an ACK would arrive as a second datagram
	 * and be read as the next request's answer */
	nl_socket_disable_auto_ack(ts->sk);
	r = genl_connect(ts->sk);
	if (r == 0)
		r = genl_ctrl_resolve(ts->sk, TASKSTATS_GENL_NAME);
	if (r < 0) {
		htm_taskstats_close(ts);
		return r == -NLE_OBJ_NOTFOUND ? -ENOENT : -EIO;
	}
	ts->family = r;
	*out = ts;
	return 0;
}

void htm_taskstats_close(struct htm_taskstats *ts)
{
	if (!ts)
		return;
	nl_socket_free(ts->sk);
	free(ts);
}

static void copy_stats(const struct taskstats *s, struct htm_delays *d)
{
	d->cpu_ns = s->cpu_delay_total;
	d->cpu_count = s->cpu_count;
	d->blkio_ns = s->blkio_delay_total;
	d->blkio_count = s->blkio_count;
	d->swapin_ns = s->swapin_delay_total;
	d->swapin_count = s->swapin_count;
	d->reclaim_ns = s->freepages_delay_total;
	d->reclaim_count = s->freepages_count;
	d->thrashing_ns = s->thrashing_delay_total;
	d->thrashing_count = s->thrashing_count;
	/* sum_exec_runtime; cpu_run_real_total stays 0 in per-thread replies */
	d->run_ns = s->cpu_run_virtual_total;
}

static int on_reply(struct nl_msg *msg, void *arg)
{
	struct nlattr *attrs[TASKSTATS_TYPE_MAX + 1], *nested[TASKSTATS_TYPE_MAX + 1];
	struct reply *rep = arg;
	struct taskstats stats;
	struct nlattr *agg;
	int len;

	if (genlmsg_parse(nlmsg_hdr(msg), 0, attrs, TASKSTATS_TYPE_MAX, NULL) < 0)
		return NL_SKIP;
	agg = attrs[TASKSTATS_TYPE_AGGR_TGID] ? attrs[TASKSTATS_TYPE_AGGR_TGID]
					       : attrs[TASKSTATS_TYPE_AGGR_PID];
	if (!agg || nla_parse_nested(nested, TASKSTATS_TYPE_MAX, agg, NULL) < 0 ||
	    !nested[TASKSTATS_TYPE_STATS])
		return NL_SKIP;
	/* older or newer kernels send shorter or longer structs: fields only
	 * ever get appended, so the common prefix is right */
	memset(&stats, 0, sizeof(stats));
	len = nla_len(nested[TASKSTATS_TYPE_STATS]);
	memcpy(&stats, nla_data(nested[TASKSTATS_TYPE_STATS]),
	       (size_t)len < sizeof(stats) ? (size_t)len : sizeof(stats));
	copy_stats(&stats, rep->out);
	rep->found = 1;
	return NL_OK;
}

static int query(struct htm_taskstats *ts, int attr, pid_t id,
		 struct htm_delays *out)
{
	struct reply rep = { .out = out };
	struct nl_msg *msg = nlmsg_alloc();
	int r = -ENOMEM;

	memset(out, 0, sizeof(*out));
	if (!msg)
		return r;
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, ts->family, 0, 0,
			 TASKSTATS_CMD_GET, TASKSTATS_VERSION) ||
	    nla_put_u32(msg, attr, (uint32_t)id) < 0)
		goto out;
	nl_socket_modify_cb(ts->sk, NL_CB_VALID, NL_CB_CUSTOM, on_reply, &rep);
	r = nl_send_auto(ts->sk, msg);
	if (r < 0) {
		r = -EIO;
		goto out;
	}
	/* the kernel answers in the same call: this does not wait on anything */
	r = nl_recvmsgs_default(ts->sk);
	if (r < 0)
		r = r == -NLE_OBJ_NOTFOUND ? -ESRCH : -EIO;
	else
		r = rep.found ? 0 : -ESRCH;
out:
	nlmsg_free(msg);
	return r;
}

int htm_taskstats_query(struct htm_taskstats *ts, pid_t pid,
			struct htm_delays *out)
{
	/* per thread: the thread-group reply skips exited threads (so a
	 * zombie yields nothing) and comes back empty on some kernels */
	return query(ts, TASKSTATS_CMD_ATTR_PID, pid, out);
}
