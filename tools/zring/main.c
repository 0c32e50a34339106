/* zring: inspect live zring arenas. See `zring --help` and README.md here.
 * Every command attaches read-only and never blocks, writes or locks an
 * arena; each takes --help and --json. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* clang-format off */
const struct cli_cmd cli_commands[] = {
	{"ls", cmd_ls, "", "list the arenas of this host",
	 "Arenas in /dev/shm and file-backed ones (registered at creation): size,\n"
	 "owner, creator, processes and agents alive/dead, jobs pending (and\n"
	 "delayed). 'stale' marks arenas whose processes are all dead.\n", "json"},
	{"stat", cmd_stat, "ARENA", "header, rings, inboxes, payloads, jobs, agents, latency",
	 "One look at an arena, led by what looks wrong ('health'). Rates are\n"
	 "measured between two samples --interval apart (default 0.5 s; 0 for\n"
	 "none). --prometheus prints the counters in the Prometheus text format\n"
	 "(no sampling); without ARENA it covers every readable arena.\n",
	 "json,interval,prometheus"},
	{"top", cmd_top, "ARENA", "stat, refreshed live with rates per second",
	 "Redraws every --interval (default 1 s). Keys: q quits, any other key\n"
	 "redraws now. Without a terminal it prints frames one after another;\n"
	 "--iterations N stops after N frames. --json prints one stat object per\n"
	 "frame, one per line (command \"top\").\n", "json,interval,iterations"},
	{"jobs", cmd_jobs, "ARENA", "list jobs, highest priority and oldest first",
	 "Filters: --status S[,S] (pending, delayed, processing, completed, failed,\n"
	 "cancelled, expired, building), --agent NAME|ID (source, target or holder),\n"
	 "--priority P[,P] (critical, high, normal, low); --limit N (default 50).\n",
	 "json,status,agent,priority,limit"},
	{"job", cmd_job, "ARENA ID", "one job in full, with its payload's first bytes",
	 "ID is the number `zring jobs` shows (decimal or 0x-hex) or the job's UUID.\n"
	 "--bytes N shows N bytes of payload and result (default 64, at most 4096).\n",
	 "json,bytes"},
	{"dlq", cmd_dlq, "ARENA", "dead letters: jobs failed for good, with their errors",
	 "Filters as for jobs (--agent, --priority, --limit).\n", "json,agent,priority,limit"},
	{"ring", cmd_ring, "ARENA NAME", "the entries now in a ring or inbox, oldest first",
	 "NAME as `zring stat` lists it (inboxes: zr.shared, zr.in.AGENT). Entries\n"
	 "of the job queues are shown with their job's status and age. A snapshot:\n"
	 "entries move while it is read. --limit N entries per level (default 64).\n",
	 "json,limit"},
	{"agents", cmd_agents, "ARENA", "agents: process, placement, heartbeat, counters, latency",
	 "Liveness is judged now: an agent whose process died is shown dead even\n"
	 "before recovery marked it.\n", "json"},
	{"check", cmd_check, "ARENA", "check the arena's invariants; exit 3 on violations",
	 "Header and section table, process table, every ring and its slots, the\n"
	 "payload metadata, the agent and job tables. Safe on a live arena: only\n"
	 "states no writer can produce are reported, each with where it is.\n", "json"},
	{"gc", cmd_gc, "", "remove stale arenas (asks first)",
	 "Lists arenas whose processes are all dead and removes them after asking\n"
	 "on the terminal. --yes removes without asking; --dry-run only lists.\n"
	 "An arena a process attached to meanwhile is kept.\n", "json,yes,dry-run"},
	{"checkpoint", cmd_checkpoint, "ARENA", "write a checkpoint of a live arena to --dir",
	 "Copies the arena (read-only, while it runs) into the checkpoint directory:\n"
	 "chunks zstd-compressed and XXH3-checksummed, stored once by content.\n"
	 "--kind full|incremental|differential (default incremental: only chunks\n"
	 "changed since the last checkpoint), --level 1..19 (zstd, default 3),\n"
	 "--threads N, --keep N (retention: keep the newest N; journal segments\n"
	 "older than the oldest kept checkpoint are removed).\n",
	 "json,dir,kind,level,threads,keep"},
	{"restore", cmd_restore, "NAME", "rebuild an arena from --dir and/or --journal",
	 "Creates arena NAME from the newest checkpoint that verifies (or --seq N)\n"
	 "and the journal replayed from its LSN. Damage is reported and skipped:\n"
	 "a checkpoint that fails is passed over; journal corruption rolls the\n"
	 "state back to the record before it. Jobs that were processing become\n"
	 "pending again. The new arena journals to --journal (--durability none|\n"
	 "async|sync, default async) and gets a full checkpoint in --dir unless\n"
	 "--no-checkpoint. Exit 3 when damage was found (the arena is made all\n"
	 "the same).\n",
	 "json,dir,journal,seq,durability,no-checkpoint"},
	{"verify", cmd_verify, "DIR", "check every checksum of a journal or checkpoint directory",
	 "Reads every journal segment and record, and every checkpoint manifest and\n"
	 "chunk in DIR; lists each problem with its file and offset. Exit 3 when\n"
	 "anything is damaged, 4 when DIR holds neither.\n", "json"},
	{"journal", cmd_journal, "dump DIR", "print the records of a journal, in LSN order",
	 "One line per record: LSN, stream, time, event, job and what the event\n"
	 "left. --from LSN starts there; --limit N stops after N records. Damaged\n"
	 "records are reported on stderr and skipped.\n", "json,from,limit"},
	{NULL, NULL, NULL, NULL, NULL, NULL},
};
/* clang-format on */

