// SPDX-License-Identifier: MIT
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "duration.h"
#include "schema.h"

static int fail(char *err, size_t errlen, const char *path, const char *name,
		const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(err, errlen, "%s%s%s: ", path, name ? "." : "",
			 name ? name : "");

	if (n >= 0 && (size_t)n < errlen) {
		va_start(ap, fmt);
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static const char *json_type_name(const cJSON *v)
{
	if (cJSON_IsNull(v))
		return "null";
	if (cJSON_IsBool(v))
		return "a boolean";
	if (cJSON_IsNumber(v))
		return "a number";
	if (cJSON_IsString(v))
		return "a string";
	if (cJSON_IsArray(v))
		return "an array";
	return "an object";
}

static const struct htm_field *field_find(const struct htm_field *fields,
					  const char *name)
{
	for (; fields->name; fields++)
		if (strcmp(fields->name, name) == 0)
			return fields;
	return NULL;
}

static int decode_uint(const struct htm_field *f, const cJSON *v, uint64_t *out,
		       const char *path, char *err, size_t errlen)
{
	double d;

	if (!cJSON_IsNumber(v))
		return fail(err, errlen, path, f->name,
			    "expected an integer, got %s", json_type_name(v));
	d = v->valuedouble;
	if (d != floor(d) || d < (double)f->min || d > (double)f->max)
		return fail(err, errlen, path, f->name,
			    "expected an integer in %llu..%llu, got %g",
			    (unsigned long long)f->min,
			    (unsigned long long)f->max, d);
	*out = (uint64_t)d;
	return 0;
}

static int decode_enum(const struct htm_field *f, const cJSON *v, int *out,
		       const char *path, char *err, size_t errlen)
{
	char choices[256] = "";
	size_t off = 0;

	if (cJSON_IsString(v))
		for (int i = 0; f->names[i]; i++)
			if (strcmp(f->names[i], v->valuestring) == 0) {
				*out = i;
				return 0;
			}
	for (int i = 0; f->names[i] && off < sizeof(choices); i++)
		off += (size_t)snprintf(choices + off, sizeof(choices) - off,
					"%s%s", i ? ", " : "", f->names[i]);
	return fail(err, errlen, path, f->name, "expected one of %s", choices);
}

static int decode_field(const struct htm_field *f, const cJSON *v, char *base,
			const char *path, char *err, size_t errlen)
{
	char sub[256];
	uint64_t u;
	int r, i;

	switch (f->type) {
	case HTM_F_BOOL:
		if (!cJSON_IsBool(v))
			return fail(err, errlen, path, f->name,
				    "expected a boolean, got %s",
				    json_type_name(v));
		*(bool *)(base + f->offset) = cJSON_IsTrue(v);
		return 0;
	case HTM_F_U32:
	case HTM_F_U64:
		r = decode_uint(f, v, &u, path, err, errlen);
		if (r < 0)
			return r;
		if (f->type == HTM_F_U32)
			*(uint32_t *)(base + f->offset) = (uint32_t)u;
		else
			*(uint64_t *)(base + f->offset) = u;
		return 0;
	case HTM_F_DURATION:
		if (cJSON_IsNumber(v)) {
			/* a bare number is seconds, for scripts */
			if (v->valuedouble < 0 || v->valuedouble > (double)f->max / 1e9)
				return fail(err, errlen, path, f->name,
					    "duration %g s out of range", v->valuedouble);
			/* nearest ns: 1.001 s is 1001000000, not 1000999999 */
			u = (uint64_t)(v->valuedouble * 1e9 + 0.5);
			if (u < f->min)
				return fail(err, errlen, path, f->name,
					    "duration %g s too short", v->valuedouble);
			*(uint64_t *)(base + f->offset) = u;
			return 0;
		}
		if (!cJSON_IsString(v))
			return fail(err, errlen, path, f->name,
				    "expected a duration (\"30s\" or seconds), got %s",
				    json_type_name(v));
		if (htm_duration_parse(v->valuestring, &u) < 0)
			return fail(err, errlen, path, f->name,
				    "invalid duration \"%s\" (use e.g. 500ms, 30s, 5m, 2h)",
				    v->valuestring);
		if (u < f->min || u > f->max)
			return fail(err, errlen, path, f->name,
				    "duration \"%s\" out of range", v->valuestring);
		*(uint64_t *)(base + f->offset) = u;
		return 0;
	case HTM_F_STRING:
	case HTM_F_BUF:
		if (!cJSON_IsString(v))
			return fail(err, errlen, path, f->name,
				    "expected a string, got %s", json_type_name(v));
		if (strlen(v->valuestring) < f->min)
			return fail(err, errlen, path, f->name,
				    "must not be empty");
		if (f->type == HTM_F_STRING) {
			*(const char **)(base + f->offset) = v->valuestring;
			return 0;
		}
		if (strlen(v->valuestring) >= f->size)
			return fail(err, errlen, path, f->name,
				    "longer than %zu bytes", f->size - 1);
		memcpy(base + f->offset, v->valuestring,
		       strlen(v->valuestring) + 1);
		return 0;
	case HTM_F_NUMBER:
		if (!cJSON_IsNumber(v) || v->valuedouble < f->dmin ||
		    v->valuedouble > f->dmax)
			return fail(err, errlen, path, f->name,
				    "expected a number in %g..%g", f->dmin, f->dmax);
		*(double *)(base + f->offset) = v->valuedouble;
		return 0;
	case HTM_F_LEVELS:
		if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 3)
			return fail(err, errlen, path, f->name,
				    "expected [elevated, high, critical] thresholds");
		for (i = 0; i < 3; i++) {
			const cJSON *x = cJSON_GetArrayItem(v, i);

			if (!cJSON_IsNumber(x) || x->valuedouble < f->dmin ||
			    x->valuedouble > f->dmax) {
				snprintf(sub, sizeof(sub), "%s[%d]", f->name, i);
				return fail(err, errlen, path, sub,
					    "expected a number in %g..%g", f->dmin,
					    f->dmax);
			}
		}
		for (i = 0; i < 3; i++)
			((double *)(base + f->offset))[i] =
				cJSON_GetArrayItem(v, i)->valuedouble;
		return 0;
	case HTM_F_OBJECT_JSON:
		if (!cJSON_IsObject(v))
			return fail(err, errlen, path, f->name,
				    "expected an object, got %s", json_type_name(v));
		*(const cJSON **)(base + f->offset) = v;
		return 0;
	case HTM_F_CUSTOM:
		snprintf(sub, sizeof(sub), "%s.%s", path, f->name);
		return f->decode(v, base + f->offset, sub, err, errlen);
	case HTM_F_ENUM:
		return decode_enum(f, v, (int *)(base + f->offset), path, err,
				   errlen);
	case HTM_F_OBJECT:
		snprintf(sub, sizeof(sub), "%s.%s", path, f->name);
		return htm_schema_decode(f->fields, v, base + f->offset, sub,
					 err, errlen);
	case HTM_F_STRINGS:
		if (!cJSON_IsArray(v))
			return fail(err, errlen, path, f->name,
				    "expected an array of strings, got %s",
				    json_type_name(v));
		i = cJSON_GetArraySize(v);
		if ((uint64_t)i < f->min || (uint64_t)i > f->max)
			return fail(err, errlen, path, f->name,
				    "expected %llu..%llu items, got %d",
				    (unsigned long long)f->min,
				    (unsigned long long)f->max, i);
		for (i = 0; i < cJSON_GetArraySize(v); i++)
			if (!cJSON_IsString(cJSON_GetArrayItem(v, i))) {
				snprintf(sub, sizeof(sub), "%s[%d]", f->name, i);
				return fail(err, errlen, path, sub,
					    "expected a string");
			}
		*(const cJSON **)(base + f->offset) = v;
		return 0;
	}
	return fail(err, errlen, path, f->name, "unsupported field type");
}

bool htm_json_has_nul(const char *text, size_t len)
{
	bool in_string = false;

	for (size_t i = 0; i < len; i++) {
		if (!in_string) {
			in_string = text[i] == '"';
			continue;
		}
		if (text[i] == '"') {
			in_string = false;
		} else if (text[i] == '\\' && i + 1 < len) {
			if (text[i + 1] == 'u' && i + 5 < len &&
			    !strncmp(text + i + 2, "0000", 4))
				return true;
			i++;	/* the escaped character */
		}
	}
	return false;
}

uint64_t htm_json_uint(const cJSON *v, uint64_t max, uint64_t dflt)
{
	double d;

	if (!cJSON_IsNumber(v))
		return dflt;
	d = v->valuedouble;
	/* NaN fails both comparisons */
	if (!(d >= 0 && d <= (double)max) || d != floor(d) || d >= 18446744073709549568.0)
		return dflt;
	return (uint64_t)d;
}

uint64_t htm_json_member_uint(const cJSON *o, const char *k, uint64_t max,
			      uint64_t dflt)
{
	return htm_json_uint(cJSON_GetObjectItemCaseSensitive(o, k), max, dflt);
}

int htm_schema_decode(const struct htm_field *fields, const cJSON *obj,
		      void *base, const char *path, char *err, size_t errlen)
{
	const cJSON *v, *w;
	const struct htm_field *f;
	int r;

	if (!cJSON_IsObject(obj))
		return fail(err, errlen, path, NULL, "expected an object, got %s",
			    json_type_name(obj));
	cJSON_ArrayForEach(v, obj) {
		f = field_find(fields, v->string);
		if (!f)
			return fail(err, errlen, path, v->string, "unknown field");
		for (w = v->next; w; w = w->next)
			if (strcmp(w->string, v->string) == 0)
				return fail(err, errlen, path, v->string,
					    "duplicate field");
		r = decode_field(f, v, base, path, err, errlen);
		if (r < 0)
			return r;
		if (f->present)
			*(bool *)((char *)base + f->present - 1) = true;
	}
	for (f = fields; f->name; f++)
		if (f->required && !cJSON_GetObjectItemCaseSensitive(obj, f->name))
			return fail(err, errlen, path, f->name,
				    "required field missing");
	return 0;
}
