// SPDX-License-Identifier: MIT
/*
 * journal-gen: write a journal of real records for tests/bench/journal-replay.sh
 *
 *   journal-gen DIR RECORDS [SEGMENT_BYTES] [--plain]
 *
 * Records are what the daemon writes (user/persist.c): a daemon.start, then
 * per task a task.submit whose body holds htm_task_to_json() of the task,
 * and three task.state records (queued -> preflight -> running ->
 * succeeded) with pid, cgroup, cgroup_id and exit code; each body carries
 * who / what / when / where / why / how like persist_write() makes them.
 * Encoded with htm_rec_encode, chained with htm_rec_hash, into segments
 * <DIR>/<first seq, 20 digits>.log of SEGMENT_BYTES (default 8 MiB, the
 * daemon's default; a segment is closed once it reaches that size, as the
 * daemon does after a commit). Closed segments are sealed into .log.gz
 * (gzip level 6, as the daemon's worker does) unless --plain; the last one
 * stays plain, as the segment being written. Any leftover count at the end
 * is filled with daemon.stop / daemon.start records.
 *
 *   journal-gen --floor FILE...
 *
 * is a peer for the replay benchmark: reads the files (inflating .gz ones
 * with zlib), and runs every byte through crc32 and one SHA-256 (libcrypto),
 * the same libraries the journal reader uses, without decoding records;
 * prints {"bytes":N,"seconds":S}.
 *
 * Build (from the repository root, after make):
 *   cc -O2 -Iinclude -Iuser $(pkg-config --cflags libcjson) \
 *      tests/bench/journal-gen.c build/libhtm-core.a \
 *      $(pkg-config --libs libcjson libcrypto zlib) -lm
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
#include <openssl/evp.h>
#include <zlib.h>

#include "core/proto.h"
#include "core/record.h"
#include "core/task.h"

struct gen {
	const char *dir;
	uint64_t seg_bytes;
	int plain;
	uint8_t prev[HTM_HASH_LEN];
	uint64_t seq;			/* next record */
	uint64_t ts;			/* wall ns of the next record */
	uint8_t *seg;			/* the segment being filled */
	size_t len, cap;
	uint64_t seg_first;
	unsigned segments;
	uint64_t raw_bytes, disk_bytes;
};

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void seg_path(const struct gen *g, uint64_t first, int gz, char *buf, size_t n)
{
	snprintf(buf, n, "%s/%020llu.log%s", g->dir, (unsigned long long)first,
		 gz ? ".gz" : "");
}

static void write_file(const char *path, const uint8_t *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);

	if (fd < 0)
		die(path);
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w <= 0)
			die(path);
		p += w;
		n -= (size_t)w;
	}
	if (close(fd) < 0)
		die(path);
}

/* Close the current segment: sealed (gz) unless it is the last or --plain. */
static void flush_segment(struct gen *g, int last)
{
	char path[4096], tmp[4200];
	struct stat st;

	if (!g->len)
		return;
	if (last || g->plain) {
		seg_path(g, g->seg_first, 0, path, sizeof(path));
		write_file(path, g->seg, g->len);
	} else {
		gzFile gz;

		seg_path(g, g->seg_first, 1, path, sizeof(path));
		snprintf(tmp, sizeof(tmp), "%s.tmp", path);
		gz = gzopen(tmp, "wb6");
		if (!gz || gzwrite(gz, g->seg, (unsigned)g->len) != (int)g->len ||
		    gzclose(gz) != Z_OK)
			die(tmp);
		if (rename(tmp, path) < 0)
			die(path);
	}
	if (stat(path, &st) == 0)
		g->disk_bytes += (uint64_t)st.st_size;
	g->raw_bytes += g->len;
	g->segments++;
	g->len = 0;
}

