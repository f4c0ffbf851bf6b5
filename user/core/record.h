/* SPDX-License-Identifier: MIT */
/*
 * A journal record on disk (little-endian):
 *
 *   u32 len        bytes that follow this field (header rest + body)
 *   u32 crc        zlib crc32 of everything after this field
 *   u16 type       enum htm_rec_type
 *   u16 version    record format, 1
 *   u32 body_len
 *   u64 seq        1, 2, 3, ... across segments
 *   u64 ts_ns      CLOCK_REALTIME
 *   u8  prev[32]   SHA-256 of the whole previous record (zeros for the first)
 *   body           JSON: who / what / when / where / why / how (+ data)
 *
 * The CRC catches torn and flipped bytes in one record; the hash chain
 * catches records removed, reordered or rewritten with a fresh CRC.
 * Encoding and decoding are pure, so the reader can be fuzzed.
 */
#ifndef HTM_CORE_RECORD_H
#define HTM_CORE_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTM_REC_HEADER		64
#define HTM_REC_VERSION		1
#define HTM_REC_MAX_BODY	(2u << 20)
#define HTM_HASH_LEN		32

enum htm_rec_type {
	HTM_REC_DAEMON_START = 1,
	HTM_REC_DAEMON_STOP,
	HTM_REC_CONFIG,
	HTM_REC_JOURNAL_BREAK,
	HTM_REC_TASK_SUBMIT,
	HTM_REC_TASK_STATE,
	HTM_REC_TASK_PRIORITY,
	HTM_REC_EVENT,
	HTM_REC_DECISION,
	HTM_REC_APPROVAL,
	HTM_REC_PLACEMENT,
	HTM_REC_LEARN,
	HTM_REC_TYPE_COUNT,
};

/* "task.submit", ... indexed by type; NULL for 0 */
extern const char *const htm_rec_type_names[];

struct htm_rec {
	uint16_t type, version;
	uint64_t seq, ts_ns;
	uint8_t prev[HTM_HASH_LEN];
	const char *body;		/* points into the decoded buffer */
	size_t body_len;
	size_t size;			/* whole record, header included */
};

/* Encode into a new buffer (free it). -EINVAL for an oversized body. */
int htm_rec_encode(uint16_t type, uint64_t seq, uint64_t ts_ns,
		   const uint8_t prev[HTM_HASH_LEN], const char *body,
		   size_t body_len, uint8_t **out, size_t *out_len);

/*
 * Decode the record at buf[0..len). Returns its size (> 0), 0 if buf ends
 * before the record does (a torn tail), or -EBADMSG for a record that is
 * complete but wrong (bad CRC, bad lengths, unknown version).
 */
long htm_rec_decode(const uint8_t *buf, size_t len, struct htm_rec *out);

/* SHA-256 of a whole encoded record: the next record's prev. */
void htm_rec_hash(const uint8_t *rec, size_t len, uint8_t out[HTM_HASH_LEN]);

/* What reading a whole journal found (sys/journal_read.c, or a simulated
 * journal). */
struct htm_journal_scan {
	uint64_t records, last_seq, last_ts;
	uint8_t last_hash[HTM_HASH_LEN];
	unsigned segments;
	/* a crash mid-write: bytes after the last whole record */
	bool torn;
	uint64_t torn_bytes;
	/* the plain segment appends continue in, and where its records end */
	bool has_active;
	char active[512];
	uint64_t active_end;
	/* anything else: the first record that is not what it should be */
	bool broken;
	uint64_t broken_seq, broken_offset;
	char broken_segment[512];
	char why[192];
};

/* Called for each good record in order; a negative return stops the scan. */
typedef int (*htm_rec_visit)(void *ctx, const struct htm_rec *r);

#endif