static const char exit_codes[] =
	"exit status:\n"
	"  0  success\n"
	"  1  error: the arena cannot be read (not zring's, truncated, another version,\n"
	"     permission) or a system error\n"
	"  2  usage: bad command line\n"
	"  3  the arena is corrupt: `check` found violations, a read faulted, or it is\n"
	"     poisoned; or a journal or checkpoint is damaged (verify, restore)\n"
	"  4  not found: no such arena, ring, job or agent\n";

static void usage(FILE *f)
{
	fprintf(f, "usage: zring COMMAND [options] [args]\n\n"
		   "Inspect live zring arenas (read-only; never blocks or writes them);\n"
		   "checkpoint, restore and verify their persistent copies.\n\n"
		   "commands:\n");
	for (const struct cli_cmd *c = cli_commands; c->name; c++)
		fprintf(f, "  %-10s %-10s %s\n", c->name, c->args, c->summary);
	fprintf(f,
		"\nARENA is a name in /dev/shm, or a path for a file-backed arena.\n"
		"Every command takes --help and --json (one object; key \"schema\" is\n"
		"\"%s\").\n\n%s",
		CLI_SCHEMA, exit_codes);
}

static const struct {
	const char *key, *text;
} option_help[] = {
	{"json", "--json            one JSON object (schema " CLI_SCHEMA ")"},
	{"interval", "--interval S      seconds between samples"},
	{"iterations", "--iterations N    frames to draw, then exit"},
	{"prometheus", "--prometheus      Prometheus text format"},
	{"status", "--status S[,S]    only jobs in these statuses"},
	{"agent", "--agent A         only jobs of this agent (name or id)"},
	{"priority", "--priority P[,P]  only jobs of these priorities"},
	{"limit", "--limit N         rows to show"},
	{"bytes", "--bytes N         payload bytes to show"},
	{"yes", "--yes             do not ask"},
	{"dry-run", "--dry-run         only list"},
	{"dir", "--dir D           checkpoint directory"},
	{"journal", "--journal D       journal directory"},
	{"kind", "--kind K          full, incremental or differential"},
	{"level", "--level N         zstd level"},
	{"threads", "--threads N       compression threads"},
	{"keep", "--keep N          checkpoints to keep"},
	{"seq", "--seq N           this checkpoint, not the newest"},
	{"durability", "--durability M    none, async or sync"},
	{"no-checkpoint", "--no-checkpoint   no checkpoint of the result"},
	{"from", "--from LSN        first LSN"},
};

static bool takes(const struct cli_cmd *c, const char *key)
{
	size_t n = strlen(key);
	for (const char *p = c->options; (p = strstr(p, key)) != NULL; p += n)
		if ((p == c->options || p[-1] == ',') && (p[n] == ',' || p[n] == 0))
			return true;
	return false;
}

static void command_help(const struct cli_cmd *c)
{
	printf("usage: zring %s [options] %s\n\n%s.\n\n%s\noptions:\n", c->name, c->args,
	       c->summary, c->help);
	for (size_t i = 0; i < sizeof(option_help) / sizeof(option_help[0]); i++)
		if (takes(c, option_help[i].key))
			printf("  %s\n", option_help[i].text);
	printf("  --help            this text\n\n%s", exit_codes);
}