static void append(struct gen *g, uint16_t type, cJSON *body, const char *who_actor,
		   const char *why, const char *how)
{
	cJSON *who = cJSON_CreateObject(), *where;
	uint8_t *rec;
	size_t size;
	char *text;

	cJSON_AddStringToObject(who, "actor", who_actor);
	if (strcmp(who_actor, "htmd") != 0 || type == HTM_REC_DAEMON_START) {
		cJSON_AddNumberToObject(who, "uid", 0);
		cJSON_AddStringToObject(who, "user", "root");
	}
	cJSON_AddItemToObject(body, "who", who);
	cJSON_AddStringToObject(body, "what", htm_rec_type_names[type]);
	cJSON_AddNumberToObject(body, "when", (double)(g->ts / 1000000) / 1000.0);
	where = cJSON_AddObjectToObject(body, "where");
	cJSON_AddStringToObject(where, "host", "bench-host");
	cJSON_AddNumberToObject(where, "htmd_pid", 4242);
	cJSON_AddStringToObject(body, "why", why);
	cJSON_AddStringToObject(body, "how", how);
	text = cJSON_PrintUnformatted(body);
	cJSON_Delete(body);
	if (!text || htm_rec_encode(type, g->seq, g->ts, g->prev, text, strlen(text),
				    &rec, &size) < 0) {
		fprintf(stderr, "journal-gen: cannot encode record %llu\n",
			(unsigned long long)g->seq);
		exit(1);
	}
	free(text);
	if (!g->len)
		g->seg_first = g->seq;
	if (g->len + size > g->cap) {
		g->cap = (g->len + size) * 2;
		g->seg = realloc(g->seg, g->cap);
		if (!g->seg)
			die("realloc");
	}
	memcpy(g->seg + g->len, rec, size);
	g->len += size;
	htm_rec_hash(rec, size, g->prev);
	free(rec);
	g->seq++;
	g->ts += 1000000;		/* 1 ms apart */
	if (g->len >= g->seg_bytes)
		flush_segment(g, 0);
}

static void daemon_record(struct gen *g, int start)
{
	cJSON *b = cJSON_CreateObject();

	if (start) {
		cJSON_AddStringToObject(b, "version", "0.1.0");
		cJSON_AddNumberToObject(b, "replayed", 0);
		cJSON_AddNumberToObject(b, "requeued", 0);
		cJSON_AddNumberToObject(b, "adopted", 0);
		cJSON_AddNumberToObject(b, "lost", 0);
		cJSON_AddBoolToObject(b, "observe", 0);
		append(g, HTM_REC_DAEMON_START, b, "htmd", "started", "/etc/htm/htmd.json");
	} else {
		append(g, HTM_REC_DAEMON_STOP, b, "htmd", "Terminated", "");
	}
}

static void state_record(struct gen *g, const struct htm_task *t, const char *from,
			 const char *to, const char *why, const char *how)
{
	cJSON *b = cJSON_CreateObject();

	cJSON_AddNumberToObject(b, "task", (double)t->id);
	cJSON_AddStringToObject(b, "from", from);
	cJSON_AddStringToObject(b, "to", to);
	if (strcmp(to, "preflight") != 0) {
		cJSON_AddNumberToObject(b, "pid", t->pid);
		cJSON_AddStringToObject(b, "cgroup", t->cgroup);
		cJSON_AddNumberToObject(b, "cgroup_id", (double)t->cgroup_id);
	}
	if (strcmp(to, "succeeded") == 0)
		cJSON_AddNumberToObject(b, "exit_code", 0);
	append(g, HTM_REC_TASK_STATE, b, "htmd", why, how);
}

