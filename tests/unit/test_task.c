// SPDX-License-Identifier: MIT
/* The task model: state machine, timestamps, name tables. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/task.h"

#include "check.h"

#define PA HTM_STATE_PENDING_APPROVAL
#define QU HTM_STATE_QUEUED
#define PF HTM_STATE_PREFLIGHT
#define RU HTM_STATE_RUNNING
#define SU HTM_STATE_SUCCEEDED
#define FA HTM_STATE_FAILED
#define TO HTM_STATE_TIMED_OUT
#define CA HTM_STATE_CANCELLED
#define DE HTM_STATE_DENIED
#define EX HTM_STATE_EXPIRED
#define SH HTM_STATE_SHED
#define LO HTM_STATE_LOST
#define RB HTM_STATE_ROLLED_BACK

/*
 * The legal moves, written out from DESIGN.md ("Tasks"):
 *   pending_approval -> queued -> preflight -> running -> <terminal>
 * - an approval gate is passed (queued), refused (denied), left to lapse
 *   (expired) or withdrawn (cancelled);
 * - queued work starts through preflight or, with no preflight commands,
 *   directly; it may be cancelled, shed under load, expire past its
 *   deadline, or fail to start at all;
 * - preflight either lets the task run or ends it: a failed check (failed),
 *   a check that hangs (timed_out), cancel, or a daemon restart (lost);
 * - running ends succeeded, failed, timed_out, cancelled or lost;
 * - the rollback command runs after a failure or a timeout only.
 * Nothing moves backwards, nothing moves to itself, and the other terminal
 * states are final.
 */
static const enum htm_state legal[][2] = {
	{ PA, QU }, { PA, DE }, { PA, EX }, { PA, CA },
	{ QU, PF }, { QU, RU }, { QU, CA }, { QU, SH }, { QU, EX }, { QU, FA },
	{ PF, RU }, { PF, FA }, { PF, CA }, { PF, TO }, { PF, LO },
	{ RU, SU }, { RU, FA }, { RU, TO }, { RU, CA }, { RU, LO },
	{ FA, RB }, { TO, RB },
};

static bool is_legal(enum htm_state from, enum htm_state to)
{
	for (size_t i = 0; i < sizeof(legal) / sizeof(legal[0]); i++)
		if (legal[i][0] == from && legal[i][1] == to)
			return true;
	return false;
}

static void test_can_move_table(void)
{
	unsigned allowed = 0;

	for (int from = 0; from < HTM_STATE_COUNT; from++)
		for (int to = 0; to < HTM_STATE_COUNT; to++) {
			bool want = is_legal(from, to);
			bool got = htm_state_can_move(from, to);

			check_total++;
			if (got != want) {
				check_fail_(__FILE__, __LINE__);
				fprintf(stderr, "can_move(%s -> %s) = %d, want %d\n",
					htm_state_names[from], htm_state_names[to],
					got, want);
			}
			allowed += got;
		}
	CHECK_EQ_INT(allowed, sizeof(legal) / sizeof(legal[0]));

	/* out of range never moves */
	CHECK(!htm_state_can_move(HTM_STATE_COUNT, QU));
	CHECK(!htm_state_can_move(QU, HTM_STATE_COUNT));
	CHECK(!htm_state_can_move((enum htm_state)-1, QU));
	CHECK(!htm_state_can_move(QU, (enum htm_state)1000));
}

static void test_terminal(void)
{
	static const bool terminal[HTM_STATE_COUNT] = {
		[SU] = true, [FA] = true, [TO] = true, [CA] = true, [DE] = true,
		[EX] = true, [SH] = true, [LO] = true, [RB] = true,
	};

	for (int s = 0; s < HTM_STATE_COUNT; s++) {
		check_total++;
		if (htm_state_is_terminal(s) != terminal[s]) {
			check_fail_(__FILE__, __LINE__);
			fprintf(stderr, "is_terminal(%s) = %d\n", htm_state_names[s],
				htm_state_is_terminal(s));
		}
	}
	CHECK(!htm_state_is_terminal(HTM_STATE_COUNT));
	/* a live state can always end somehow: cancel is universal */
	for (int s = 0; s < HTM_STATE_COUNT; s++)
		if (!terminal[s])
			CHECK(htm_state_can_move(s, CA));
	/* terminal states other than failed/timed_out are final */
	for (int s = 0; s < HTM_STATE_COUNT; s++)
		if (terminal[s] && s != FA && s != TO)
			for (int to = 0; to < HTM_STATE_COUNT; to++)
				CHECK(!htm_state_can_move(s, to));
}

static struct htm_task *new_task(uint64_t id)
{
	struct htm_task *t = htm_task_new(id);

	if (!t) {
		perror("htm_task_new");
		exit(2);
	}
	return t;
}

