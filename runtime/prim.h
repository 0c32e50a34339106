/* Operating-system primitives behind one small interface (Linux). */
#ifndef ZR_PRIM_H
#define ZR_PRIM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

static inline void zri_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

uint64_t zri_now_ns(void);	/* CLOCK_MONOTONIC */
uint64_t zri_realtime_ns(void); /* CLOCK_REALTIME */

/* Sleep while *word == expected, at most timeout_ns (< 0: no limit).
 * Returns 0 (woken or value changed), -ETIMEDOUT or -EINTR. Shared futex. */
int zri_futex_wait(_Atomic uint32_t *word, uint32_t expected, int64_t timeout_ns);
void zri_futex_wake(_Atomic uint32_t *word, int count);

/* Start time of a process in clock ticks since boot (field 22 of
 * /proc/PID/stat), or 0 if it does not exist or is a zombie. */
uint64_t zri_proc_start_time(uint32_t pid);

/* Is `pid` alive and, if start != 0, the same process that had that start? */
bool zri_pid_alive(uint32_t pid, uint64_t start);

/* Free bytes for unprivileged users in the filesystem holding `path`, and
 * its block size (the page size mappings of its files must be made of). */
int zri_fs_free_bytes(const char *path, uint64_t *out, uint64_t *page);

#endif
