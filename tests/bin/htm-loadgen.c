// SPDX-License-Identifier: MIT
/*
 * htm-loadgen: a fast submit client for tests and benchmarks, speaking the
 * socket protocol directly (one JSON line out, one JSON line back).
 *
 *   htm-loadgen -s SOCKET -n COUNT [-c CLIENTS] [-a ACKED_FILE]
 *               [-r RECONNECT_SECS] [-t REPLY_TIMEOUT_SECS] [-q] -- CMD [ARG...]
 *
 * CLIENTS connections (one thread each) share COUNT submissions of
 * {"v":1,"cmd":"submit","argv":[CMD, ARG...]}; each connection waits for
 * the reply to one request before it sends the next. A reply {"ok":true,
 * "task":{"id":N}} acknowledges task N: its id goes to ACKED_FILE, one per
 * line, written as it comes (a line is in the file only once acknowledged).
 * With -r, a lost connection (htmd killed) is re-established for up to
 * that many seconds and the client carries on; the request whose reply
 * was lost counts as sent and unanswered, never as acknowledged, and is
 * not sent again. Without -r a lost connection ends that client. With -t,
 * a reply that takes longer than that counts as timed out (and as
 * unanswered) and ends that client, -r or not: a live daemon that does not
 * answer is a finding, not something to wait out.
 *
 * At the end one JSON object on stdout:
 *   {"clients":C,"sent":N,"acked":N,"refused":N,"unanswered":N,
 *    "reconnects":N,"timeouts":N,"seconds":S,"per_second":R,"p50_ms":..,"p99_ms":..,
 *    "max_ms":..}
 * Exit 0 if every submission was answered ok, 1 otherwise, 2 usage.
 *
 *   htm-loadgen --append FILE [--linger MS --linger-every N]
 *
 * is the task side: append "$HTM_TASK_ID\n" to FILE with one O_APPEND
 * write (atomic against other appenders), then exit 0; with --linger, a
 * task whose id is a multiple of N (1 if not given) stays MS milliseconds
 * after the write (so that some tasks are still running when htmd dies).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

struct shared {
	const char *socket;
	char *request;			/* one line, '\n' included */
	size_t request_len;
	long count;
	double reconnect_secs;
	atomic_long next;		/* submissions taken so far */
	atomic_long acked, refused, unanswered, reconnects, timeouts;
	double reply_timeout;
	FILE *acked_file;
	pthread_mutex_t lock;
	bool quiet;
};

