// SPDX-License-Identifier: MIT
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "record.h"

const char *const htm_rec_type_names[] = {
	[HTM_REC_DAEMON_START] = "daemon.start",
	[HTM_REC_DAEMON_STOP] = "daemon.stop",
	[HTM_REC_CONFIG] = "config.reload",
	[HTM_REC_JOURNAL_BREAK] = "journal.break",
	[HTM_REC_TASK_SUBMIT] = "task.submit",
	[HTM_REC_TASK_STATE] = "task.state",
	[HTM_REC_TASK_PRIORITY] = "task.priority",
	[HTM_REC_EVENT] = "event",
	[HTM_REC_DECISION] = "decision",
	[HTM_REC_APPROVAL] = "approval",
	[HTM_REC_PLACEMENT] = "placement",
	[HTM_REC_LEARN] = "learn",
	[HTM_REC_TYPE_COUNT] = NULL,
};

static void put16(uint8_t *p, uint16_t v) { v = htole16(v); memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { v = htole32(v); memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { v = htole64(v); memcpy(p, &v, 8); }
static uint16_t get16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return le16toh(v); }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return le32toh(v); }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return le64toh(v); }

int htm_rec_encode(uint16_t type, uint64_t seq, uint64_t ts_ns,
		   const uint8_t prev[HTM_HASH_LEN], const char *body,
		   size_t body_len, uint8_t **out, size_t *out_len)
{
	size_t size = HTM_REC_HEADER + body_len;
	uint8_t *p;

	if (body_len > HTM_REC_MAX_BODY)
		return -EINVAL;
	p = malloc(size);
	if (!p)
		return -ENOMEM;
	put32(p, (uint32_t)(size - 4));
	put16(p + 8, type);
	put16(p + 10, HTM_REC_VERSION);
	put32(p + 12, (uint32_t)body_len);
	put64(p + 16, seq);
	put64(p + 24, ts_ns);
	memcpy(p + 32, prev, HTM_HASH_LEN);
	memcpy(p + HTM_REC_HEADER, body, body_len);
	put32(p + 4, (uint32_t)crc32(0, p + 8, (uInt)(size - 8)));
	*out = p;
	*out_len = size;
	return 0;
}

long htm_rec_decode(const uint8_t *buf, size_t len, struct htm_rec *out)
{
	uint32_t rec_len, body_len;
	size_t size;

	if (len < 4)
		return 0;
	rec_len = get32(buf);
	size = (size_t)rec_len + 4;
	if (size < HTM_REC_HEADER || size > HTM_REC_HEADER + HTM_REC_MAX_BODY)
		return -EBADMSG;
	if (len < size)
		return 0;
	if (get32(buf + 4) != (uint32_t)crc32(0, buf + 8, (uInt)(size - 8)))
		return -EBADMSG;
	body_len = get32(buf + 12);
	if (get16(buf + 10) != HTM_REC_VERSION ||
	    (size_t)body_len != size - HTM_REC_HEADER)
		return -EBADMSG;
	out->type = get16(buf + 8);
	out->version = get16(buf + 10);
	out->seq = get64(buf + 16);
	out->ts_ns = get64(buf + 24);
	memcpy(out->prev, buf + 32, HTM_HASH_LEN);
	out->body = (const char *)buf + HTM_REC_HEADER;
	out->body_len = body_len;
	out->size = size;
	return (long)size;
}

void htm_rec_hash(const uint8_t *rec, size_t len, uint8_t out[HTM_HASH_LEN])
{
	unsigned int n = HTM_HASH_LEN;

	EVP_Digest(rec, len, out, &n, EVP_sha256(), NULL);
}