static void test_new_defaults(void)
{
	struct htm_task *t = new_task(42);

	CHECK_EQ_U64(t->id, 42);
	CHECK_EQ_INT(t->state, QU);
	CHECK_EQ_INT(t->priority, HTM_PRIO_NORMAL);
	CHECK_EQ_INT(t->origin, HTM_ORIGIN_USER_REQUEST);
	CHECK_EQ_INT(t->risk, HTM_RISK_LOW);
	CHECK_EQ_INT(t->exit_code, -1);
	CHECK_EQ_INT(t->signal, 0);
	CHECK_EQ_INT(t->pid, 0);
	CHECK_EQ_U64(t->submitted_at, 0);
	CHECK_EQ_U64(t->started_at, 0);
	CHECK_EQ_U64(t->finished_at, 0);
	CHECK(t->name == NULL && t->argv == NULL && t->cgroup == NULL &&
	      t->reason == NULL && t->runtime == NULL);
	CHECK_EQ_U64(htm_task_deadline(t), 0);
	htm_task_free(t);
	htm_task_free(NULL);	/* no-op */
}

/* The happy path stamps started_at on running and finished_at on the end. */
static void test_move_stamps(void)
{
	struct htm_task *t = new_task(1);

	t->state = PA;
	t->submitted_at = 1000;
	CHECK_EQ_INT(htm_task_move(t, QU, 2000, "approved by alice"), 0);
	CHECK_EQ_INT(t->state, QU);
	CHECK_EQ_STR(t->reason, "approved by alice");
	CHECK_EQ_U64(t->started_at, 0);
	CHECK_EQ_U64(t->finished_at, 0);

	CHECK_EQ_INT(htm_task_move(t, PF, 3000, NULL), 0);
	CHECK_EQ_INT(t->state, PF);
	CHECK(t->reason == NULL);	/* the old reason no longer applies */
	CHECK_EQ_U64(t->started_at, 0);	/* preflight is not running yet */

	CHECK_EQ_INT(htm_task_move(t, RU, 4000, NULL), 0);
	CHECK_EQ_INT(t->state, RU);
	CHECK_EQ_U64(t->started_at, 4000);
	CHECK_EQ_U64(t->finished_at, 0);

	CHECK_EQ_INT(htm_task_move(t, FA, 5000, "exit status 3"), 0);
	CHECK_EQ_INT(t->state, FA);
	CHECK_EQ_U64(t->started_at, 4000);
	CHECK_EQ_U64(t->finished_at, 5000);
	CHECK_EQ_STR(t->reason, "exit status 3");

	/* rollback after failure: finished_at keeps the moment it ended */
	CHECK_EQ_INT(htm_task_move(t, RB, 6000, "rolled back"), 0);
	CHECK_EQ_INT(t->state, RB);
	CHECK_EQ_U64(t->finished_at, 5000);
	CHECK_EQ_U64(t->started_at, 4000);
	CHECK_EQ_U64(t->submitted_at, 1000);
	CHECK_EQ_STR(t->reason, "rolled back");
	htm_task_free(t);

	/* queued straight to running, then succeeded */
	t = new_task(2);
	CHECK_EQ_INT(htm_task_move(t, RU, 700, NULL), 0);
	CHECK_EQ_U64(t->started_at, 700);
	CHECK_EQ_INT(htm_task_move(t, SU, 900, NULL), 0);
	CHECK_EQ_U64(t->finished_at, 900);
	CHECK_EQ_INT(t->state, SU);
	htm_task_free(t);

	/* cancelled while queued: finished, never started */
	t = new_task(3);
	CHECK_EQ_INT(htm_task_move(t, CA, 800, "cancelled by uid 1000"), 0);
	CHECK_EQ_U64(t->started_at, 0);
	CHECK_EQ_U64(t->finished_at, 800);
	CHECK_EQ_STR(t->reason, "cancelled by uid 1000");
	htm_task_free(t);

	/* denied at the approval gate */
	t = new_task(4);
	t->state = PA;
	CHECK_EQ_INT(htm_task_move(t, DE, 50, NULL), 0);
	CHECK_EQ_U64(t->finished_at, 50);
	CHECK_EQ_U64(t->started_at, 0);
	htm_task_free(t);
}

