// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "htm/proto.h"

#include "api.h"
#include "core/proto.h"
#include "log.h"

#define RECV_CHUNK	(64u * 1024)
/* A client that does not read its replies stops being read from. */
#define MAX_QUEUED_OUT	(8u << 20)
#define MAX_CONNS	1024

struct out_buf {
	char *data;
	size_t len, off;
};

struct htm_conn {
	struct htm_api *api;
	int fd;
	struct ucred cred;
	struct htm_loop_source recv_src, send_src;
	char *in;
	size_t in_len, in_cap;
	bool discarding;		/* skipping the rest of an oversized line */
	bool awaiting_reply;		/* a request is with the daemon */
	bool eof, closing;
	bool pumping;			/* inside conn_pump: no re-entry */
	struct out_buf sending, queued;
	LIST_ENTRY(htm_conn) link;
};

struct htm_api {
	struct htm_loop *loop;
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct htm_loop_source accept_src;
	int lock_fd;			/* flock on "<path>.lock" */
	const struct htm_api_ops *ops;
	void *data;
	LIST_HEAD(, htm_conn) conns;
	unsigned nconns;
};

static void conn_recv_done(struct htm_loop_source *src, int res, uint32_t fl);
static void conn_send_done(struct htm_loop_source *src, int res, uint32_t fl);
static void conn_pump(struct htm_conn *c);

static void conn_free(struct htm_conn *c)
{
	LIST_REMOVE(c, link);
	c->api->nconns--;
	close(c->fd);
	free(c->in);
	free(c->sending.data);
	free(c->queued.data);
	free(c);
}

/* Start closing: tell the daemon, wake pending I/O; freed when idle. */
static void conn_close(struct htm_conn *c)
{
	if (!c->closing) {
		c->closing = true;
		if (c->api->ops->closed)
			c->api->ops->closed(c->api->data, c);
		shutdown(c->fd, SHUT_RDWR);
		htm_loop_cancel(c->api->loop, &c->recv_src);
		htm_loop_cancel(c->api->loop, &c->send_src);
	}
	/* the pump frees it on its way out, never under its feet */
	if (!c->pumping && !c->recv_src.inflight && !c->send_src.inflight)
		conn_free(c);
}

static void conn_send_next(struct htm_conn *c)
{
	struct io_uring_sqe *sqe;
	struct out_buf tmp;

	if (c->send_src.inflight || c->closing)
		return;
	if (c->sending.off == c->sending.len) {
		if (!c->queued.len)
			return;
		tmp = c->sending;
		c->sending = c->queued;
		tmp.len = tmp.off = 0;
		c->queued = tmp;
	}
	sqe = htm_loop_sqe(c->api->loop, &c->send_src);
	if (!sqe) {
		conn_close(c);
		return;
	}
	io_uring_prep_send(sqe, c->fd, c->sending.data + c->sending.off,
			   c->sending.len - c->sending.off, MSG_NOSIGNAL);
}

static void conn_send_done(struct htm_loop_source *src, int res, uint32_t fl)
{
	struct htm_conn *c = (struct htm_conn *)((char *)src -
						 offsetof(struct htm_conn, send_src));

	(void)fl;
	if (c->closing || res <= 0) {
		conn_close(c);
		return;
	}
	c->sending.off += (size_t)res;
	if (c->sending.off == c->sending.len)
		c->sending.off = c->sending.len = 0;
	conn_send_next(c);
	/* draining may lift backpressure */
	conn_pump(c);
}

static int out_append(struct out_buf *b, const char *s, size_t n)
{
	char *p;

	p = realloc(b->data, b->len + n + 1);
	if (!p)
		return -ENOMEM;
	memcpy(p + b->len, s, n);
	p[b->len + n] = '\n';
	b->data = p;
	b->len += n + 1;
	return 0;
}

int htm_conn_reply(struct htm_conn *c, cJSON *response)
{
	char *text = response ? cJSON_PrintUnformatted(response) : NULL;
	int r = 0;

	cJSON_Delete(response);
	c->awaiting_reply = false;
	if (!text) {
		/* out of memory: a reply we can build without allocating */
		static const char oom[] = "{\"v\":1,\"ok\":false,\"error\":"
			"{\"code\":\"internal\",\"message\":\"out of memory\"}}";
		r = out_append(&c->queued, oom, sizeof(oom) - 1);
	} else {
		r = out_append(&c->queued, text, strlen(text));
		free(text);
	}
	if (r < 0) {
		conn_close(c);
		return r;
	}
	if (!c->closing) {
		conn_send_next(c);
		/* from inside the request callback this returns at once:
		 * the running pump carries on */
		conn_pump(c);
	}
	return 0;
}

