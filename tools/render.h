/* SPDX-License-Identifier: MIT */
/* Human-readable output of htmd's JSON for htmctl. */
#ifndef HTM_TOOLS_RENDER_H
#define HTM_TOOLS_RENDER_H

#include <stdio.h>

#include <cjson/cJSON.h>

void render_task_table(FILE *f, const cJSON *tasks);
void render_task(FILE *f, const cJSON *task);
void render_status(FILE *f, const cJSON *status);
/* "succeeded (exit 0)", "failed (signal 9)": one line about how it ended. */
void render_task_outcome(FILE *f, const cJSON *task);
/* journal records from `log`, and the result of `log --verify` */
void render_log(FILE *f, const cJSON *records);
void render_verify(FILE *f, const cJSON *verify);
void render_approvals(FILE *f, const cJSON *items);
void render_rules(FILE *f, const cJSON *rules);
void render_rule_test(FILE *f, const cJSON *test);

#endif