static bool parse_number(const char *s, double lo, double hi, double *out)
{
	char *end = NULL;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("zring %s (library %s)\n", ZR_VERSION_STRING, zr_version());
		return EXIT_OK;
	}
	const struct cli_cmd *cmd = cli_commands;
	while (cmd->name && strcmp(cmd->name, argv[1]))
		cmd++;
	if (!cmd->name) {
		fprintf(stderr, "zring: no command '%s'\n\n", argv[1]);
		usage(stderr);
		return EXIT_USAGE;
	}
	static const struct option longopts[] = {
		{"help", no_argument, NULL, 'h'},
		{"json", no_argument, NULL, 'j'},
		{"interval", required_argument, NULL, 'i'},
		{"iterations", required_argument, NULL, 'n'},
		{"prometheus", no_argument, NULL, 'p'},
		{"status", required_argument, NULL, 's'},
		{"agent", required_argument, NULL, 'a'},
		{"priority", required_argument, NULL, 'P'},
		{"limit", required_argument, NULL, 'l'},
		{"bytes", required_argument, NULL, 'b'},
		{"yes", no_argument, NULL, 'y'},
		{"dry-run", no_argument, NULL, 'd'},
		{"dir", required_argument, NULL, 'D'},
		{"journal", required_argument, NULL, 'J'},
		{"kind", required_argument, NULL, 'K'},
		{"level", required_argument, NULL, 'L'},
		{"threads", required_argument, NULL, 'T'},
		{"keep", required_argument, NULL, 'k'},
		{"seq", required_argument, NULL, 'S'},
		{"durability", required_argument, NULL, 'u'},
		{"no-checkpoint", no_argument, NULL, 'N'},
		{"from", required_argument, NULL, 'f'},
		{NULL, 0, NULL, 0},
	};
	struct cli_opts o = {.interval_s = 0.5};
	if (!strcmp(cmd->name, "top"))
		o.interval_s = 1.0;
	optind = 2;
	opterr = 0;
	int c;
	double v;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		const char *name = NULL;
		for (const struct option *p = longopts; p->name; p++)
			if (p->val == c)
				name = p->name;
		if (c == 'h') {
			command_help(cmd);
			return EXIT_OK;
		}
		if (c == '?' || !name || !takes(cmd, name)) {
			fprintf(stderr, "zring %s: unknown option '%s'\n", cmd->name,
				argv[optind - 1]);
			fprintf(stderr, "see zring %s --help\n", cmd->name);
			return EXIT_USAGE;
		}
		bool ok = true;
		switch (c) {
		case 'j': o.json = true; break;
		case 'p': o.prometheus = true; break;
		case 'y': o.yes = true; break;
		case 'd': o.dry_run = true; break;
		case 's': o.status = optarg; break;
		case 'a': o.agent = optarg; break;
		case 'P': o.priority = optarg; break;
		case 'i': ok = parse_number(optarg, 0, 3600, &o.interval_s); break;
		case 'n':
			ok = parse_number(optarg, 1, 1e9, &v);
			o.iterations = (long)v;
			break;
		case 'l':
			ok = parse_number(optarg, 1, 1e8, &v);
			o.limit = (long)v;
			break;
		case 'b':
			ok = parse_number(optarg, 1, 4096, &v);
			o.bytes = (long)v;
			break;
		case 'D': o.dir = optarg; break;
		case 'J': o.journal = optarg; break;
		case 'K': o.kind = optarg; break;
		case 'u': o.durability = optarg; break;
		case 'N': o.no_checkpoint = true; break;
		case 'L':
			ok = parse_number(optarg, 1, 19, &v);
			o.level = (int)v;
			break;
		case 'T':
			ok = parse_number(optarg, 1, 64, &v);
			o.threads = (uint32_t)v;
			break;
		case 'k':
			ok = parse_number(optarg, 1, 1e6, &v);
			o.keep = (uint32_t)v;
			break;
		case 'S':
			ok = parse_number(optarg, 1, 1.8e19, &v);
			o.seq = (uint64_t)v;
			break;
		case 'f':
			ok = parse_number(optarg, 0, 1.8e19, &v);
			o.from = (uint64_t)v;
			break;
		}
		if (!ok) {
			fprintf(stderr, "zring %s: bad value '%s' for --%s\n", cmd->name, optarg,
				name);
			return EXIT_USAGE;
		}
	}
	if (o.json && o.prometheus)
		return cli_fail(EXIT_USAGE, "stat: --json and --prometheus exclude each other");
	o.argc = argc - optind;
	o.argv = argv + optind;
	return cmd->run(&o);
}