static void task_records(struct gen *g, uint64_t id)
{
	struct htm_task *t = htm_task_new(id);
	char shard[16], run[24], cg[128];
	cJSON *b;

	if (!t)
		die("htm_task_new");
	snprintf(shard, sizeof(shard), "%llu", (unsigned long long)(id % 64));
	snprintf(run, sizeof(run), "%llu", (unsigned long long)id);
	t->argv = calloc(6, sizeof(char *));
	t->argv[0] = strdup("/usr/local/bin/nightly-job");
	t->argv[1] = strdup("--shard");
	t->argv[2] = strdup(shard);
	t->argv[3] = strdup("--run");
	t->argv[4] = strdup(run);
	t->name = strdup("nightly-job");
	t->cwd = strdup("/var/lib/jobs");
	t->priority = HTM_PRIO_NORMAL;
	t->origin = HTM_ORIGIN_USER_REQUEST;
	t->risk = HTM_RISK_LOW;
	t->uid = t->gid = 0;
	t->tier = 2;
	t->state = HTM_STATE_QUEUED;
	t->submitted_at = g->ts;
	b = cJSON_CreateObject();
	cJSON_AddItemToObject(b, "task", htm_task_to_json(t));
	append(g, HTM_REC_TASK_SUBMIT, b, "client", "tier 2 (autonomous): default tier",
	       "control socket");

	t->pid = (int32_t)(10000 + id % 4000000);
	snprintf(cg, sizeof(cg), "/sys/fs/cgroup/htm.slice/normal/task-%llu",
		 (unsigned long long)id);
	t->cgroup = strdup(cg);
	t->cgroup_id = 100000 + id;
	state_record(g, t, "queued", "preflight", "admitted to a run slot", "");
	state_record(g, t, "preflight", "running", "running", "clone3 into its cgroup");
	state_record(g, t, "running", "succeeded", "exited with code 0", "");
	htm_task_free(t);
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int floor_mode(int n, char **files)
{
	static unsigned char buf[1 << 20];
	unsigned char md[EVP_MAX_MD_SIZE];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint64_t bytes = 0;
	uLong crc = crc32(0, NULL, 0);
	double t0 = mono_s();
	unsigned mdlen;

	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
		return 1;
	for (int i = 0; i < n; i++) {
		size_t len = strlen(files[i]);
		int got;

		if (len > 3 && strcmp(files[i] + len - 3, ".gz") == 0) {
			gzFile gz = gzopen(files[i], "rb");

			if (!gz)
				die(files[i]);
			while ((got = gzread(gz, buf, sizeof(buf))) > 0) {
				crc = crc32(crc, buf, (uInt)got);
				EVP_DigestUpdate(ctx, buf, (size_t)got);
				bytes += (uint64_t)got;
			}
			gzclose(gz);
		} else {
			int fd = open(files[i], O_RDONLY | O_CLOEXEC);
			ssize_t r;

			if (fd < 0)
				die(files[i]);
			while ((r = read(fd, buf, sizeof(buf))) > 0) {
				crc = crc32(crc, buf, (uInt)r);
				EVP_DigestUpdate(ctx, buf, (size_t)r);
				bytes += (uint64_t)r;
			}
			close(fd);
		}
	}
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	printf("{\"bytes\":%llu,\"seconds\":%.6f,\"crc\":%lu,\"sha256_0\":%u}\n",
	       (unsigned long long)bytes, mono_s() - t0, crc, md[0]);
	return 0;
}

int main(int argc, char **argv)
{
	struct gen g = { .seq = 1, .seg_bytes = 8ull << 20 };
	struct timespec t0, t1, now;
	uint64_t records, id = 1;
	int start = 1;

	if (argc >= 2 && strcmp(argv[1], "--floor") == 0)
		return floor_mode(argc - 2, argv + 2);
	if (argc < 3) {
		fprintf(stderr, "usage: journal-gen DIR RECORDS [SEGMENT_BYTES] [--plain]\n");
		return 2;
	}
	g.dir = argv[1];
	records = strtoull(argv[2], NULL, 10);
	for (int i = 3; i < argc; i++) {
		if (strcmp(argv[i], "--plain") == 0)
			g.plain = 1;
		else
			g.seg_bytes = strtoull(argv[i], NULL, 10);
	}
	if (records < 2 || g.seg_bytes < 4096) {
		fprintf(stderr, "journal-gen: RECORDS >= 2, SEGMENT_BYTES >= 4096\n");
		return 2;
	}
	if (mkdir(g.dir, 0750) < 0 && errno != EEXIST)
		die(g.dir);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	clock_gettime(CLOCK_REALTIME, &now);
	g.ts = ((uint64_t)now.tv_sec - 86400) * 1000000000ull;	/* a day ago */

	daemon_record(&g, 1);
	while (g.seq + 4 <= records)	/* room for a task and the final stop */
		task_records(&g, id++);
	while (g.seq <= records) {	/* fill: stop, start, ..., ends with stop */
		start = (records - g.seq) % 2;
		daemon_record(&g, start);
	}
	flush_segment(&g, 1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("{\"records\":%llu,\"tasks\":%llu,\"segments\":%u,\"raw_bytes\":%llu,"
	       "\"disk_bytes\":%llu,\"seconds\":%.3f}\n",
	       (unsigned long long)(g.seq - 1), (unsigned long long)(id - 1), g.segments,
	       (unsigned long long)g.raw_bytes, (unsigned long long)g.disk_bytes,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	free(g.seg);
	return 0;
}
