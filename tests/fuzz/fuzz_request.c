// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: one wire request line (no newline) through
 * htm_request_parse. Must never crash, leak or read past len (the input is
 * not NUL-terminated, ASan sees any overread). On success the request is
 * checked for the invariants the command handlers rely on, then freed.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct htm_request req;
	const char *code = NULL;
	char err[256];

	err[0] = '\0';
	if (htm_request_parse(&req, (const char *)data, size, &code, err,
			      sizeof(err)) < 0) {
		/* an error always says which, and frees everything itself */
		if (!code || !err[0] || req.root || !memchr(err, '\0', sizeof(err)))
			abort();
		return 0;
	}
	if (!req.root || req.cmd < 0 || req.cmd >= HTM_CMD_COUNT ||
	    !req.cmd_name || strcmp(req.cmd_name, htm_cmd_names[req.cmd]) != 0 ||
	    req.v != 1)
		abort();
	if (req.cmd == HTM_CMD_SUBMIT) {
		const cJSON *a;

		if (!cJSON_IsArray(req.argv) || cJSON_GetArraySize(req.argv) < 1)
			abort();
		cJSON_ArrayForEach(a, req.argv)
			if (!cJSON_IsString(a) || !a->valuestring)
				abort();
	}
	if ((req.cmd == HTM_CMD_SHOW || req.cmd == HTM_CMD_CANCEL ||
	     req.cmd == HTM_CMD_WAIT) && req.id == 0)
		abort();
	htm_request_free(&req);
	if (req.root)
		abort();
	return 0;
}
