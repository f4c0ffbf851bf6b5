// SPDX-License-Identifier: MIT
/*
 * Reading the journal: every segment in sequence order, every record's CRC,
 * its sequence number and its link to the one before. Used at start-up
 * (replay), by `log` queries and by `log --verify` (on the worker thread,
 * so it allocates and touches nothing shared).
 */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "core/pathfmt.h"
#include "journal.h"

struct segment {
	uint64_t first_seq;
	bool gz;
};

static int segment_cmp(const void *a, const void *b)
{
	const struct segment *x = a, *y = b;

	return (x->first_seq > y->first_seq) - (x->first_seq < y->first_seq);
}

/* "<20 digits>.log" or "<20 digits>.log.gz": 1 and *seg set, else 0. */
static int segment_name(const char *name, struct segment *seg)
{
	unsigned long long seq;
	int n = 0;

	if (strlen(name) < 24 || sscanf(name, "%20llu.log%n", &seq, &n) != 1 || n != 24)
		return 0;
	if (name[24] == '\0')
		seg->gz = false;
	else if (strcmp(name + 24, ".gz") == 0)
		seg->gz = true;
	else
		return 0;
	seg->first_seq = seq;
	return 1;
}

void htm_journal_segment_path(const char *dir, uint64_t first_seq, bool gz,
			      char *buf, size_t len)
{
	htm_pathf(buf, len, "%s/%020llu.log%s", dir, (unsigned long long)first_seq,
		  gz ? ".gz" : "");
}

/* Sorted segments; a segment both sealed and not (a crash before the plain
 * file was removed) counts once, as the sealed one. */
int htm_journal_segments(const char *dir, uint64_t **firsts, bool **gz,
			 size_t *count)
{
	struct segment *segs = NULL, seg, *grown;
	size_t n = 0, cap = 0, out = 0;
	struct dirent *de;
	DIR *d = opendir(dir);

	*count = 0;
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (!segment_name(de->d_name, &seg))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			grown = realloc(segs, cap * sizeof(*segs));
			if (!grown) {
				free(segs);
				closedir(d);
				return -ENOMEM;
			}
			segs = grown;
		}
		segs[n++] = seg;
	}
	closedir(d);
	qsort(segs, n, sizeof(*segs), segment_cmp);
	*firsts = calloc(n ? n : 1, sizeof(**firsts));
	*gz = calloc(n ? n : 1, sizeof(**gz));
	if (!*firsts || !*gz) {
		free(segs);
		free(*firsts);
		free(*gz);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		if (out && (*firsts)[out - 1] == segs[i].first_seq) {
			(*gz)[out - 1] |= segs[i].gz;
			continue;
		}
		(*firsts)[out] = segs[i].first_seq;
		(*gz)[out] = segs[i].gz;
		out++;
	}
	free(segs);
	*count = out;
	return 0;
}

int htm_journal_load_segment(const char *path, bool gz, uint8_t **buf,
			     size_t *len);

static int load_plain(const char *path, uint8_t **buf, size_t *len)
{
	struct stat st;
	uint8_t *p;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	p = malloc((size_t)st.st_size + 1);
	if (!p) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, p + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : 0;
			break;
		}
		got += (size_t)n;
	}
	close(fd);
	if (r < 0) {
		free(p);
		return r;
	}
	*buf = p;
	*len = got;
	return 0;
}

