// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "stress.h"

const char *const htm_stress_names[] = { "ok", "elevated", "high", "critical", NULL };

const char *const htm_stress_signal_names[] = {
	"cpu_some", "memory_some", "memory_full", "io_some",
	"budget_breaches", "memory_available", "queue_backlog", NULL,
};

static bool lower_is_worse(int sig)
{
	return sig == HTM_SIG_MEMORY_AVAILABLE;
}

void htm_stress_config_defaults(struct htm_stress_config *c)
{
	static const double enter[HTM_SIG_COUNT][3] = {
		[HTM_SIG_CPU_SOME] = { 30, 60, 90 },
		[HTM_SIG_MEMORY_SOME] = { 10, 25, 50 },
		[HTM_SIG_MEMORY_FULL] = { 5, 10, 25 },
		[HTM_SIG_IO_SOME] = { 30, 60, 90 },
		[HTM_SIG_BUDGET_BREACHES] = { 1, 10, 50 },
		[HTM_SIG_MEMORY_AVAILABLE] = { 20, 10, 5 },
		[HTM_SIG_QUEUE_BACKLOG] = { 100, 1000, 5000 },
	};

	memcpy(c->enter, enter, sizeof(enter));
	c->exit_ratio = 0.75;
	c->cooldown_ns = 10ull * 1000000000ull;
}

int htm_stress_config_check(const struct htm_stress_config *c, char *err,
			    size_t errlen)
{
	for (int s = 0; s < HTM_SIG_COUNT; s++) {
		const double *e = c->enter[s];
		bool ok = lower_is_worse(s) ? e[0] > e[1] && e[1] > e[2]
					    : e[0] < e[1] && e[1] < e[2];

		if (!ok) {
			snprintf(err, errlen, "$.stress.%s: thresholds must be strictly %s",
				 htm_stress_signal_names[s],
				 lower_is_worse(s) ? "decreasing" : "increasing");
			return -EINVAL;
		}
	}
	if (!(c->exit_ratio > 0 && c->exit_ratio <= 1)) {	/* NaN too */
		snprintf(err, errlen, "$.stress.exit_ratio: must be in (0, 1]");
		return -EINVAL;
	}
	return 0;
}

void htm_stress_init(struct htm_stress *st, uint64_t now_ns)
{
	memset(st, 0, sizeof(*st));
	st->since_ns = now_ns;
	snprintf(st->reasons, sizeof(st->reasons), "no signal over its threshold");
}

/* Highest level whose threshold (scaled by ratio for exits) v reaches. */
static int signal_level(const struct htm_stress_config *c, int s, double v,
			double ratio)
{
	for (int l = 2; l >= 0; l--) {
		double t = c->enter[s][l];

		if (lower_is_worse(s) ? v <= t / ratio : v >= t * ratio)
			return l + 1;
	}
	return HTM_STRESS_OK;
}

/* Name the signals at `level` or above, judged with `ratio` (1 when
 * entering, exit_ratio while a level holds). */
static void explain(struct htm_stress *st, const struct htm_stress_config *c,
		    const double value[HTM_SIG_COUNT], int level, double ratio,
		    const char *prefix)
{
	size_t off = (size_t)snprintf(st->reasons, sizeof(st->reasons), "%s", prefix);

	for (int s = 0; s < HTM_SIG_COUNT && off < sizeof(st->reasons); s++) {
		int l = signal_level(c, s, value[s], ratio);
		double t;

		if (l < level || l == HTM_STRESS_OK)
			continue;
		/* a reading past the next level's exit but short of its enter
		 * threshold holds this level, not that one */
		if (l > level)
			l = level;
		t = c->enter[s][l - 1];
		t = lower_is_worse(s) ? t / ratio : t * ratio;
		off += (size_t)snprintf(st->reasons + off, sizeof(st->reasons) - off,
					"%s%s %.1f %s %g (%s%s)", off ? "; " : "",
					htm_stress_signal_names[s], value[s],
					lower_is_worse(s) ? "<=" : ">=", t,
					ratio < 1 ? "holding " : "", htm_stress_names[l]);
	}
	if (!off)
		snprintf(st->reasons, sizeof(st->reasons),
			 "no signal over its threshold");
}

bool htm_stress_update(struct htm_stress *st, const struct htm_stress_config *c,
		       const double value[HTM_SIG_COUNT], uint64_t now_ns)
{
	int target = HTM_STRESS_OK, hold = HTM_STRESS_OK;
	char prefix[96];

	for (int s = 0; s < HTM_SIG_COUNT; s++) {
		int e = signal_level(c, s, value[s], 1.0);
		int h = signal_level(c, s, value[s], c->exit_ratio);

		target = e > target ? e : target;
		hold = h > hold ? h : hold;
	}
	if (target > (int)st->level) {
		st->level = target;
		st->since_ns = now_ns;
		st->calm_since_ns = 0;
		explain(st, c, value, target, 1.0, "");
		return true;
	}
	if (hold >= (int)st->level) {
		st->calm_since_ns = 0;
		if (st->level != HTM_STRESS_OK)
			explain(st, c, value, st->level, c->exit_ratio, "");
		return false;
	}
	if (!st->calm_since_ns)
		st->calm_since_ns = now_ns;
	if (now_ns - st->calm_since_ns < c->cooldown_ns)
		return false;
	snprintf(prefix, sizeof(prefix), "calm for %llus after %s",
		 (unsigned long long)((now_ns - st->calm_since_ns) / 1000000000ull),
		 htm_stress_names[st->level]);
	st->level--;
	st->since_ns = now_ns;
	/* still above the level below: keep counting calm from now */
	st->calm_since_ns = hold < (int)st->level ? now_ns : 0;
	if (st->level == HTM_STRESS_OK)
		snprintf(st->reasons, sizeof(st->reasons), "%s", prefix);
	else
		explain(st, c, value, st->level, c->exit_ratio, "");
	return true;
}
