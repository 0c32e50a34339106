/* Linux implementations of runtime/prim.h. */
#include "prim.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t zri_now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t zri_realtime_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

int zri_futex_wait(_Atomic uint32_t *word, uint32_t expected, int64_t timeout_ns)
{
	struct timespec ts, *tsp = NULL;
	if (timeout_ns >= 0) {
		ts.tv_sec = (time_t)(timeout_ns / 1000000000);
		ts.tv_nsec = (long)(timeout_ns % 1000000000);
		tsp = &ts;
	}
	/* FUTEX_WAIT (not _PRIVATE): the word is in memory shared between processes. */
	long rc = syscall(SYS_futex, (void *)word, FUTEX_WAIT, expected, tsp, NULL, 0);
	if (rc == 0 || errno == EAGAIN)
		return 0;
	return errno == ETIMEDOUT ? -ETIMEDOUT : errno == EINTR ? -EINTR : 0;
}

void zri_futex_wake(_Atomic uint32_t *word, int count)
{
	syscall(SYS_futex, (void *)word, FUTEX_WAKE, count, NULL, NULL, 0);
}

/* Does the thread group `pid` have a thread that is not a zombie? */
static bool has_live_thread(uint32_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%u/task", pid);
	DIR *d = opendir(path);
	if (!d)
		return false;
	bool live = false;
	struct dirent *de;
	while (!live && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%u/task/%.16s/stat", pid, de->d_name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
		if (fd >= 0)
			close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		const char *q = strrchr(buf, ')');
		live = q && q[1] == ' ' && q[2] != 'Z' && q[2] != 'X';
	}
	closedir(d);
	return live;
}

uint64_t zri_proc_start_time(uint32_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: fields resume after the last ')'. */
	char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return 0;
	p += 2;
	/* a zombie leader with live threads is a running process (its main
	 * thread called pthread_exit); a zombie without is dead */
	if ((*p == 'Z' || *p == 'X') && !has_live_thread(pid))
		return 0;
	/* p is at field 3 (state); start time is field 22. */
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			return 0;
		p++;
	}
	unsigned long long start = strtoull(p, NULL, 10);
	return start ? (uint64_t)start : 1; /* never 0 for a live process */
}

bool zri_pid_alive(uint32_t pid, uint64_t start)
{
	if (pid == 0)
		return false;
	uint64_t now = zri_proc_start_time(pid);
	if (now == 0)
		return false;
	return start == 0 || now == start;
}

int zri_fs_free_bytes(const char *path, uint64_t *out, uint64_t *page)
{
	struct statvfs sv;
	if (statvfs(path, &sv) != 0)
		return -errno;
	*out = (uint64_t)sv.f_bavail * sv.f_frsize;
	*page = sv.f_bsize; /* the huge page size on hugetlbfs */
	return 0;
}