struct client {
	struct shared *sh;
	pthread_t thread;
	double *lat_ms;			/* latency of each answered request */
	size_t nlat, cap;
	char *buf;			/* reply bytes read, not yet used */
	size_t len, bufcap;
	int fd;
	bool timed_out;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int append_mode(const char *path, long linger_ms, long every)
{
	const char *id = getenv("HTM_TASK_ID");
	char line[64];
	int fd, n;

	if (!id || !*id) {
		fprintf(stderr, "htm-loadgen --append: HTM_TASK_ID is not set\n");
		return 1;
	}
	n = snprintf(line, sizeof(line), "%s\n", id);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || n <= 0 || n >= (int)sizeof(line) || write(fd, line, (size_t)n) != n) {
		perror(path);
		return 1;
	}
	if (close(fd) < 0)
		return 1;
	if (linger_ms > 0 && strtoull(id, NULL, 10) % (unsigned long long)every == 0) {
		struct timespec ts = { linger_ms / 1000, (linger_ms % 1000) * 1000000 };

		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
	return 0;
}

static int connect_once(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static void set_timeout(int fd, double secs)
{
	struct timeval tv = { (time_t)secs, (suseconds_t)((secs - (double)(time_t)secs) * 1e6) };

	if (secs > 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

/* Connect, retrying for up to `secs` (0: once). */
static int connect_retry(const char *path, double secs)
{
	double deadline = now_s() + secs;
	struct timespec pause = { 0, 10 * 1000 * 1000 };
	int fd;

	for (;;) {
		fd = connect_once(path);
		if (fd >= 0 || now_s() >= deadline)
			return fd;
		nanosleep(&pause, NULL);
	}
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* One reply line (NUL-terminated, newline dropped) into *line; -1 on EOF
 * or error. The line stays valid until the next call. */
static int read_line(struct client *c, char **line)
{
	static const size_t chunk = 65536;
	char *nl;

	for (;;) {
		nl = c->len ? memchr(c->buf, '\n', c->len) : NULL;
		if (nl)
			break;
		if (c->bufcap - c->len < chunk) {
			char *grown = realloc(c->buf, c->bufcap + 2 * chunk);

			if (!grown)
				return -1;
			c->buf = grown;
			c->bufcap += 2 * chunk;
		}
		ssize_t n = recv(c->fd, c->buf + c->len, c->bufcap - c->len - 1, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			atomic_fetch_add(&c->sh->timeouts, 1);
			c->timed_out = true;
			return -1;
		}
		if (n <= 0)
			return -1;
		c->len += (size_t)n;
	}
	*nl = '\0';
	*line = c->buf;
	return (int)(nl - c->buf) + 1;
}

static void consume(struct client *c, int used)
{
	memmove(c->buf, c->buf + used, c->len - (size_t)used);
	c->len -= (size_t)used;
}

static void note_latency(struct client *c, double ms)
{
	if (c->nlat == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 1024;
		double *grown = realloc(c->lat_ms, cap * sizeof(*grown));

		if (!grown)
			return;
		c->lat_ms = grown;
		c->cap = cap;
	}
	c->lat_ms[c->nlat++] = ms;
}

/* 1 acknowledged (id in *id), 0 refused. */
static int parse_reply(const char *line, uint64_t *id, char *why, size_t whylen)
{
	cJSON *r = cJSON_Parse(line);
	const cJSON *task, *v;
	int ok = 0;

	snprintf(why, whylen, "unparsable reply");
	if (r && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "ok")) &&
	    (task = cJSON_GetObjectItemCaseSensitive(r, "task")) &&
	    (v = cJSON_GetObjectItemCaseSensitive(task, "id")) && cJSON_IsNumber(v) &&
	    v->valuedouble >= 1) {
		*id = (uint64_t)v->valuedouble;
		ok = 1;
	} else if (r) {
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(r, "error");
		const char *msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "message"));

		snprintf(why, whylen, "%s", msg ? msg : "reply without ok/task.id");
	}
	cJSON_Delete(r);
	return ok;
}

static void *client_main(void *arg)
{
	struct client *c = arg;
	struct shared *sh = c->sh;
	char *line, why[256];
	uint64_t id;
	double t0;
	int used;

	c->fd = connect_retry(sh->socket, sh->reconnect_secs);
	if (c->fd < 0) {
		fprintf(stderr, "htm-loadgen: connect %s: %s\n", sh->socket, strerror(errno));
		return NULL;
	}
	set_timeout(c->fd, sh->reply_timeout);
	while (atomic_fetch_add(&sh->next, 1) < sh->count) {
		t0 = now_s();
		if (send_all(c->fd, sh->request, sh->request_len) < 0 ||
		    (used = read_line(c, &line)) < 0) {
			/* the daemon went away with this request unanswered */
			atomic_fetch_add(&sh->unanswered, 1);
			close(c->fd);
			c->fd = -1;
			c->len = 0;
			if (c->timed_out) {
				fprintf(stderr, "htm-loadgen: no reply within %.0f s; this client stops\n",
					sh->reply_timeout);
				return NULL;
			}
			if (sh->reconnect_secs <= 0)
				return NULL;
			c->fd = connect_retry(sh->socket, sh->reconnect_secs);
			if (c->fd < 0) {
				fprintf(stderr, "htm-loadgen: no daemon at %s within %.0f s: %s\n",
					sh->socket, sh->reconnect_secs, strerror(errno));
				return NULL;
			}
			set_timeout(c->fd, sh->reply_timeout);
			atomic_fetch_add(&sh->reconnects, 1);
			continue;
		}
		note_latency(c, (now_s() - t0) * 1000.0);
		if (parse_reply(line, &id, why, sizeof(why))) {
			atomic_fetch_add(&sh->acked, 1);
			if (sh->acked_file) {
				pthread_mutex_lock(&sh->lock);
				fprintf(sh->acked_file, "%llu\n", (unsigned long long)id);
				fflush(sh->acked_file);
				pthread_mutex_unlock(&sh->lock);
			}
		} else {
			if (atomic_fetch_add(&sh->refused, 1) < 5 && !sh->quiet)
				fprintf(stderr, "htm-loadgen: refused: %s\n", why);
		}
		consume(c, used);
	}
	if (c->fd >= 0)
		close(c->fd);
	return NULL;
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: htm-loadgen -s SOCKET -n COUNT [-c CLIENTS] [-a ACKED_FILE]\n"
		"                   [-r RECONNECT_SECS] [-t REPLY_TIMEOUT_SECS] [-q] -- CMD [ARG...]\n"
		"       htm-loadgen --append FILE [--linger MS --linger-every N]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "count", required_argument, NULL, 'n' },
		{ "clients", required_argument, NULL, 'c' },
		{ "acked", required_argument, NULL, 'a' },
		{ "reconnect", required_argument, NULL, 'r' },
		{ "timeout", required_argument, NULL, 't' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "append", required_argument, NULL, 'A' },
		{ "linger", required_argument, NULL, 'L' },
		{ "linger-every", required_argument, NULL, 'E' },
		{ 0 }
	};
	struct shared sh = { .count = 1000 };
	struct client *cl;
	long clients = 1;
	const char *acked_path = NULL, *append_path = NULL;
	long linger_ms = 0, every = 1;
	cJSON *req, *av;
	double t0, secs, *all;
	size_t nall = 0;
	long sent;
	int o;

