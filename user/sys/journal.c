// SPDX-License-Identifier: MIT
/*
 * Writing the journal. Records are encoded into a fill buffer as they come;
 * at the end of a loop iteration htm_journal_commit() swaps it for the
 * flight buffer and sends one write linked to one fdatasync through the
 * ring. Only one commit is in flight; records arriving meanwhile wait in
 * the fill buffer for the next one, so under load many requests share a
 * single fdatasync (group commit). A full segment is closed and sealed
 * (gzip, on the worker thread) and appends continue in a new one.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "core/pathfmt.h"
#include "journal.h"
#include "log.h"

struct rec_buf {
	uint8_t *data;
	size_t len, cap;
	uint64_t last_seq;
};

struct htm_journal {
	struct htm_journal_opts o;
	char dir[512];
	int fd;
	uint64_t seg_first;		/* first seq of the segment being written */
	uint64_t size;			/* its length on disk (where the next write goes) */
	uint64_t next_seq;
	uint8_t prev_hash[HTM_HASH_LEN];
	struct rec_buf fill, flight;
	bool committing;
	int write_res, sync_res;
	struct htm_loop_source write_src, sync_src;
	struct htm_loop_timer retry;
	uint64_t durable;
	uint64_t sealed, commits, errors;
};

struct seal_job {
	struct htm_journal *j;
	char src[600], dst[600];
	int err;
	uint64_t in_bytes, out_bytes;
};

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

/* On the worker thread: <seg>.log -> <seg>.log.gz, durably, then unlink. */
static void seal_work(void *arg)
{
	struct seal_job *job = arg;
	char tmp[620], buf[65536], dir[600];
	struct stat st;
	gzFile gz = NULL;
	ssize_t n;
	int in, fd;

	job->err = 0;
	in = open(job->src, O_RDONLY | O_CLOEXEC);
	snprintf(tmp, sizeof(tmp), "%s.tmp", job->dst);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (in < 0 || fd < 0 || !(gz = gzdopen(fd, "wb6"))) {
		job->err = errno ? -errno : -EIO;
		goto out;
	}
	fd = -1;	/* gz owns it now */
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		job->in_bytes += (uint64_t)n;
		if (gzwrite(gz, buf, (unsigned)n) != (int)n) {
			job->err = -EIO;
			goto out;
		}
	}
	if (n < 0) {
		job->err = -errno;
		goto out;
	}
	if (gzflush(gz, Z_FINISH) != Z_OK) {
		job->err = -EIO;
		goto out;
	}
	/* fsync through a second fd: gz keeps its own */
	fd = open(tmp, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0 || fstat(fd, &st) < 0) {
		job->err = -errno;
		goto out;
	}
	job->out_bytes = (uint64_t)st.st_size;
	if (gzclose(gz) != Z_OK) {
		gz = NULL;
		job->err = -EIO;
		goto out;
	}
	gz = NULL;
	snprintf(dir, sizeof(dir), "%s", job->dst);
	if (rename(tmp, job->dst) < 0 || fsync_dir(dirname(dir)) < 0 ||
	    unlink(job->src) < 0)
		job->err = -errno;
out:
	if (gz)
		gzclose(gz);
	if (fd >= 0)
		close(fd);
	if (in >= 0)
		close(in);
	if (job->err)
		unlink(tmp);
}

static void seal_done(void *arg)
{
	struct seal_job *job = arg;

	if (job->err)
		htm_log(LOG_WARNING, "journal: sealing %s: %s; it stays readable "
			"uncompressed", job->src, strerror(-job->err));
	else
		htm_log(LOG_INFO, "journal: sealed %s (%llu -> %llu bytes)", job->dst,
			(unsigned long long)job->in_bytes,
			(unsigned long long)job->out_bytes);
	if (!job->err)
		job->j->sealed++;
	free(job);
}

static int segment_create(struct htm_journal *j, uint64_t first)
{
	char path[600];

	htm_journal_segment_path(j->dir, first, false, path, sizeof(path));
	j->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (j->fd < 0)
		return -errno;
	j->seg_first = first;
	j->size = 0;
	/* the new name must survive a crash before its first record does */
	return fsync_dir(j->dir);
}

/* The segment is full: close it, have it compressed, start the next. */
static void seal_submit(struct htm_journal *j, uint64_t first);

static void rotate(struct htm_journal *j)
{
	int r;

	close(j->fd);
	j->fd = -1;
	seal_submit(j, j->seg_first);
	/* named by the first record it will hold: the oldest one not yet
	 * written, which may already wait in the fill buffer */
	r = segment_create(j, j->durable + 1);
	if (r < 0)
		htm_log(LOG_CRIT, "journal: cannot start segment %llu: %s",
			(unsigned long long)j->durable + 1, strerror(-r));
}