/* Every illegal move is refused with -EINVAL and changes nothing. */
static void test_illegal_moves(void)
{
	unsigned refused = 0, changed = 0;

	for (int from = 0; from < HTM_STATE_COUNT; from++)
		for (int to = 0; to < HTM_STATE_COUNT; to++) {
			struct htm_task *t;
			char *reason_before;

			if (is_legal(from, to))
				continue;
			t = new_task(9);
			t->state = from;
			t->reason = strdup("before");
			reason_before = t->reason;
			t->started_at = 11;
			t->finished_at = 22;
			if (htm_task_move(t, to, 99, "after") == -EINVAL)
				refused++;
			if (t->state != (enum htm_state)from ||
			    t->reason != reason_before ||
			    strcmp(t->reason, "before") != 0 ||
			    t->started_at != 11 || t->finished_at != 22)
				changed++;
			htm_task_free(t);
		}
	CHECK_EQ_INT(refused, HTM_STATE_COUNT * HTM_STATE_COUNT -
				      sizeof(legal) / sizeof(legal[0]));
	CHECK_EQ_INT(changed, 0);

	/* a concrete one, spelled out: succeeded cannot run again */
	{
		struct htm_task *t = new_task(10);

		CHECK_EQ_INT(htm_task_move(t, RU, 5, NULL), 0);
		CHECK_EQ_INT(htm_task_move(t, SU, 6, NULL), 0);
		CHECK_EQ_INT(htm_task_move(t, RU, 7, "again"), -EINVAL);
		CHECK_EQ_INT(t->state, SU);
		CHECK_EQ_U64(t->started_at, 5);
		CHECK_EQ_U64(t->finished_at, 6);
		CHECK(t->reason == NULL);
		CHECK_EQ_INT(htm_task_move(t, HTM_STATE_COUNT, 8, NULL), -EINVAL);
		CHECK_EQ_INT(t->state, SU);
		htm_task_free(t);
	}
}

static void test_deadline(void)
{
	struct htm_task *t = new_task(1);

	t->submitted_at = 1700000000ull * 1000000000ull;
	CHECK_EQ_U64(htm_task_deadline(t), 0);
	t->sla_ns = 30ull * 1000000000ull;
	CHECK_EQ_U64(htm_task_deadline(t), 1700000030ull * 1000000000ull);
	htm_task_free(t);
}

static int table_len(const char *const *table)
{
	int n = 0;

	while (table[n])
		n++;
	return n;
}

static void test_names(void)
{
	static const char *const states[] = {
		"pending_approval", "queued", "preflight", "running", "succeeded",
		"failed", "timed_out", "cancelled", "denied", "expired", "shed",
		"lost", "rolled_back",
	};
	static const char *const origins[] = {
		"user_request", "intent", "hunter_alert", "external_api",
		"scheduler", "filesystem_trigger", "remediation", "internal",
	};
	static const char *const prios[] = { "critical", "high", "normal", "low" };
	static const char *const risks[] = { "low", "medium", "high", "critical" };

	CHECK_EQ_INT(table_len(htm_state_names), HTM_STATE_COUNT);
	CHECK_EQ_INT(table_len(htm_origin_names), HTM_ORIGIN_COUNT);
	CHECK_EQ_INT(table_len(htm_priority_names), HTM_PRIO_COUNT);
	CHECK_EQ_INT(table_len(htm_risk_names), HTM_RISK_COUNT);

	for (int i = 0; i < HTM_STATE_COUNT; i++) {
		CHECK_EQ_STR(htm_state_names[i], states[i]);
		CHECK_EQ_INT(htm_name_lookup(htm_state_names, states[i]), i);
	}
	for (int i = 0; i < HTM_ORIGIN_COUNT; i++) {
		CHECK_EQ_STR(htm_origin_names[i], origins[i]);
		CHECK_EQ_INT(htm_name_lookup(htm_origin_names, origins[i]), i);
	}
	for (int i = 0; i < HTM_PRIO_COUNT; i++) {
		CHECK_EQ_STR(htm_priority_names[i], prios[i]);
		CHECK_EQ_INT(htm_name_lookup(htm_priority_names, prios[i]), i);
	}
	for (int i = 0; i < HTM_RISK_COUNT; i++) {
		CHECK_EQ_STR(htm_risk_names[i], risks[i]);
		CHECK_EQ_INT(htm_name_lookup(htm_risk_names, risks[i]), i);
	}
	/* critical > high > normal > low: a smaller enum is more urgent */
	CHECK(HTM_PRIO_CRITICAL < HTM_PRIO_HIGH && HTM_PRIO_HIGH < HTM_PRIO_NORMAL &&
	      HTM_PRIO_NORMAL < HTM_PRIO_LOW);

	/* exact, case-sensitive, whole-string matches only */
	CHECK_EQ_INT(htm_name_lookup(htm_state_names, NULL), -EINVAL);
	CHECK_EQ_INT(htm_name_lookup(htm_state_names, ""), -EINVAL);
	CHECK_EQ_INT(htm_name_lookup(htm_state_names, "Queued"), -EINVAL);
	CHECK_EQ_INT(htm_name_lookup(htm_state_names, "queued "), -EINVAL);
	CHECK_EQ_INT(htm_name_lookup(htm_state_names, "queue"), -EINVAL);
	CHECK_EQ_INT(htm_name_lookup(htm_priority_names, "urgent"), -EINVAL);
	CHECK_EQ_INT(htm_name_lookup(htm_origin_names, "user-request"), -EINVAL);
}

int main(void)
{
	test_can_move_table();
	test_terminal();
	test_new_defaults();
	test_move_stamps();
	test_illegal_moves();
	test_deadline();
	test_names();
	return check_report();
}
