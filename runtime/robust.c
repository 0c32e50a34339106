/* Process-shared robust mutexes: used where a lock is simpler than a
 * lock-free scheme and rarely taken (ring directory, large-page heap). When
 * the holder dies, the next locker gets EOWNERDEAD and each caller repairs
 * what it guards (the structures under these locks are changed with single
 * atomic stores, so they are consistent at any instant). */
#include <errno.h>
#include <pthread.h>

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
	int rc = pthread_mutex_lock(m);
	if (rc == EOWNERDEAD) {
		pthread_mutex_consistent(m);
		return 1;
	}
	return 0;
}

void zri_robust_unlock(pthread_mutex_t *m)
{
	pthread_mutex_unlock(m);
}
