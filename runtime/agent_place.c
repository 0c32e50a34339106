/* Pinning an agent's thread and recording where it went in the agent table. */
#include <string.h>

#include "job_impl.h"
#include "zring/place.h"

int zr_agent_place(zr_agent *ag, const zr_place_spec *spec, zr_placement *out, zr_diag *diag)
{
	zr_placement p;
	int rc = zr_place_self(spec, &p, diag);
	if (rc)
		return rc;
	zr_agent_place_info info = {p.numa_node, p.ncpus, {0}, {0}};
	_Static_assert(sizeof(info.cpus) == sizeof(p.cpus), "placement text sizes");
	_Static_assert(sizeof(info.note) == sizeof(p.note), "placement text sizes");
	memcpy(info.cpus, p.cpus, sizeof(info.cpus));
	memcpy(info.note, p.note, sizeof(info.note));
	zr_agent_set_place(ag, &info);
	if (out)
		*out = p;
	return 0;
}
