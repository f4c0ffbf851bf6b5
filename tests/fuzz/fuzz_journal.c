// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: htm_journal_scan (user/sys/journal_read.c) over a
 * journal directory built from the input, with a visitor that does what
 * replay does with each body (cJSON parse; a task.submit body's "task"
 * through htm_task_from_json and back through htm_task_to_json).
 *
 * Input layout:
 *   byte 0   flags
 *            bits 0-1  segment count - 1 (3 is read as 1)
 *            bits 2-4  segment i is sealed (.log.gz): its bytes are
 *                      gzip-compressed on the way to disk, unless they
 *                      already start with the gzip magic (written raw, so
 *                      corrupt gzip streams are reachable too)
 *            bit  5    fix up every record's CRC before writing
 *            bit  6    fix up every record's prev (the SHA-256 chain)
 *            bit  7    name segment i by i+1, not by the seq at its offset 16
 *   then     a u16 LE length for each segment but the last (clamped)
 *   then     the segments' bytes, back to back; the last takes the rest
 *
 * The fix-up bits let the fuzzer get past CRC32 and SHA-256 (which it cannot
 * solve) into the sequence, chain and body logic. Files go into one private
 * temp dir per process, $TMPDIR (else /dev/shm, else /tmp)/htm-fuzz-journal.<pid>,
 * emptied before each input, removed at exit or by the next run.
 *
 * Checks (abort() on failure): scan returns 0; s.segments matches the files
 * written (a plain and a sealed segment with the same first seq count once,
 * as the sealed one); s.records matches the visits; torn and broken never
 * both; a torn tail is in the last segment, which is plain and active, and
 * torn_bytes is what follows active_end; visits carry consecutive seqs and an
 * unbroken hash chain from zeros; without a break every byte of every
 * segment is a visited record or the torn tail (so without torn or broken the
 * whole input was consumed). HTM_FUZZ_VERBOSE=1 prints each scan's result.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <zlib.h>

#include "core/proto.h"
#include "core/record.h"
#include "core/task.h"
#include "sys/journal.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SEGS 3

static char dir[256];
static bool verbose;	/* HTM_FUZZ_VERBOSE=1: print each scan's result */

struct seg {
	uint64_t first_seq;
	bool gz, raw;		/* raw: written as given, content unknown */
	bool live;		/* not shadowed by a later file of that name */
	const uint8_t *data;
	size_t len;
};

struct visit {
	uint64_t records, bytes, last_seq, last_ts;
	uint8_t last_hash[HTM_HASH_LEN];
};

static void remove_tree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
	rmdir(path);
}

static void cleanup(void)
{
	remove_tree(dir);
}

/* A crash, leak or timeout ends the process without atexit: sweep the dirs
 * of processes that are gone ("htm-fuzz-journal.<pid>"). */
static void sweep(const char *tmp)
{
	DIR *d = opendir(tmp);
	struct dirent *de;
	char path[512];
	long pid;
	char *end;

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "htm-fuzz-journal.", 17) != 0)
			continue;
		pid = strtol(de->d_name + 17, &end, 10);
		/* signal 0 only asks whether the process exists */
		if (*end || pid <= 0 || !(kill((pid_t)pid, 0) < 0 && errno == ESRCH))
			continue;
		snprintf(path, sizeof(path), "%s/%s", tmp, de->d_name);
		remove_tree(path);
	}
	closedir(d);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");

	(void)argc;
	(void)argv;
	/* $TMPDIR, else tmpfs when there is one: a few files per input */
	if (!tmp || !*tmp)
		tmp = access("/dev/shm", W_OK | X_OK) == 0 ? "/dev/shm" : "/tmp";
	sweep(tmp);
	snprintf(dir, sizeof(dir), "%s/htm-fuzz-journal.%ld", tmp, (long)getpid());
	remove_tree(dir);
	if (mkdir(dir, 0700) < 0) {
		perror(dir);
		exit(1);
	}
	atexit(cleanup);
	verbose = getenv("HTM_FUZZ_VERBOSE") != NULL;
	return 0;
}