static void seal_submit(struct htm_journal *j, uint64_t first)
{
	struct seal_job *job = calloc(1, sizeof(*job));

	if (!job)
		return;
	job->j = j;
	htm_journal_segment_path(j->dir, first, false, job->src, sizeof(job->src));
	htm_journal_segment_path(j->dir, first, true, job->dst, sizeof(job->dst));
	if (!j->o.worker || htm_worker_submit(j->o.worker, seal_work, seal_done, job) < 0)
		free(job);
}

/*
 * A crash during sealing leaves a plain segment that is no longer the one
 * being written, maybe a partial .gz.tmp, maybe both the plain file and its
 * finished .gz: finish or undo each.
 */
static void reseal_leftovers(struct htm_journal *j)
{
	char path[600], gz[600];
	struct dirent *de;
	DIR *d = opendir(j->dir);
	unsigned long long first;
	int n;

	if (!d)
		return;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if (len > 4 && !strcmp(de->d_name + len - 4, ".tmp")) {
			htm_pathf(path, sizeof(path), "%s/%s", j->dir, de->d_name);
			unlink(path);
			continue;
		}
		n = 0;
		if (sscanf(de->d_name, "%20llu.log%n", &first, &n) != 1 || n != 24 ||
		    de->d_name[24] || first == j->seg_first)
			continue;
		htm_journal_segment_path(j->dir, first, false, path, sizeof(path));
		htm_journal_segment_path(j->dir, first, true, gz, sizeof(gz));
		if (access(gz, F_OK) == 0) {
			/* the .gz is renamed into place only once complete */
			unlink(path);
			continue;
		}
		htm_log(LOG_INFO, "journal: sealing %s, left plain by a crash", path);
		seal_submit(j, first);
	}
	closedir(d);
}

static void commit_finished(struct htm_journal *j)
{
	size_t len = j->flight.len;

	j->committing = false;
	if (j->write_res > 0 && (size_t)j->write_res < len) {
		/* short write: keep the rest in flight and send it again */
		j->size += (uint64_t)j->write_res;
		memmove(j->flight.data, j->flight.data + j->write_res,
			len - (size_t)j->write_res);
		j->flight.len -= (size_t)j->write_res;
		htm_journal_commit(j);
		return;
	}
	if (j->write_res < 0 || j->sync_res < 0) {
		int err = j->write_res < 0 ? j->write_res : j->sync_res;

		j->errors++;
		htm_log(LOG_CRIT, "journal: %s %llu bytes at %llu: %s; retrying in 1s, "
			"requests wait until their records are on disk",
			j->write_res < 0 ? "writing" : "syncing", (unsigned long long)len,
			(unsigned long long)j->size, strerror(-err));
		htm_loop_timer_arm(&j->retry, htm_now_mono() + 1000000000ull);
		return;
	}
	j->size += len;
	j->flight.len = 0;
	j->durable = j->flight.last_seq;
	j->commits++;
	if (j->size >= j->o.segment_bytes)
		rotate(j);
	if (j->o.durable)
		j->o.durable(j->o.ctx, j->durable);
	htm_journal_commit(j);
}

static void write_done(struct htm_loop_source *src, int res, uint32_t fl)
{
	struct htm_journal *j = (struct htm_journal *)((char *)src -
		offsetof(struct htm_journal, write_src));

	(void)fl;
	j->write_res = res;
	if (!j->sync_src.inflight)
		commit_finished(j);
}

static void sync_done(struct htm_loop_source *src, int res, uint32_t fl)
{
	struct htm_journal *j = (struct htm_journal *)((char *)src -
		offsetof(struct htm_journal, sync_src));

	(void)fl;
	/* a failed or short write breaks the link: the sync is cancelled */
	j->sync_res = res == -ECANCELED ? 0 : res;
	if (!j->write_src.inflight)
		commit_finished(j);
}

static void retry_fired(struct htm_loop_timer *t)
{
	struct htm_journal *j = (struct htm_journal *)((char *)t -
		offsetof(struct htm_journal, retry));

	htm_journal_commit(j);
}

void htm_journal_commit(struct htm_journal *j)
{
	struct io_uring_sqe *w, *s;
	struct rec_buf tmp;

	if (j->committing || j->fd < 0 || htm_loop_timer_idle(&j->retry) == false)
		return;
	if (!j->flight.len) {
		if (!j->fill.len)
			return;
		tmp = j->flight;
		j->flight = j->fill;
		j->fill = tmp;
		j->fill.len = 0;
	}
	if (htm_loop_reserve(j->o.loop, 2) < 0) {
		htm_loop_timer_arm(&j->retry, htm_now_mono() + 1000000ull);
		return;
	}
	w = htm_loop_sqe(j->o.loop, &j->write_src);
	s = htm_loop_sqe(j->o.loop, &j->sync_src);
	io_uring_prep_write(w, j->fd, j->flight.data, (unsigned)j->flight.len, j->size);
	w->flags |= IOSQE_IO_LINK;
	io_uring_prep_fsync(s, j->fd, IORING_FSYNC_DATASYNC);
	j->committing = true;
	j->write_res = j->sync_res = 0;
}