	pthread_mutex_init(&sh.lock, NULL);
	while ((o = getopt_long(argc, argv, "s:n:c:a:r:t:q", opts, NULL)) != -1) {
		switch (o) {
		case 's': sh.socket = optarg; break;
		case 'n': sh.count = strtol(optarg, NULL, 10); break;
		case 'c': clients = strtol(optarg, NULL, 10); break;
		case 'a': acked_path = optarg; break;
		case 'r': sh.reconnect_secs = strtod(optarg, NULL); break;
		case 't': sh.reply_timeout = strtod(optarg, NULL); break;
		case 'q': sh.quiet = true; break;
		case 'A': append_path = optarg; break;
		case 'L': linger_ms = strtol(optarg, NULL, 10); break;
		case 'E': every = strtol(optarg, NULL, 10); break;
		default: usage();
		}
	}
	if (append_path)
		return every < 1 ? 2 : append_mode(append_path, linger_ms, every);
	if (!sh.socket || sh.count < 1 || clients < 1 || clients > 1024 || optind >= argc)
		usage();
	req = cJSON_CreateObject();
	cJSON_AddNumberToObject(req, "v", 1);
	cJSON_AddStringToObject(req, "cmd", "submit");
	av = cJSON_AddArrayToObject(req, "argv");
	for (int i = optind; i < argc; i++)
		cJSON_AddItemToArray(av, cJSON_CreateString(argv[i]));
	{
		char *text = cJSON_PrintUnformatted(req);

		if (!text)
			return 1;
		sh.request_len = strlen(text) + 1;
		sh.request = malloc(sh.request_len + 1);
		if (!sh.request)
			return 1;
		memcpy(sh.request, text, sh.request_len - 1);
		sh.request[sh.request_len - 1] = '\n';
		sh.request[sh.request_len] = '\0';
		free(text);
	}
	cJSON_Delete(req);
	if (acked_path) {
		sh.acked_file = fopen(acked_path, "ae");
		if (!sh.acked_file) {
			perror(acked_path);
			return 1;
		}
	}
	cl = calloc((size_t)clients, sizeof(*cl));
	if (!cl)
		return 1;
	t0 = now_s();
	for (long i = 0; i < clients; i++) {
		cl[i].sh = &sh;
		cl[i].fd = -1;
		if (pthread_create(&cl[i].thread, NULL, client_main, &cl[i]) != 0) {
			perror("pthread_create");
			return 1;
		}
	}
	for (long i = 0; i < clients; i++)
		pthread_join(cl[i].thread, NULL);
	secs = now_s() - t0;
	if (sh.acked_file)
		fclose(sh.acked_file);

	for (long i = 0; i < clients; i++)
		nall += cl[i].nlat;
	all = calloc(nall ? nall : 1, sizeof(*all));
	nall = 0;
	for (long i = 0; all && i < clients; i++) {
		memcpy(all + nall, cl[i].lat_ms, cl[i].nlat * sizeof(*all));
		nall += cl[i].nlat;
	}
	if (all)
		qsort(all, nall, sizeof(*all), dbl_cmp);
	sent = atomic_load(&sh.next);
	if (sent > sh.count)
		sent = sh.count;
	printf("{\"clients\":%ld,\"sent\":%ld,\"acked\":%ld,\"refused\":%ld,"
	       "\"unanswered\":%ld,\"reconnects\":%ld,\"timeouts\":%ld,\"seconds\":%.3f,"
	       "\"per_second\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f}\n",
	       clients, sent, atomic_load(&sh.acked), atomic_load(&sh.refused),
	       atomic_load(&sh.unanswered), atomic_load(&sh.reconnects),
	       atomic_load(&sh.timeouts), secs,
	       secs > 0 ? (double)atomic_load(&sh.acked) / secs : 0.0,
	       nall ? all[nall / 2] : 0.0,
	       nall ? all[(size_t)((double)(nall - 1) * 0.99)] : 0.0,
	       nall ? all[nall - 1] : 0.0);
	return atomic_load(&sh.acked) == sh.count ? 0 : 1;
}
