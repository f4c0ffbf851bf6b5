// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the rules parser and what a parsed rule does with an
 * event. The input is a rules file; it is parsed on top of the built-in
 * set. A failed parse must leave the set exactly as it was and say why;
 * a good one is then matched and fired against a few events, templates
 * and cooldowns included.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/policy.h"

static const char *const events[] = {
	"{\"type\":\"sampler.oom_kill\",\"cgroup_id\":7,\"pid\":1,\"comm\":\"x\"}",
	"{\"type\":\"disk.full\",\"mount\":\"/var\",\"pct\":97,\"a\":{\"b\":1.5}}",
	"{\"type\":\"task.failed\",\"task\":3,\"name\":\"n\",\"state\":\"failed\",\"risk\":\"high\"}",
	"{\"type\":\"queue.depth\",\"level\":\"critical\",\"depth\":6000}",
	"{\"type\":\"x\"}",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct htm_ruleset rs;
	char err[512] = "";
	size_t before;
	int r;

	htm_ruleset_init(&rs);
	if (htm_ruleset_add_builtin(&rs) < 0)
		abort();
	before = rs.n;
	r = htm_ruleset_parse(&rs, (const char *)data, size, "fuzz.json", err, sizeof(err));
	if (r < 0 && (rs.n != before || strncmp(err, "fuzz.json: ", 11) != 0))
		abort();	/* changed on failure, or no source in the message */
	for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
		cJSON *ev = cJSON_Parse(events[i]), *action = NULL;
		struct htm_rule *rule = htm_rules_match(&rs, ev);
		char target[128];

		if (rule && htm_rule_fire(rule, ev, 1000 + i, &action, target,
					  sizeof(target), err, sizeof(err)) == 0) {
			if (!action || rule->fired == 0)
				abort();
			cJSON_Delete(action);
		}
		cJSON_Delete(ev);
	}
	htm_ruleset_free(&rs);
	return 0;
}
