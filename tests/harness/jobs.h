/* The job tests' fixture: an arena with two registered agents, "producer"
 * and "worker", made fresh for each test. Setup and teardown have cmocka's
 * signature; setup aborts the test program when the fixture cannot be made. */
#ifndef ZR_TEST_JOBS_H
#define ZR_TEST_JOBS_H

#include "test.h"

struct zr_test_jobs {
	zr_arena *a;
	zr_agent *prod, *work;
	char name[64];
};
extern struct zr_test_jobs jt;

int zr_test_jobs_setup(void **state);
/* Unregister both agents, close and unlink the arena: 0, or the first error. */
int zr_test_jobs_teardown(void **state);

#endif
