// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the input as a stream of journal records. Each record
 * htm_rec_decode accepts is re-encoded with htm_rec_encode and must come
 * back byte for byte; it must also decode again the same from a private
 * copy, and any shorter prefix of it must decode as "torn" (0), never as
 * a record or as damage. The walk stops at the first 0 or error, as the
 * journal reader does.
 *
 * The fuzzer cannot solve CRC32, so the walk is done twice: over the input
 * as it is, then over a copy whose records (framed by their length field)
 * have their CRCs made right, which takes it on to the version and
 * body_len checks and the round trip.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "core/record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_record(const uint8_t *at, long n, const struct htm_rec *rec)
{
	struct htm_rec again;
	uint8_t *enc = NULL;
	size_t enc_len = 0;

	if (rec->size != (size_t)n || rec->body_len + HTM_REC_HEADER != rec->size ||
	    rec->body_len > HTM_REC_MAX_BODY || rec->version != HTM_REC_VERSION ||
	    rec->body != (const char *)at + HTM_REC_HEADER)
		abort();
	if (htm_rec_encode(rec->type, rec->seq, rec->ts_ns, rec->prev, rec->body,
			   rec->body_len, &enc, &enc_len) != 0)
		abort();
	if (enc_len != (size_t)n || memcmp(enc, at, enc_len) != 0)
		abort();	/* decode and encode disagree */
	if (htm_rec_decode(enc, enc_len, &again) != n || again.type != rec->type ||
	    again.seq != rec->seq || again.ts_ns != rec->ts_ns ||
	    memcmp(again.prev, rec->prev, HTM_HASH_LEN) != 0 ||
	    again.body_len != rec->body_len ||
	    memcmp(again.body, rec->body, rec->body_len) != 0)
		abort();
	/* a torn copy of a good record is torn, whatever its length */
	for (size_t cut = 0; cut < enc_len; cut += 1 + cut / 2)
		if (htm_rec_decode(enc, cut, &again) != 0)
			abort();
	if (htm_rec_decode(enc, enc_len - 1, &again) != 0)
		abort();
	free(enc);
}

static void walk(const uint8_t *data, size_t size)
{
	struct htm_rec rec;
	size_t off = 0;
	long n;

	while (off < size) {
		memset(&rec, 0xa5, sizeof(rec));
		n = htm_rec_decode(data + off, size - off, &rec);
		if (n == 0 || n == -EBADMSG)
			break;
		if (n < 0 || (size_t)n > size - off || n < HTM_REC_HEADER)
			abort();	/* not one of the documented results */
		check_record(data + off, n, &rec);
		off += (size_t)n;
	}
}

static void fix_crcs(uint8_t *p, size_t len)
{
	size_t off = 0, size;
	uint32_t c;

	while (len - off >= HTM_REC_HEADER) {
		size = ((size_t)p[off] | (size_t)p[off + 1] << 8 |
			(size_t)p[off + 2] << 16 | (size_t)p[off + 3] << 24) + 4;
		if (size < HTM_REC_HEADER || size > len - off)
			break;
		c = (uint32_t)crc32(0, p + off + 8, (uInt)(size - 8));
		for (int i = 0; i < 4; i++)
			p[off + 4 + i] = (uint8_t)(c >> (8 * i));
		off += size;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;

	walk(data, size);
	if (size < HTM_REC_HEADER)
		return 0;
	copy = malloc(size);	/* exact size: ASan sees any overread */
	if (!copy)
		abort();
	memcpy(copy, data, size);
	fix_crcs(copy, size);
	walk(copy, size);
	free(copy);
	return 0;
}