const struct ucred *htm_conn_cred(const struct htm_conn *c)
{
	return &c->cred;
}

int htm_conn_groups(const struct htm_conn *c, gid_t *groups, int max)
{
	socklen_t len = (socklen_t)((size_t)max * sizeof(gid_t));

	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
		return -errno;
	return (int)(len / sizeof(gid_t));
}

static void conn_reply_error(struct htm_conn *c, const char *code,
			     const char *msg)
{
	c->awaiting_reply = true;
	htm_conn_reply(c, htm_response_error(code, msg));
}

/* Hand complete lines to the daemon, one at a time, then read more. */
static void conn_consume_lines(struct htm_conn *c)
{
	char *nl, msg[128];
	size_t used, len;

	snprintf(msg, sizeof(msg), "request line longer than %u bytes",
		 HTM_MAX_LINE);
	while (!c->closing && !c->awaiting_reply &&
	       c->queued.len < MAX_QUEUED_OUT && c->in_len) {
		nl = memchr(c->in, '\n', c->in_len);
		if (!nl) {
			if (c->discarding) {
				c->in_len = 0;
			} else if (c->in_len > HTM_MAX_LINE) {
				c->discarding = true;
				c->in_len = 0;
				conn_reply_error(c, HTM_ERR_TOO_LARGE, msg);
			}
			return;
		}
		used = (size_t)(nl - c->in) + 1;
		len = used - 1;
		if (len && c->in[len - 1] == '\r')
			len--;
		if (c->discarding) {
			c->discarding = false;
		} else if (used - 1 > HTM_MAX_LINE) {
			conn_reply_error(c, HTM_ERR_TOO_LARGE, msg);
		} else if (len) {
			c->awaiting_reply = true;
			c->api->ops->request(c->api->data, c, c->in, len);
		}
		memmove(c->in, c->in + used, c->in_len - used);
		c->in_len -= used;
	}
}

static void conn_recv_next(struct htm_conn *c)
{
	struct io_uring_sqe *sqe;
	char *p;

	/* keep reading (to notice EOF during a deferred reply) within bounds */
	if (c->recv_src.inflight || c->in_len >= HTM_MAX_LINE + RECV_CHUNK)
		return;
	if (c->in_cap - c->in_len < RECV_CHUNK) {
		p = realloc(c->in, c->in_len + RECV_CHUNK);
		if (!p) {
			conn_close(c);
			return;
		}
		c->in = p;
		c->in_cap = c->in_len + RECV_CHUNK;
	}
	sqe = htm_loop_sqe(c->api->loop, &c->recv_src);
	if (!sqe) {
		conn_close(c);
		return;
	}
	io_uring_prep_recv(sqe, c->fd, c->in + c->in_len, RECV_CHUNK, 0);
}

static void conn_pump(struct htm_conn *c)
{
	if (c->pumping)
		return;
	c->pumping = true;
	conn_consume_lines(c);
	if (!c->closing && c->eof) {
		/* the peer is done sending; close once every reply is out */
		if (!c->awaiting_reply && !c->send_src.inflight &&
		    !c->queued.len && c->sending.off == c->sending.len)
			conn_close(c);
	} else if (!c->closing) {
		conn_recv_next(c);
	}
	c->pumping = false;
	if (c->closing)
		conn_close(c);
}

static void conn_recv_done(struct htm_loop_source *src, int res, uint32_t fl)
{
	struct htm_conn *c = (struct htm_conn *)((char *)src -
						 offsetof(struct htm_conn, recv_src));

	(void)fl;
	if (c->closing || (res < 0 && res != -EINTR && res != -EAGAIN)) {
		conn_close(c);
		return;
	}
	if (res == 0)
		c->eof = true;
	else if (res > 0)
		c->in_len += (size_t)res;
	conn_pump(c);
}

static int api_accept_next(struct htm_api *a);