static int load_gz(const char *path, uint8_t **buf, size_t *len)
{
	size_t cap = 1 << 20, got = 0;
	uint8_t *p = malloc(cap), *grown;
	gzFile gz;
	int n;

	if (!p)
		return -ENOMEM;
	gz = gzopen(path, "rbe");
	if (!gz) {
		free(p);
		return errno ? -errno : -EIO;
	}
	for (;;) {
		if (cap - got < 65536) {
			grown = realloc(p, cap * 2);
			if (!grown) {
				gzclose(gz);
				free(p);
				return -ENOMEM;
			}
			p = grown;
			cap *= 2;
		}
		n = gzread(gz, p + got, (unsigned)(cap - got));
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	/* close it whatever happened: zlib's state is freed only here */
	if (gzclose(gz) != Z_OK || n < 0) {
		free(p);
		return -EIO;
	}
	*buf = p;
	*len = got;
	return 0;
}

int htm_journal_load_segment(const char *path, bool gz, uint8_t **buf,
			     size_t *len)
{
	return gz ? load_gz(path, buf, len) : load_plain(path, buf, len);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* The length a record at p says it has (p has at least 4 bytes: a shorter
 * tail decodes as incomplete before this is asked). */
static size_t declared_len(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

/*
 * Whether a whole, valid record starts anywhere in buf[from..len): then the
 * damage before it is not a write cut short at the end (a damaged length
 * field can make a record seem to run past the end of the file).
 */
static bool record_after(const uint8_t *buf, size_t len, size_t from)
{
	struct htm_rec rec;

	for (size_t off = from; off + HTM_REC_HEADER <= len; off++)
		if (htm_rec_decode(buf + off, len - off, &rec) > 0)
			return true;
	return false;
}

static void broken(struct htm_journal_scan *s, const char *seg, uint64_t off,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void broken(struct htm_journal_scan *s, const char *seg, uint64_t off,
		   const char *fmt, ...)
{
	va_list ap;

	s->broken = true;
	s->broken_seq = s->last_seq + 1;
	s->broken_offset = off;
	htm_pathf(s->broken_segment, sizeof(s->broken_segment), "%s", seg);
	va_start(ap, fmt);
	vsnprintf(s->why, sizeof(s->why), fmt, ap);
	va_end(ap);
}

/* One segment: decode, check, visit. 1 to go on, 0 to stop, <0 error. */
static int scan_segment(const char *path, uint64_t first_seq, bool last,
			bool gz, const uint8_t *buf, size_t len,
			htm_rec_visit fn, void *ctx, struct htm_journal_scan *s)
{
	struct htm_rec rec;
	size_t off = 0;
	long n;
	int r;

	while (off < len) {
		n = htm_rec_decode(buf + off, len - off, &rec);
		if (n <= 0) {
			/* A crash mid-write leaves a short or zero-filled tail
			 * in the segment being written; anywhere else it is
			 * damage. */
			bool tail = last && !gz &&
				    (n == 0 || all_zero(buf + off, len - off) ||
				     off + 4 + declared_len(buf + off) >= len) &&
				    !record_after(buf, len, off + 1);

			if (tail) {
				s->torn = true;
				s->torn_bytes = len - off;
			} else {
				broken(s, path, off, "%s at offset %zu",
				       n == 0 ? "truncated record" : "bad CRC or header", off);
			}
			break;
		}
		if (off == 0 && rec.seq != first_seq) {
			broken(s, path, off, "segment named %llu starts with record %llu",
			       (unsigned long long)first_seq, (unsigned long long)rec.seq);
			break;
		}
		if (s->records && rec.seq != s->last_seq + 1) {
			broken(s, path, off, "record %llu follows %llu",
			       (unsigned long long)rec.seq, (unsigned long long)s->last_seq);
			break;
		}
		if (memcmp(rec.prev, s->last_hash, HTM_HASH_LEN) != 0) {
			broken(s, path, off, "record %llu does not carry the hash of %s",
			       (unsigned long long)rec.seq,
			       s->records ? "the record before it" : "an empty journal");
			s->broken_seq = rec.seq;
			break;
		}
		if (fn) {
			r = fn(ctx, &rec);
			if (r < 0)
				return r;
		}
		htm_rec_hash(buf + off, (size_t)n, s->last_hash);
		s->last_seq = rec.seq;
		s->last_ts = rec.ts_ns;
		s->records++;
		off += (size_t)n;
	}
	if (last && !gz) {
		if (htm_pathf(s->active, sizeof(s->active), "%s", path) < 0)
			return -ENAMETOOLONG;
		s->active_end = off;
		s->has_active = true;
	}
	return s->broken ? 0 : 1;
}

int htm_journal_scan(const char *dir, htm_rec_visit fn, void *ctx,
		     struct htm_journal_scan *s)
{
	uint64_t *firsts = NULL;
	bool *gz = NULL;
	size_t count;
	int r;

	memset(s, 0, sizeof(*s));
	r = htm_journal_segments(dir, &firsts, &gz, &count);
	if (r < 0)
		return r;
	s->segments = (unsigned)count;
	for (size_t i = 0; i < count; i++) {
		char path[4096];
		uint8_t *buf = NULL;
		size_t len = 0;

		htm_journal_segment_path(dir, firsts[i], gz[i], path, sizeof(path));
		r = htm_journal_load_segment(path, gz[i], &buf, &len);
		if (r < 0) {
			broken(s, path, 0, "cannot read: %s", strerror(-r));
			r = 0;
			break;
		}
		r = scan_segment(path, firsts[i], i + 1 == count, gz[i], buf, len,
				 fn, ctx, s);
		free(buf);
		if (r <= 0)
			break;
		r = 0;
	}
	free(firsts);
	free(gz);
	return r < 0 ? r : 0;
}
