/* Human forms of sizes, durations, counts and times for the text output.
 * Every function writes into the caller's buffer and returns it. */
#include <pwd.h>
#include <time.h>

#include "cli.h"

uint64_t cli_now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t cli_now_real(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

const char *fmt_bytes(char *buf, size_t cap, uint64_t v)
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double x = (double)v;
	unsigned u = 0;
	while (x >= 1024 && u < 4) {
		x /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, cap, "%llu B", (unsigned long long)v);
	else
		snprintf(buf, cap, "%.*f %s", x < 10 ? 2 : x < 100 ? 1 : 0, x, unit[u]);
	return buf;
}

const char *fmt_dur(char *buf, size_t cap, uint64_t ns)
{
	double x = (double)ns;
	if (ns < 1000)
		snprintf(buf, cap, "%llu ns", (unsigned long long)ns);
	else if (ns < 1000000)
		snprintf(buf, cap, "%.*f us", x < 1e4 ? 2 : 1, x / 1e3);
	else if (ns < 1000000000)
		snprintf(buf, cap, "%.*f ms", x < 1e7 ? 2 : 1, x / 1e6);
	else if (ns < 120ull * 1000000000)
		snprintf(buf, cap, "%.*f s", x < 1e10 ? 2 : 1, x / 1e9);
	else if (ns < 7200ull * 1000000000)
		snprintf(buf, cap, "%.1f min", x / 6e10);
	else if (ns < 172800ull * 1000000000)
		snprintf(buf, cap, "%.1f h", x / 3.6e12);
	else
		snprintf(buf, cap, "%.1f d", x / 8.64e13);
	return buf;
}

const char *fmt_count(char *buf, size_t cap, double v)
{
	if (v < 10000)
		snprintf(buf, cap, "%.0f", v);
	else if (v < 1e6)
		snprintf(buf, cap, "%.1fk", v / 1e3);
	else if (v < 1e9)
		snprintf(buf, cap, "%.2fM", v / 1e6);
	else
		snprintf(buf, cap, "%.2fG", v / 1e9);
	return buf;
}

const char *fmt_rate(char *buf, size_t cap, double per_s, bool have)
{
	if (!have)
		return snprintf(buf, cap, "-"), buf;
	char n[32];
	snprintf(buf, cap, "%s/s", fmt_count(n, sizeof(n), per_s));
	return buf;
}

const char *fmt_age(char *buf, size_t cap, uint64_t stamp_ns, uint64_t now_ns)
{
	if (stamp_ns == 0)
		return snprintf(buf, cap, "-"), buf;
	return fmt_dur(buf, cap, now_ns > stamp_ns ? now_ns - stamp_ns : 0);
}

const char *fmt_user(char *buf, size_t cap, uint32_t uid)
{
	struct passwd pw, *res = NULL;
	char tmp[1024];
	if (getpwuid_r(uid, &pw, tmp, sizeof(tmp), &res) == 0 && res)
		snprintf(buf, cap, "%s", res->pw_name);
	else
		snprintf(buf, cap, "%u", uid);
	return buf;
}

const char *fmt_time(char *buf, size_t cap, uint64_t realtime_ns)
{
	time_t t = (time_t)(realtime_ns / 1000000000u);
	struct tm tm;
	if (!localtime_r(&t, &tm) || !strftime(buf, cap, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, cap, "?");
	return buf;
}
