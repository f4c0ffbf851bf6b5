/* SPDX-License-Identifier: MIT */
/*
 * Strict decoding of a cJSON object into a C struct from a field table.
 * Unknown fields, duplicate fields, wrong types and out-of-range values are
 * errors naming the JSON path ("$.priorities.low.cpu_weight: ..."). Used by
 * the config file and the wire protocol so both refuse bad input the same
 * way; nothing is written to the target struct on error, callers decode
 * into a scratch copy.
 */
#ifndef HTM_CORE_SCHEMA_H
#define HTM_CORE_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

enum htm_field_type {
	HTM_F_BOOL,		/* bool */
	HTM_F_U32,		/* uint32_t in [min, max] */
	HTM_F_U64,		/* uint64_t in [min, max] */
	HTM_F_DURATION,		/* "30s" or seconds -> uint64_t ns in [min, max] */
	HTM_F_STRING,		/* const char *, points into the cJSON tree */
	HTM_F_BUF,		/* char[size], copied, must fit */
	HTM_F_ENUM,		/* int, index of the string in names */
	HTM_F_OBJECT,		/* nested table; offset is the nested struct's */
	HTM_F_STRINGS,		/* const cJSON * array of strings, [min, max] items */
	HTM_F_NUMBER,		/* double in [dmin, dmax] */
	HTM_F_LEVELS,		/* double[3], each in [dmin, dmax] */
	HTM_F_CUSTOM,		/* decode() does it */
	HTM_F_OBJECT_JSON,	/* const cJSON * of any object, kept as is */
};

struct htm_field {
	const char *name;
	enum htm_field_type type;
	size_t offset;
	size_t size;				/* HTM_F_BUF */
	uint64_t min, max;
	double dmin, dmax;			/* HTM_F_NUMBER, HTM_F_LEVELS */
	const char *const *names;		/* HTM_F_ENUM */
	const struct htm_field *fields;		/* HTM_F_OBJECT */
	/* HTM_F_CUSTOM: 0, or -EINVAL with "<path>: why" in err */
	int (*decode)(const cJSON *v, void *dst, const char *path, char *err,
		      size_t errlen);
	bool required;
	size_t present;		/* offsetof(bool) + 1 set when seen; 0: untracked */
};

#define HTM_PRESENT(type, member) (offsetof(type, member) + 1)

/*
 * True if a JSON string in text holds an escaped NUL (\u0000): cJSON would
 * cut the string there without a word, so "a\u0000b" must be refused
 * before parsing rather than run as "a".
 */
bool htm_json_has_nul(const char *text, size_t len);

/*
 * A JSON number as an integer in [0, max], or dflt when v is missing, not
 * a number, fractional, NaN or out of range: no float-to-integer cast with
 * an out-of-range value, whatever a journal record or a request says.
 */
uint64_t htm_json_uint(const cJSON *v, uint64_t max, uint64_t dflt);
/* The same for a named member of an object. */
uint64_t htm_json_member_uint(const cJSON *o, const char *k, uint64_t max,
			      uint64_t dflt);

/*
 * Decode obj (must be a JSON object) into base. path names obj in messages
 * ("$" at the top). Returns 0, or -EINVAL with a message in err.
 */
int htm_schema_decode(const struct htm_field *fields, const cJSON *obj,
		      void *base, const char *path, char *err, size_t errlen);

#endif