static void api_accept_done(struct htm_loop_source *src, int res, uint32_t fl)
{
	struct htm_api *a = (struct htm_api *)((char *)src -
					       offsetof(struct htm_api, accept_src));
	socklen_t len = sizeof(struct ucred);
	struct htm_conn *c;

	(void)fl;
	if (res < 0) {
		if (res != -ECANCELED)
			htm_log(LOG_WARNING, "accept: %s, ignoring", strerror(-res));
		goto next;
	}
	if (a->nconns >= MAX_CONNS) {
		static const char busy[] = "{\"v\":1,\"ok\":false,\"error\":{\"code\":"
			"\"internal\",\"message\":\"too many connections\"}}\n";
		/* non-blocking best effort: the socket buffer is empty */
		(void)!send(res, busy, sizeof(busy) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
		close(res);
		goto next;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(res);
		goto next;
	}
	c->api = a;
	c->fd = res;
	c->recv_src.fn = conn_recv_done;
	c->send_src.fn = conn_send_done;
	if (getsockopt(res, SOL_SOCKET, SO_PEERCRED, &c->cred, &len) < 0) {
		/* without credentials nobody can be trusted: refuse */
		close(res);
		free(c);
		goto next;
	}
	LIST_INSERT_HEAD(&a->conns, c, link);
	a->nconns++;
	conn_pump(c);
next:
	if (res != -ECANCELED)
		api_accept_next(a);
}

static int api_accept_next(struct htm_api *a)
{
	struct io_uring_sqe *sqe = htm_loop_sqe(a->loop, &a->accept_src);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_accept(sqe, a->fd, NULL, NULL, SOCK_CLOEXEC);
	return 0;
}

/*
 * Own the socket path through an flock on "<path>.lock": the kernel drops
 * it the moment its holder dies, even by SIGKILL, whereas a dead daemon's
 * listening socket keeps accepting connections until its io_uring is torn
 * down. Holding the lock, a leftover socket is ours to replace; anything
 * that is not a socket is never deleted.
 */
static int socket_take_over(struct htm_api *a, const char *path)
{
	char lock[sizeof(a->path) + 8];
	struct stat st;

	snprintf(lock, sizeof(lock), "%s.lock", path);
	a->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (a->lock_fd < 0)
		return -errno;
	if (flock(a->lock_fd, LOCK_EX | LOCK_NB) < 0)
		return errno == EWOULDBLOCK ? -EADDRINUSE : -errno;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -ENOTSOCK;
	return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}

static int mkdir_parent(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];

	snprintf(dir, sizeof(dir), "%s", path);
	if (mkdir(dirname(dir), 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int htm_api_new(struct htm_api **out, struct htm_loop *l, const char *path,
		const struct htm_api_ops *ops, void *data)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct htm_api *a;
	int r;

	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->fd = a->lock_fd = -1;
	a->loop = l;
	a->ops = ops;
	a->data = data;
	a->accept_src.fn = api_accept_done;
	LIST_INIT(&a->conns);
	snprintf(a->path, sizeof(a->path), "%s", path);

	r = mkdir_parent(path);
	if (r < 0)
		goto fail;
	r = socket_take_over(a, path);
	if (r < 0)
		goto fail;
	a->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (a->fd < 0) {
		r = -errno;
		goto fail;
	}
	if (bind(a->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    chmod(path, 0666) < 0 || listen(a->fd, 128) < 0) {
		/* anyone may connect: SO_PEERCRED decides what they may do */
		r = -errno;
		goto fail;
	}
	r = api_accept_next(a);
	if (r < 0)
		goto fail;
	*out = a;
	return 0;
fail:
	if (a->fd >= 0) {
		close(a->fd);
		unlink(a->path);
	}
	if (a->lock_fd >= 0)
		close(a->lock_fd);
	free(a);
	return r;
}

void htm_api_free(struct htm_api *a)
{
	struct htm_conn *c;

	if (!a)
		return;
	/* called after the ring is gone: no operation is in flight any more */
	while ((c = LIST_FIRST(&a->conns)))
		conn_free(c);
	close(a->fd);
	unlink(a->path);
	close(a->lock_fd);
	free(a);
}

bool htm_api_flushed(const struct htm_api *a)
{
	const struct htm_conn *c;

	LIST_FOREACH(c, &a->conns, link)
		if (!c->closing && (c->send_src.inflight || c->queued.len ||
				    c->sending.off != c->sending.len))
			return false;
	return true;
}

unsigned htm_api_connections(const struct htm_api *a)
{
	return a->nconns;
}