static void empty_dir(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		abort();
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && unlinkat(dirfd(d), de->d_name, 0) < 0)
			abort();
	closedir(d);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* Walk the records in p as the decoder would frame them and make their
 * CRCs and/or prev links right. chain carries the hash across segments. */
static void fixup(uint8_t *p, size_t len, bool crc, bool link,
		  uint8_t chain[HTM_HASH_LEN])
{
	size_t off = 0, size;
	uint32_t c;

	while (len - off >= HTM_REC_HEADER) {
		size = (size_t)get32(p + off) + 4;
		if (size < HTM_REC_HEADER || size > len - off)
			break;
		if (link)
			memcpy(p + off + 32, chain, HTM_HASH_LEN);
		if (crc) {
			c = (uint32_t)crc32(0, p + off + 8, (uInt)(size - 8));
			for (int i = 0; i < 4; i++)
				p[off + 4 + i] = (uint8_t)(c >> (8 * i));
		}
		htm_rec_hash(p + off, size, chain);
		off += size;
	}
}

static void write_file(const char *path, const uint8_t *p, size_t len, bool gz)
{
	if (gz) {
		gzFile f = gzopen(path, "wb1");

		if (!f || (len && gzwrite(f, p, (unsigned)len) != (int)len) ||
		    gzclose(f) != Z_OK)
			abort();
		return;
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		abort();
	for (size_t off = 0; off < len;) {
		ssize_t n = write(fd, p + off, len - off);

		if (n <= 0)
			abort();
		off += (size_t)n;
	}
	close(fd);
}

static int seg_cmp(const void *a, const void *b)
{
	const struct seg *x = a, *y = b;

	return (x->first_seq > y->first_seq) - (x->first_seq < y->first_seq);
}

static int visit(void *ctx, const struct htm_rec *r)
{
	struct visit *v = ctx;
	const uint8_t *whole = (const uint8_t *)r->body - HTM_REC_HEADER;
	cJSON *b, *o;
	struct htm_task *t;

	if (r->size != HTM_REC_HEADER + r->body_len || r->version != HTM_REC_VERSION)
		abort();
	if (v->records && r->seq != v->last_seq + 1)
		abort();	/* the scan let a gap or repeat through */
	if (memcmp(r->prev, v->last_hash, HTM_HASH_LEN) != 0)
		abort();	/* ... or a broken hash chain */
	htm_rec_hash(whole, r->size, v->last_hash);
	v->records++;
	v->bytes += r->size;
	v->last_seq = r->seq;
	v->last_ts = r->ts_ns;

	/* what persist.c's replay does with a body */
	b = cJSON_ParseWithLength(r->body, r->body_len);
	if (!b)
		return 0;
	if (r->type == HTM_REC_TASK_SUBMIT) {
		t = htm_task_from_json(cJSON_GetObjectItemCaseSensitive(b, "task"));
		if (t) {
			o = htm_task_to_json(t);
			cJSON_Delete(o);
			htm_task_free(t);
		}
	}
	cJSON_Delete(b);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seg segs[MAX_SEGS], model[MAX_SEGS];
	struct htm_journal_scan s;
	struct visit v;
	uint8_t chain[HTM_HASH_LEN] = { 0 };
	uint8_t flags, *copy;
	size_t nseg, nmodel = 0, off, total = 0;
	bool known = true;
	char path[512];
	int r;

	if (size < 1)
		return 0;
	flags = data[0];
	nseg = (size_t)(flags & 3) % 3 + 1;
	off = 1 + 2 * (nseg - 1);
	if (off > size)
		return 0;
	copy = malloc(size - off + 1);	/* fix-ups work on a copy */
	if (!copy)
		abort();
	memcpy(copy, data + off, size - off);

	/* cut into segments */
	{
		size_t at = 0, rest = size - off;

		for (size_t i = 0; i < nseg; i++) {
			size_t len = rest - at;

			if (i + 1 < nseg) {
				size_t want = (size_t)data[1 + 2 * i] |
					      (size_t)data[2 + 2 * i] << 8;

				if (want < len)
					len = want;
			}
			segs[i].data = copy + at;
			segs[i].len = len;
			segs[i].gz = flags & (4u << i);
			segs[i].raw = segs[i].gz && len >= 2 && copy[at] == 0x1f &&
				      copy[at + 1] == 0x8b;
			segs[i].live = true;
			at += len;
		}
	}
	for (size_t i = 0; i < nseg; i++) {
		if (!segs[i].raw && (flags & 0x60))
			fixup((uint8_t *)segs[i].data, segs[i].len, flags & 0x20,
			      flags & 0x40, chain);
		if (!(flags & 0x80) && segs[i].len >= 24)
			segs[i].first_seq = get64(segs[i].data + 16);
		else
			segs[i].first_seq = i + 1;
	}

	/* to disk; a later file of the same name replaces an earlier one */
	empty_dir();
	for (size_t i = 0; i < nseg; i++) {
		htm_journal_segment_path(dir, segs[i].first_seq, segs[i].gz, path,
					 sizeof(path));
		write_file(path, segs[i].data, segs[i].len, segs[i].gz && !segs[i].raw);
		for (size_t j = 0; j < i; j++)
			if (segs[j].first_seq == segs[i].first_seq &&
			    segs[j].gz == segs[i].gz)
				segs[j].live = false;
	}
	/* what the scan should see: one segment per first seq, sealed wins */
	for (size_t i = 0; i < nseg; i++) {
		size_t j;

		if (!segs[i].live)
			continue;
		for (j = 0; j < nmodel; j++)
			if (model[j].first_seq == segs[i].first_seq)
				break;
		if (j == nmodel)
			model[nmodel++] = segs[i];
		else if (segs[i].gz)
			model[j] = segs[i];
	}
	qsort(model, nmodel, sizeof(model[0]), seg_cmp);
	for (size_t i = 0; i < nmodel; i++) {
		known &= !model[i].raw;
		total += model[i].len;
	}

	memset(&v, 0, sizeof(v));
	memset(&s, 0xa5, sizeof(s));
	r = htm_journal_scan(dir, visit, &v, &s);

	if (verbose)
		fprintf(stderr, "scan: %zu file(s) -> segments %u records %llu last %llu "
			"torn %d (%llu bytes) active %d end %llu broken %d%s%s\n",
			nseg, s.segments, (unsigned long long)s.records,
			(unsigned long long)s.last_seq, s.torn,
			(unsigned long long)s.torn_bytes, s.has_active,
			(unsigned long long)s.active_end, s.broken,
			s.broken ? ": " : "", s.broken ? s.why : "");
	if (r != 0)
		abort();	/* nothing "around" the scan can fail here */
	if (s.segments != nmodel || s.records != v.records)
		abort();
	if (s.records && (s.last_seq != v.last_seq || s.last_ts != v.last_ts ||
			  memcmp(s.last_hash, v.last_hash, HTM_HASH_LEN) != 0))
		abort();
	if (s.torn && s.broken)
		abort();
	if (s.broken && (!s.why[0] || !s.broken_segment[0]))
		abort();
	if (s.torn) {
		const struct seg *last = &model[nmodel - 1];

		if (last->gz || !s.has_active || !s.torn_bytes ||
		    s.active_end + s.torn_bytes != last->len)
			abort();
	}
	if (s.has_active && (model[nmodel - 1].gz || s.active_end > model[nmodel - 1].len))
		abort();
	if (!s.broken) {
		/* every segment scanned to its end */
		if (nmodel && s.has_active != !model[nmodel - 1].gz)
			abort();
		if (!s.torn && s.torn_bytes)
			abort();
		if (known && v.bytes + (s.torn ? s.torn_bytes : 0) != total)
			abort();	/* bytes neither visited nor torn */
		if (known && !s.torn && v.bytes != total)
			abort();
	}
	free(copy);
	return 0;
}
