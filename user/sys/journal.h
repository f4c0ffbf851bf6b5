/* SPDX-License-Identifier: MIT */
/*
 * The journal: one append-only sequence of records (core/record.h) in
 * segments <dir>/<first seq, 20 digits>.log. The segment being written is
 * plain; full ones are sealed into .log.gz (zcat reads them).
 *
 * Group commit: records appended while the loop handles one batch of
 * completions go out in one write and one fdatasync, both on the ring.
 * htm_journal_durable() tells how far the disk has them; callers hold
 * replies until the records a request produced are durable.
 */
#ifndef HTM_SYS_JOURNAL_H
#define HTM_SYS_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/record.h"
#include "loop.h"
#include "worker.h"

/* --- reading (journal_read.c) ------------------------------------------ */

/* Read and check every record. 0 also when the journal is torn or broken
 * (see the scan result); negative only for errors around it. */
int htm_journal_scan(const char *dir, htm_rec_visit fn, void *ctx,
		     struct htm_journal_scan *s);
int htm_journal_segments(const char *dir, uint64_t **firsts, bool **gz,
			 size_t *count);
void htm_journal_segment_path(const char *dir, uint64_t first_seq, bool gz,
			      char *buf, size_t len);
/* A whole segment's bytes (decompressed); free *buf. */
int htm_journal_load_segment(const char *path, bool gz, uint8_t **buf,
			     size_t *len);

/*
 * The operator accepted a broken journal: keep every record before the
 * break as it is, then a journal.break record (body: break_body plus what
 * was salvaged), then every later record that still decodes, re-chained;
 * the damaged segments move to <dir>/broken-<time>/. Synchronous.
 * summary says what happened.
 */
int htm_journal_repair(const char *dir, const struct htm_journal_scan *s,
		       const char *break_body, char *summary, size_t len);

/* --- writing (journal.c) ----------------------------------------------- */

struct htm_journal;

struct htm_journal_opts {
	const char *dir;
	uint64_t segment_bytes;		/* seal and start a new segment past this */
	struct htm_loop *loop;
	struct htm_worker *worker;	/* compresses sealed segments */
	/* records up to seq are on disk */
	void (*durable)(void *ctx, uint64_t seq);
	void *ctx;
};

/*
 * Continue the journal a scan described: a torn tail is cut off, a journal
 * broken at record N is cut back to the last good record (accept it only
 * when the operator said so: the caller decides).
 */
int htm_journal_open(struct htm_journal **out, const struct htm_journal_opts *o,
		     const struct htm_journal_scan *scan);
/* Write what is pending and fdatasync, synchronously (shutdown), then close. */
void htm_journal_close(struct htm_journal *j);

/* Add a record (body: JSON text); it is durable after a later commit. */
int htm_journal_append(struct htm_journal *j, uint16_t type, uint64_t ts_ns,
		       const char *body, size_t len, uint64_t *seq);
/* Start a group commit if records are pending and none is in flight. */
void htm_journal_commit(struct htm_journal *j);
uint64_t htm_journal_last(const struct htm_journal *j);
uint64_t htm_journal_durable(const struct htm_journal *j);
/* Bytes in the current segment and the number of segments sealed. */
void htm_journal_stats(const struct htm_journal *j, uint64_t *segment_bytes,
		       uint64_t *sealed, uint64_t *commits, uint64_t *write_errors);

#endif
