/* Process-shared robust mutexes: used where a lock is simpler than a
 * lock-free scheme and rarely taken (ring directory, large-page heap). When
 * the holder dies, the next locker gets EOWNERDEAD and each caller repairs
 * what it guards (the structures under these locks are changed with single
 * atomic stores, so they are consistent at any instant). */
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "arena_impl.h"

void zri_robust_init(pthread_mutex_t *m)
{
	pthread_mutexattr_t at;
	pthread_mutexattr_init(&at);
	pthread_mutexattr_setpshared(&at, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&at, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(m, &at);
	pthread_mutexattr_destroy(&at);
}

int zri_robust_lock(pthread_mutex_t *m)
{
	/* Bounded: a mutex word scribbled by a buggy peer could name an owner
	 * that never existed, and then nobody would ever wake us. */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ZRI_LOCK_TIMEOUT_S;
	int rc = pthread_mutex_timedlock(m, &ts);
	if (rc == EOWNERDEAD) {
		pthread_mutex_consistent(m);
		return 1;
	}
	if (rc == ETIMEDOUT)
		return -ETIMEDOUT;
	return rc == 0 ? 0 : ZR_ECORRUPT; /* ENOTRECOVERABLE, EINVAL: a broken lock */
}

void zri_robust_unlock(pthread_mutex_t *m)
{
	pthread_mutex_unlock(m);
}