static int buf_reserve(struct rec_buf *b, size_t more)
{
	size_t cap = b->cap ? b->cap : 65536;
	uint8_t *p;

	while (cap < b->len + more)
		cap *= 2;
	if (cap == b->cap)
		return 0;
	p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int htm_journal_append(struct htm_journal *j, uint16_t type, uint64_t ts_ns,
		       const char *body, size_t len, uint64_t *seq)
{
	uint8_t *rec;
	size_t size;
	int r;

	r = htm_rec_encode(type, j->next_seq, ts_ns, j->prev_hash, body, len,
			   &rec, &size);
	if (r < 0)
		return r;
	r = buf_reserve(&j->fill, size);
	if (r < 0) {
		free(rec);
		return r;
	}
	memcpy(j->fill.data + j->fill.len, rec, size);
	j->fill.len += size;
	j->fill.last_seq = j->next_seq;
	htm_rec_hash(rec, size, j->prev_hash);
	free(rec);
	if (seq)
		*seq = j->next_seq;
	j->next_seq++;
	return 0;
}

uint64_t htm_journal_last(const struct htm_journal *j)
{
	return j->next_seq - 1;
}

uint64_t htm_journal_durable(const struct htm_journal *j)
{
	return j->durable;
}

void htm_journal_stats(const struct htm_journal *j, uint64_t *segment_bytes,
		       uint64_t *sealed, uint64_t *commits, uint64_t *write_errors)
{
	*segment_bytes = j->size;
	*sealed = j->sealed;
	*commits = j->commits;
	*write_errors = j->errors;
}

int htm_journal_open(struct htm_journal **out, const struct htm_journal_opts *o,
		     const struct htm_journal_scan *s)
{
	struct htm_journal *j = calloc(1, sizeof(*j));
	unsigned long long first;
	int r;

	if (!j)
		return -ENOMEM;
	j->o = *o;
	j->fd = -1;
	snprintf(j->dir, sizeof(j->dir), "%s", o->dir);
	j->o.dir = j->dir;
	j->write_src.fn = write_done;
	j->sync_src.fn = sync_done;
	htm_loop_timer_init(&j->retry, o->loop, retry_fired);
	j->next_seq = s->last_seq + 1;
	j->durable = s->last_seq;
	memcpy(j->prev_hash, s->last_hash, HTM_HASH_LEN);
	if (mkdir(j->dir, 0750) < 0 && errno != EEXIST) {
		r = -errno;
		goto fail;
	}
	if (s->broken) {
		r = -EBADMSG;	/* repair it first (htm_journal_repair) */
	} else if (s->has_active) {
		j->fd = open(s->active, O_WRONLY | O_CLOEXEC);
		if (j->fd < 0) {
			r = -errno;
			goto fail;
		}
		/* a torn tail goes; the next record starts where the last
		 * whole one ended */
		if (s->torn && (ftruncate(j->fd, (off_t)s->active_end) < 0 ||
				fdatasync(j->fd) < 0)) {
			r = -errno;
			goto fail;
		}
		sscanf(strrchr(s->active, '/') + 1, "%20llu", &first);
		j->seg_first = first;
		j->size = s->active_end;
		r = 0;
	} else {
		r = segment_create(j, j->next_seq);
	}
	if (r < 0)
		goto fail;
	reseal_leftovers(j);
	*out = j;
	return 0;
fail:
	if (j->fd >= 0)
		close(j->fd);
	free(j);
	return r;
}

void htm_journal_close(struct htm_journal *j)
{
	ssize_t n;

	if (!j)
		return;
	/* the ring is gone; what was in flight may or may not have landed,
	 * writing it again at the same offset is the same bytes */
	if (j->fd >= 0 && (j->flight.len || j->fill.len)) {
		if (j->flight.len &&
		    (n = pwrite(j->fd, j->flight.data, j->flight.len, (off_t)j->size)) > 0)
			j->size += (uint64_t)n;
		if (j->fill.len &&
		    (n = pwrite(j->fd, j->fill.data, j->fill.len, (off_t)j->size)) > 0)
			j->size += (uint64_t)n;
		if (fdatasync(j->fd) < 0)
			htm_log(LOG_CRIT, "journal: final sync: %s", strerror(errno));
	}
	if (j->fd >= 0)
		close(j->fd);
	free(j->fill.data);
	free(j->flight.data);
	free(j);
}
