// SPDX-License-Identifier: MIT
/*
 * Repairing a journal the operator accepted as broken (htmd
 * --accept-broken-journal). Nothing that still decodes is thrown away:
 * records before the break stay byte for byte; after it, the damaged bytes
 * are skipped by resynchronising on the next record whose CRC holds, and
 * every such record is written again, chained anew, behind a journal.break
 * record that says what happened. The damaged files are kept aside.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/pathfmt.h"
#include "journal.h"

struct salvaged {
	uint16_t type;
	uint64_t ts;
	char *body;
	size_t len;
};

struct salvage {
	struct salvaged *recs;
	size_t n, cap;
	uint64_t skipped_bytes, damaged_spans;
};

static int salvage_add(struct salvage *sv, const struct htm_rec *r)
{
	struct salvaged *grown;

	if (sv->n == sv->cap) {
		sv->cap = sv->cap ? sv->cap * 2 : 256;
		grown = realloc(sv->recs, sv->cap * sizeof(*sv->recs));
		if (!grown)
			return -ENOMEM;
		sv->recs = grown;
	}
	sv->recs[sv->n].type = r->type;
	sv->recs[sv->n].ts = r->ts_ns;
	sv->recs[sv->n].len = r->body_len;
	sv->recs[sv->n].body = malloc(r->body_len ? r->body_len : 1);
	if (!sv->recs[sv->n].body)
		return -ENOMEM;
	memcpy(sv->recs[sv->n].body, r->body, r->body_len);
	sv->n++;
	return 0;
}

/* Every record in buf[from..len) that decodes, skipping damage byte by byte. */
static int salvage_buf(struct salvage *sv, const uint8_t *buf, size_t len,
		       size_t from)
{
	struct htm_rec rec;
	bool in_damage = false;
	size_t off = from;
	long n;
	int r;

	while (off < len) {
		n = htm_rec_decode(buf + off, len - off, &rec);
		if (n <= 0) {
			if (!in_damage)
				sv->damaged_spans++;
			in_damage = true;
			sv->skipped_bytes++;
			off++;
			continue;
		}
		in_damage = false;
		r = salvage_add(sv, &rec);
		if (r < 0)
			return r;
		off += (size_t)n;
	}
	return 0;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int append_rec(int fd, uint16_t type, uint64_t seq, uint64_t ts,
		      uint8_t prev[HTM_HASH_LEN], const char *body, size_t len)
{
	uint8_t *rec;
	size_t size;
	int r = htm_rec_encode(type, seq, ts, prev, body, len, &rec, &size);

	if (r < 0)
		return r;
	r = write_all(fd, rec, size);
	htm_rec_hash(rec, size, prev);
	free(rec);
	return r;
}

int htm_journal_repair(const char *dir, const struct htm_journal_scan *s,
		       const char *break_body, char *summary, size_t slen)
{
	struct salvage sv = { 0 };
	uint64_t *firsts = NULL, seq, broken_first = 0;
	uint8_t prev[HTM_HASH_LEN], *buf = NULL, *prefix = NULL;
	size_t count = 0, prefix_len = 0, len;
	char aside[600], path[600], moved[700], *text = NULL;
	bool *gz = NULL;
	cJSON *body = NULL;
	int fd = -1, r;

	r = htm_journal_segments(dir, &firsts, &gz, &count);
	if (r < 0)
		return r;
	for (size_t i = 0; i < count; i++)
		if (firsts[i] <= s->broken_seq)
			broken_first = firsts[i];
	/* read everything from the damaged segment on */
	for (size_t i = 0; i < count; i++) {
		if (firsts[i] < broken_first)
			continue;
		htm_journal_segment_path(dir, firsts[i], gz[i], path, sizeof(path));
		r = htm_journal_load_segment(path, gz[i], &buf, &len);
		if (r < 0)
			goto out;
		if (firsts[i] == broken_first) {
			prefix_len = s->broken_offset <= len ? s->broken_offset : 0;
			prefix = malloc(prefix_len ? prefix_len : 1);
			if (!prefix) {
				r = -ENOMEM;
				goto out;
			}
			memcpy(prefix, buf, prefix_len);
		}
		r = salvage_buf(&sv, buf, len, firsts[i] == broken_first ? prefix_len : 0);
		free(buf);
		buf = NULL;
		if (r < 0)
			goto out;
	}
	/* keep the damaged files for whoever investigates */
	htm_pathf(aside, sizeof(aside), "%s/broken-%llu", dir,
		  (unsigned long long)time(NULL));
	if (mkdir(aside, 0750) < 0 && errno != EEXIST) {
		r = -errno;
		goto out;
	}
	for (size_t i = 0; i < count; i++) {
		if (firsts[i] < broken_first)
			continue;
		htm_journal_segment_path(dir, firsts[i], gz[i], path, sizeof(path));
		htm_pathf(moved, sizeof(moved), "%s/%s", aside, strrchr(path, '/') + 1);
		if (rename(path, moved) < 0) {
			r = -errno;
			goto out;
		}
	}
	/* the new segment: the good prefix, the break, what was salvaged */
	htm_journal_segment_path(dir, broken_first, false, path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	r = write_all(fd, prefix, prefix_len);
	if (r < 0)
		goto out;
	memcpy(prev, s->last_hash, HTM_HASH_LEN);
	seq = s->last_seq + 1;
	body = cJSON_Parse(break_body);
	if (!body)
		body = cJSON_CreateObject();
	cJSON_AddStringToObject(body, "kind", "broken_chain");
	cJSON_AddNumberToObject(body, "first_bad", (double)s->broken_seq);
	cJSON_AddStringToObject(body, "detail", s->why);
	cJSON_AddStringToObject(body, "set_aside", aside);
	cJSON_AddNumberToObject(body, "salvaged", (double)sv.n);
	cJSON_AddNumberToObject(body, "skipped_bytes", (double)sv.skipped_bytes);
	cJSON_AddNumberToObject(body, "damaged_spans", (double)sv.damaged_spans);
	text = cJSON_PrintUnformatted(body);
	if (!text) {
		r = -ENOMEM;
		goto out;
	}
	r = append_rec(fd, HTM_REC_JOURNAL_BREAK, seq++, s->last_ts, prev, text, strlen(text));
	for (size_t i = 0; r == 0 && i < sv.n; i++)
		r = append_rec(fd, sv.recs[i].type, seq++, sv.recs[i].ts, prev,
			       sv.recs[i].body, sv.recs[i].len);
	if (r == 0 && fdatasync(fd) < 0)
		r = -errno;
	snprintf(summary, slen, "kept records 1..%llu, salvaged %zu later records "
		 "(%llu damaged bytes in %llu places skipped), damaged files in %s",
		 (unsigned long long)s->last_seq, sv.n,
		 (unsigned long long)sv.skipped_bytes,
		 (unsigned long long)sv.damaged_spans, aside);
out:
	if (fd >= 0)
		close(fd);
	for (size_t i = 0; i < sv.n; i++)
		free(sv.recs[i].body);
	free(sv.recs);
	free(prefix);
	free(buf);
	free(text);
	cJSON_Delete(body);
	free(firsts);
	free(gz);
	return r;
}
