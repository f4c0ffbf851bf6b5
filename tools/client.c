// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "htm/proto.h"

#include "client.h"

int htm_client_connect(struct htm_client *cl, const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };

	memset(cl, 0, sizeof(*cl));
	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, path);
	cl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (cl->fd < 0)
		return -errno;
	if (connect(cl->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int r = -errno;

		close(cl->fd);
		cl->fd = -1;
		return r;
	}
	return 0;
}

void htm_client_close(struct htm_client *cl)
{
	if (cl->fd >= 0)
		close(cl->fd);
	free(cl->buf);
	memset(cl, 0, sizeof(*cl));
	cl->fd = -1;
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

cJSON *htm_client_call(struct htm_client *cl, cJSON *req)
{
	char *text = cJSON_PrintUnformatted(req), *nl;
	cJSON *resp;
	size_t n;
	int r;

	cJSON_Delete(req);
	if (!text) {
		errno = ENOMEM;
		return NULL;
	}
	n = strlen(text);
	text[n] = '\0';
	r = send_all(cl->fd, text, n);
	if (r == 0)
		r = send_all(cl->fd, "\n", 1);
	free(text);
	if (r < 0) {
		errno = -r;
		return NULL;
	}
	for (;;) {
		nl = cl->len ? memchr(cl->buf, '\n', cl->len) : NULL;
		if (nl)
			break;
		if (cl->cap - cl->len < 65536) {
			char *p = realloc(cl->buf, cl->cap + 65536);

			if (!p) {
				errno = ENOMEM;
				return NULL;
			}
			cl->buf = p;
			cl->cap += 65536;
		}
		ssize_t got = recv(cl->fd, cl->buf + cl->len, cl->cap - cl->len, 0);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			errno = got == 0 ? ECONNRESET : errno;
			return NULL;
		}
		cl->len += (size_t)got;
	}
	resp = cJSON_ParseWithLength(cl->buf, (size_t)(nl - cl->buf));
	n = (size_t)(nl - cl->buf) + 1;
	memmove(cl->buf, cl->buf + n, cl->len - n);
	cl->len -= n;
	if (!resp)
		errno = EPROTO;
	return resp;
}
