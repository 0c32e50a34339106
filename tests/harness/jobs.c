#include "jobs.h"

struct zr_test_jobs jt;

static zr_agent *agent(const char *name)
{
	zr_agent *ag = NULL;
	int rc = zr_agent_register(jt.a, name, NULL, &ag);
	if (rc) {
		fprintf(stderr, "zr_test_jobs_setup: register %s: %s\n", name, zr_strerror(rc));
		abort();
	}
	return ag;
}

int zr_test_jobs_setup(void **state)
{
	(void)state;
	jt.a = zr_test_arena((size_t)8 << 20, jt.name);
	jt.prod = agent("producer");
	jt.work = agent("worker");
	return 0;
}

int zr_test_jobs_teardown(void **state)
{
	(void)state;
	zr_agent_unregister(jt.prod);
	zr_agent_unregister(jt.work);
	int rc = zr_arena_close(jt.a);
	int urc = zr_arena_unlink(jt.name);
	return rc ? rc : urc;
}
