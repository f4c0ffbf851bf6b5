// SPDX-License-Identifier: MIT
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/queue.h>
#include <unistd.h>

#include "worker.h"

struct job {
	void (*work)(void *arg);
	void (*done)(void *arg);
	void *arg;
	STAILQ_ENTRY(job) link;
};

STAILQ_HEAD(job_list, job);

struct htm_worker {
	struct htm_loop *loop;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct job_list todo, finished;	/* under lock */
	bool stopping;
	unsigned pending;		/* submitted, done() not yet run */
	int efd;
	uint64_t counter;
	struct htm_loop_source src;
};

static void *worker_main(void *data)
{
	struct htm_worker *w = data;
	struct job *j;
	uint64_t one = 1;
	sigset_t all;

	/* signals belong to the loop's signalfd: a thread with them
	 * unblocked would take SIGTERM's default action for the process */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (STAILQ_EMPTY(&w->todo) && !w->stopping)
			pthread_cond_wait(&w->wake, &w->lock);
		j = STAILQ_FIRST(&w->todo);
		if (!j)
			break;	/* stopping and nothing left */
		STAILQ_REMOVE_HEAD(&w->todo, link);
		pthread_mutex_unlock(&w->lock);
		j->work(j->arg);
		pthread_mutex_lock(&w->lock);
		STAILQ_INSERT_TAIL(&w->finished, j, link);
		(void)!write(w->efd, &one, sizeof(one));
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static int efd_wait(struct htm_worker *w)
{
	struct io_uring_sqe *sqe = htm_loop_sqe(w->loop, &w->src);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_read(sqe, w->efd, &w->counter, sizeof(w->counter), 0);
	return 0;
}

static void efd_ready(struct htm_loop_source *src, int res, uint32_t fl)
{
	struct htm_worker *w = (struct htm_worker *)((char *)src -
		offsetof(struct htm_worker, src));
	struct job_list done = STAILQ_HEAD_INITIALIZER(done);
	struct job *j;

	(void)fl;
	if (res == -ECANCELED)
		return;
	pthread_mutex_lock(&w->lock);
	STAILQ_CONCAT(&done, &w->finished);
	pthread_mutex_unlock(&w->lock);
	while ((j = STAILQ_FIRST(&done))) {
		STAILQ_REMOVE_HEAD(&done, link);
		w->pending--;
		if (j->done)
			j->done(j->arg);
		free(j);
	}
	efd_wait(w);
}

int htm_worker_new(struct htm_worker **out, struct htm_loop *loop)
{
	struct htm_worker *w = calloc(1, sizeof(*w));
	int r;

	if (!w)
		return -ENOMEM;
	w->loop = loop;
	STAILQ_INIT(&w->todo);
	STAILQ_INIT(&w->finished);
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	w->src.fn = efd_ready;
	w->efd = eventfd(0, EFD_CLOEXEC);
	if (w->efd < 0) {
		r = -errno;
		goto fail;
	}
	r = -pthread_create(&w->thread, NULL, worker_main, w);
	if (r < 0)
		goto fail;
	r = efd_wait(w);
	if (r < 0) {
		htm_worker_free(w);
		return r;
	}
	*out = w;
	return 0;
fail:
	if (w->efd >= 0)
		close(w->efd);
	free(w);
	return r;
}

void htm_worker_free(struct htm_worker *w)
{
	struct job *j;

	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	while ((j = STAILQ_FIRST(&w->finished))) {
		STAILQ_REMOVE_HEAD(&w->finished, link);
		free(j);
	}
	close(w->efd);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->wake);
	free(w);
}

int htm_worker_submit(struct htm_worker *w, void (*work)(void *arg),
		      void (*done)(void *arg), void *arg)
{
	struct job *j = calloc(1, sizeof(*j));

	if (!j)
		return -ENOMEM;
	j->work = work;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&w->lock);
	STAILQ_INSERT_TAIL(&w->todo, j, link);
	w->pending++;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	return 0;
}

unsigned htm_worker_pending(const struct htm_worker *w)
{
	return w->pending;
}
