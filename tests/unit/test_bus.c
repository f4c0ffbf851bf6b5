// SPDX-License-Identifier: MIT
/* The engine's bus: facts wait for the drain, commands do not; order of
 * subscription is order of delivery; a cascade drains in one call; the
 * queue is bounded and strings a fact owns are freed. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/bus.h"

#include "check.h"

static struct htm_bus *bus;
static char seen[256];
static int cascade;

static int first(void *data, struct htm_msg *m)
{
	(void)data;
	strcat(seen, m->type == HTM_MSG_STRESS_CHANGED ? "1s" : "1q");
	return 0;
}

static int second(void *data, struct htm_msg *m)
{
	(void)data;
	if (m->type == HTM_MSG_STRESS_CHANGED)
		CHECK_EQ_STR(m->u.stress.reasons, "cpu_some 91");
	strcat(seen, "2");
	return m->type == HTM_MSG_QUEUE_LEN ? -EBUSY : 0;
}

static int reposts(void *data, struct htm_msg *m)
{
	struct htm_msg next = { .type = HTM_MSG_QUEUE_DEPTH };

	(void)data;
	if (m->u.depth.depth < 5) {
		next.u.depth.depth = m->u.depth.depth + 1;
		htm_bus_post(bus, &next);
	}
	cascade++;
	return 0;
}

int main(void)
{
	struct htm_msg m = { .type = HTM_MSG_STRESS_CHANGED };
	size_t len = 0;

	CHECK_EQ_INT(htm_bus_new(&bus), 0);
	htm_bus_subscribe(bus, HTM_MSG_STRESS_CHANGED, first, NULL);
	htm_bus_subscribe(bus, HTM_MSG_STRESS_CHANGED, second, NULL);
	htm_bus_subscribe(bus, HTM_MSG_QUEUE_LEN, first, NULL);
	htm_bus_subscribe(bus, HTM_MSG_QUEUE_LEN, second, NULL);
	htm_bus_subscribe(bus, HTM_MSG_QUEUE_DEPTH, reposts, NULL);

	/* a posted fact waits; its string is a copy the bus owns */
	{
		char reasons[32] = "cpu_some 91";

		m.u.stress.reasons = htm_bus_strdup(&m, reasons);
		CHECK_EQ_INT(htm_bus_post(bus, &m), 0);
		strcpy(reasons, "overwritten");
	}
	CHECK_EQ_STR(seen, "");
	CHECK_EQ_U64(htm_bus_pending(bus), 1);
	htm_bus_drain(bus);
	CHECK_EQ_STR(seen, "1s2");
	CHECK_EQ_U64(htm_bus_pending(bus), 0);

	/* a command is delivered at once, to every handler, first error back */
	seen[0] = '\0';
	m = (struct htm_msg){ .type = HTM_MSG_QUEUE_LEN, .u.queue_len = &len };
	CHECK_EQ_INT(htm_bus_send(bus, &m), -EBUSY);
	CHECK_EQ_STR(seen, "1q2");

	/* a cascade of facts drains within one call */
	m = (struct htm_msg){ .type = HTM_MSG_QUEUE_DEPTH };
	htm_bus_post(bus, &m);
	htm_bus_drain(bus);
	CHECK_EQ_INT(cascade, 6);

	/* bounded: past the limit facts are dropped and counted, never lost
	 * silently; what was queued is still delivered (the ring grew) */
	cascade = 0;
	for (int i = 0; i < 100010; i++) {
		m = (struct htm_msg){ .type = HTM_MSG_QUEUE_DEPTH, .u.depth.depth = 5 };
		htm_bus_post(bus, &m);
	}
	CHECK_EQ_U64(htm_bus_dropped(bus), 10);
	htm_bus_drain(bus);
	CHECK_EQ_INT(cascade, 100000);

	/* a fact nobody handles is harmless, and freeing with facts still
	 * queued frees their strings (ASan tells) */
	m = (struct htm_msg){ .type = HTM_MSG_PSI_TRIGGER };
	htm_bus_post(bus, &m);
	m = (struct htm_msg){ .type = HTM_MSG_STRESS_CHANGED };
	m.u.stress.reasons = htm_bus_strdup(&m, "left behind");
	htm_bus_post(bus, &m);
	htm_bus_free(bus);
	return check_report();
}
