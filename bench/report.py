#!/usr/bin/python3
"""Turn the benchmark programs' Google Benchmark JSON into one report.

    report.py --out DIR [--title T] [--command CMD] FILE.json...

Each FILE.json is what one program (bench_rings, bench_job, bench_bounds,
bench_peers, bench_iceoryx, ...) wrote with --benchmark_out=FILE
--benchmark_out_format=json, with or without --benchmark_repetitions and
--benchmark_enable_random_interleaving. DIR receives:

  results.json  every result, normalised (schema "zring-bench/1")
  results.md    the tables: round-trip percentiles by payload size, each
                against the cache-line ping-pong floor, throughputs, and every
                peer or bound against zring's matching row
  latency.png   cross-process round trip by payload size (needs matplotlib;
                without it the plot is skipped, loudly, and the rest written)

Names follow bench/README.md: <group>/impl:<impl>[/<param>:<value>...];
what Google Benchmark appends (/iterations:N, /repeats:N, /real_time) is
dropped, /threads:N kept as a parameter. Other names go, unchanged, into a
final "other" table. When a benchmark has a "median" aggregate it is used,
counters included, and the repetitions' minimum and maximum are kept beside
it. An entry with error_occurred is an error, or a skipped peer when its
message starts with "skipped:"; both are listed, never dropped.

Why ratios and not times: on the development VM the cache-line round trip
drifts between 65 and 330 ns from one second to the next, so every ratio is
taken between results of the same run, and the floor (rt/impl:pingpong) is
the one the same program measured whenever it measured one.

Exit status: 0 when the report is written (also when only the plot was
skipped), 1 when an input could not be parsed (the report is still written,
with that input listed as an error), 2 for bad arguments.
"""

import argparse
import json
import math
import os
import platform
import statistics
import sys
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

SCHEMA = "zring-bench/1"

# Differences smaller than this are noise on the development VM
# (bench/RESULTS.md): a ratio inside [1/(1+NOISE), 1+NOISE] is called "≈ same".
NOISE = 0.15

TIME_UNIT_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}

# What Google Benchmark appends to a name. threads:N is kept as a parameter:
# it changes what is measured.
GB_FLAGS = {"real_time", "manual_time", "process_time"}
GB_KEYS = {"iterations", "repeats", "min_time", "min_warmup_time"}

# Keys of a benchmark entry that describe the run; every other number is a
# user counter (items_per_second and bytes_per_second included).
ENTRY_KEYS = {
    "name", "run_name", "run_type", "repetitions", "repetition_index", "threads",
    "family_index", "per_family_instance_index", "aggregate_name", "aggregate_unit",
    "error_occurred", "error_message", "skipped", "iterations", "real_time",
    "cpu_time", "time_unit", "cpu_coefficient", "real_coefficient", "big_o", "rms",
    "label",
}

# The zring implementation each peer or bound is compared with. pingpong (the
# floor) and memcpy (the cost of one copy) are bounds shown on their own.
ZRING_FOR = {
    "rte_ring_mp": "zring_mpmc", "ck_ring_mpmc": "zring_mpmc", "boost_queue": "zring_mpmc",
    "rte_ring_sp": "zring_spsc", "ck_ring_spsc": "zring_spsc",
    "boost_spsc_queue": "zring_spsc",
    "iceoryx": "zring_job", "pipe": "zring_job", "unix_socket": "zring_job",
    "pipe_spin": "zring_job", "unix_socket_spin": "zring_job",
    "futex_pingpong": "zring_job_futex", "malloc": "zring_slab",
}
# Parameters that must agree for two rows to be compared (same shape of work).
SHAPE_PARAMS = ("size", "burst", "window", "producers", "threads")

BOUNDS = ("pingpong", "memcpy", "pipe", "unix_socket", "pipe_spin", "unix_socket_spin",
          "futex_pingpong", "malloc")
PEERS = ("rte_ring_sp", "rte_ring_mp", "ck_ring_spsc", "ck_ring_mpmc",
         "boost_spsc_queue", "boost_queue", "iceoryx")

THROUGHPUT_GROUPS = ("stream", "producers", "xthread", "single")
REST_GROUPS = ("poll_empty", "mt_rt", "wake", "inbox", "slab", "job_cycle", "copy",
               "gpu_read", "gpu_signal")


# ---- results ---------------------------------------------------------------

@dataclass
class Result:
    """One benchmark of one program, its repetitions folded into one row."""

    program: str
    name: str
    group: str | None
    impl: str | None
    params: dict
    status: str = "ok"  # ok | skipped | error
    message: str | None = None
    real_time_ns: float | None = None  # per iteration
    counters: dict = field(default_factory=dict)
    repetitions: int = 1
    aggregate: str | None = None  # "median" when folded from repetitions
    # metric -> [min, max] over the repetitions, when there were several
    spread: dict = field(default_factory=dict)

    @property
    def ok(self):
        return self.status == "ok"

    def counter(self, key):
        return self.counters.get(key)


def parse_name(name):
    """(group, impl, params) of a conventional name, else (None, None, {})."""
    parts = name.split("/")
    if len(parts) < 2 or not parts[0] or ":" in parts[0] or not parts[1].startswith("impl:"):
        return None, None, {}
    impl = parts[1][len("impl:"):]
    if not impl:
        return None, None, {}
    params, unnamed = {}, 0
    for part in parts[2:]:
        if part in GB_FLAGS:
            continue
        key, sep, value = part.partition(":")
        if key in GB_KEYS:
            continue
        if not sep:  # an argument registered without ArgName: keep it, by position
            key, value, unnamed = f"arg{unnamed}", part, unnamed + 1
        params[key] = number(value)
    return parts[0], impl, params


def number(text):
    """An int or a float when the text is one (size:4096), else the text (wait:futex)."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def finite(value):
    """NaN and infinities (Google Benchmark writes them) become None: strict JSON."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if math.isfinite(value) else None


def failure(entry):
    """(status, message) of a failed entry, None for a measured one.

    libbenchmark 1.7 marks SkipWithError with error_occurred; the suite's
    convention for a peer that is not installed is a message "skipped: ...".
    libbenchmark 1.8+ writes SkipWithMessage as error_occurred false with a
    message: that is a skip too.
    """
    message = entry.get("error_message")
    if entry.get("error_occurred"):
        text = message or "error"
        return ("skipped" if text.startswith("skipped:") else "error"), text
    if message:
        return "skipped", message
    return None


def measures(entry):
    """(real time per iteration in ns, counters) of one entry."""
    unit = TIME_UNIT_NS.get(entry.get("time_unit", "ns"), 1.0)
    real = finite(entry.get("real_time"))
    counters = {k: finite(v) for k, v in entry.items()
                if k not in ENTRY_KEYS and finite(v) is not None}
    return (real * unit if real is not None else None), counters


def median_of(measured):
    """The per-metric median of several (real_time_ns, counters)."""
    times = [t for t, _ in measured if t is not None]
    keys = sorted({k for _, c in measured for k in c})
    counters = {k: statistics.median([c[k] for _, c in measured if k in c]) for k in keys}
    return (statistics.median(times) if times else None), counters


def spread_of(measured):
    """metric -> [min, max] over the repetitions: how much one run can be trusted."""
    out = {}
    times = [t for t, _ in measured if t is not None]
    if times:
        out["real_time_ns"] = [min(times), max(times)]
    for key in sorted({k for _, c in measured for k in c}):
        values = [c[key] for _, c in measured if key in c]
        out[key] = [min(values), max(values)]
    return out


def run_name_of(entry):
    """The benchmark an entry belongs to: its repetitions and aggregates share it."""
    if entry.get("run_name"):
        return entry["run_name"]
    name = entry.get("name", "?")
    suffix = "_" + str(entry.get("aggregate_name", ""))
    if entry.get("run_type") == "aggregate" and name.endswith(suffix):
        return name[: -len(suffix)]
    return name


def fold(program, run_name, entries):
    """One Result from a benchmark's repetitions and aggregates.

    The median aggregate when there is one (Google Benchmark computed it over
    the measured repetitions, counters included); else the median of the
    measured repetitions (one, usually); else the failure.
    """
    group, impl, params = parse_name(run_name)
    result = Result(program, run_name, group, impl, params)
    result.repetitions = int(entries[0].get("repetitions") or 1)
    iterations = [e for e in entries if e.get("run_type") != "aggregate"]
    failures = [f for f in map(failure, iterations) if f]
    measured = [measures(e) for e in iterations if not failure(e)]
    median = next((e for e in entries if e.get("run_type") == "aggregate"
                   and e.get("aggregate_name") == "median"), None)
    if median is not None:
        result.real_time_ns, result.counters = measures(median)
        result.aggregate = "median"
    elif measured:
        result.real_time_ns, result.counters = median_of(measured)
        result.aggregate = "median" if len(measured) > 1 else None
    else:
        result.status, result.message = failures[0] if failures else ("error", "no result")
        return result
    if len(measured) > 1:
        result.spread = spread_of(measured)
    if failures:
        result.message = (f"{len(failures)} of {len(iterations)} repetitions failed: "
                          f"{failures[0][1]}")
    return result


def fold_all(program, benchmarks):
    """Every benchmark of one program, in the order of first appearance."""
    runs = {}
    for entry in benchmarks:
        runs.setdefault(run_name_of(entry), []).append(entry)
    return [fold(program, name, entries) for name, entries in runs.items()]


def program_name(context, path, taken):
    """The executable's name (bench_job), made unique when a program ran twice."""
    base = os.path.basename(str(context.get("executable") or "")) or Path(path).stem
    name, n = base, 2
    while name in taken:
        name, n = f"{base}#{n}", n + 1
    return name


def load_inputs(paths):
    """(programs: name -> context, results, unreadable paths).

    An input that is not Google Benchmark JSON (a program that crashed midway
    leaves a truncated file) becomes an error row: it must show in the report.
    """
    programs, results, unreadable = {}, [], []
    for path in paths:
        try:
            data = json.loads(Path(path).read_text())
            context, benchmarks = data.get("context", {}), data.get("benchmarks", [])
            if not isinstance(context, dict) or not isinstance(benchmarks, list):
                raise ValueError("no context and benchmarks list")
        except (OSError, ValueError, AttributeError) as exc:
            name = program_name({}, path, programs)
            programs[name] = {}
            results.append(Result(name, str(path), None, None, {}, "error",
                                  f"could not read {path}: {exc}"))
            unreadable.append(str(path))
            continue
        name = program_name(context, path, programs)
        programs[name] = context
        results.extend(fold_all(name, benchmarks))
    return programs, results, unreadable


# ---- comparisons -----------------------------------------------------------

def impl_rank(impl):
    """zring first, then the bounds, then the peers: the reading order."""
    if impl.startswith("zring"):
        return (0, impl)
    if impl in BOUNDS:
        return (1, BOUNDS.index(impl))
    if impl in PEERS:
        return (2, PEERS.index(impl))
    return (3, impl)


def param_key(params):
    """Sort key putting size:64 before size:4096 and strings after numbers."""
    return tuple((k, (0, v, "") if isinstance(v, (int, float)) else (1, 0, str(v)))
                 for k, v in sorted(params.items()))


def row_order(result):
    return (param_key(result.params), impl_rank(result.impl), result.program)


def same_shape(a, b):
    """Parameters of the shape agree where both rows have them: a pipe's
    stream has no window (the kernel buffers), zring's has one."""
    return all(a[k] == b[k] for k in SHAPE_PARAMS if k in a and k in b)


def p50_ns(result):
    return result.counter("p50_ns")


def best_p50_ns(result):
    """The lowest p50 of the repetitions (the p50 itself with one): on a VM
    whose cross-core latency jumps between regimes, the best repetitions of
    two rows are the fairest pair to compare."""
    low_high = result.spread.get("p50_ns")
    return low_high[0] if low_high else p50_ns(result)


def round_trip_ns(result):
    """A round trip's time: the median sample when timed one by one, else the mean."""
    if result.counter("p50_ns") is not None:
        return result.counter("p50_ns")
    if result.counter("round_trip") is not None:
        return result.counter("round_trip") * 1e9
    return result.real_time_ns


class Suite:
    """All results of one run, with the floors and pairings the tables need."""

    def __init__(self, programs, results):
        self.programs = programs
        self.results = sorted(results, key=lambda r: (r.program, r.group or "~",
                                                      r.impl or "", param_key(r.params)))

    def group(self, name, status="ok"):
        """The group's rows in reading order; status None: failed ones too."""
        rows = [r for r in self.results
                if r.group == name and (status is None or r.status == status)]
        return sorted(rows, key=row_order)

    def groups(self):
        return sorted({r.group for r in self.results if r.group})

    def floors(self, group="rt"):
        """program -> its ping-pong floor (median of its pingpong rows' round trips)."""
        per_program = {}
        for r in self.group(group):
            if r.impl == "pingpong" and round_trip_ns(r):
                per_program.setdefault(r.program, []).append(round_trip_ns(r))
        return {p: statistics.median(v) for p, v in per_program.items()}

    def best_floors(self):
        """program -> the lowest p50 of its rt ping-pong repetitions."""
        per_program = {}
        for r in self.group("rt"):
            if r.impl == "pingpong" and best_p50_ns(r):
                per_program.setdefault(r.program, []).append(best_p50_ns(r))
        return {p: min(v) for p, v in per_program.items()}

    def floor_for(self, program, group="rt"):
        """(floor ns, "own" | "suite" | None).

        The program's own ping-pong first: the VM's cache-line round trip
        drifts between seconds, so a floor from another program is a worse
        yardstick; the median over the programs that measured one otherwise.
        """
        floors = self.floors(group)
        if program in floors:
            return floors[program], "own"
        if floors:
            return statistics.median(floors.values()), "suite"
        return None, None

    def zring_row(self, result):
        """zring's row of the same group and shape as a peer's or bound's row, or None.

        The same program's first, then any; a row with the very same
        parameters before one that only agrees on the shape (size, burst...).
        """
        target = ZRING_FOR.get(result.impl)
        if not target:
            return None
        rows = [r for r in self.group(result.group)
                if r.impl == target and same_shape(r.params, result.params)]
        rows.sort(key=lambda r: (r.params != result.params, r.program != result.program,
                                 r.program, param_key(r.params)))
        return rows[0] if rows else None


def verdict(zring, peer, peer_name, lower_is_better):
    """'0.80 (zring faster)': the ratio zring/peer and what it means."""
    if not zring or not peer:
        return "–"
    ratio = zring / peer
    if 1 / (1 + NOISE) <= ratio <= 1 + NOISE:
        return f"{fmt_ratio(ratio)} (≈ same)"
    winner = "zring" if (ratio < 1) == lower_is_better else peer_name
    factor = max(ratio, 1 / ratio)
    by = f" {factor:.0f}×" if factor >= 10 else f" {factor:.1f}×" if factor >= 2 else ""
    return f"{fmt_ratio(ratio)} ({winner}{by} faster)"


# ---- formatting ------------------------------------------------------------

def fmt_ratio(value):
    """Two decimals, or two significant digits below 0.1 (0.003, not 0.00)."""
    if value is None:
        return "–"
    if value < 0.1:
        return f"{value:.2g}"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def fmt_us(ns):
    """Nanoseconds as microseconds, three significant digits: 0.164, 1.25, 125."""
    if ns is None:
        return "–"
    us = ns / 1e3
    if us >= 100:
        return f"{us:,.0f}"
    if us >= 10:
        return f"{us:.1f}"
    if us >= 1:
        return f"{us:.2f}"
    return f"{us:.3f}"


def fmt_time(ns):
    """A time with its own unit, for tables whose rows span ns to ms."""
    if ns is None:
        return "–"
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def fmt_rate(per_second, scale):
    return "–" if per_second is None else f"{per_second / scale:.3g}"


def fmt_bytes(n):
    if not isinstance(n, (int, float)):
        return str(n)
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale:g} {unit}"
    return f"{n:g} B"


def fmt_param(key, value):
    return fmt_bytes(value) if key in ("size", "bytes") else str(value)


def fmt_spread(result, key, fmt, default=None):
    """'min–max' over the repetitions, or '' when there was one."""
    low_high = result.spread.get(key)
    if not low_high:
        return default if default is not None else ""
    return f"{fmt(low_high[0])}–{fmt(low_high[1])}"


def cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def md_table(columns, rows):
    """Markdown lines of a table; columns are (header, function of a row, align)."""
    lines = ["| " + " | ".join(h for h, _, _ in columns) + " |",
             "|" + "|".join("---:" if a == ">" else "---" for _, _, a in columns) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(cell(f(row)) for _, f, _ in columns) + " |")
    return lines


def param_columns(rows, skip=()):
    """One column per parameter the rows have, in order of first appearance."""
    keys = []
    for r in rows:
        keys += [k for k in r.params if k not in keys and k not in skip]
    return [(k, (lambda r, k=k: fmt_param(k, r.params[k]) if k in r.params else ""), ">")
            for k in keys]


IMPL_COL = ("impl", lambda r: r.impl, "<")
PROGRAM_COL = ("program", lambda r: r.program, "<")


# ---- Markdown sections -----------------------------------------------------

def machine_info(programs):
    """What ran the benchmarks, from the first program's context.

    CPU model and kernel come from the context when a program recorded them
    (cpu_model, kernel), else from this machine when it is the host that ran
    them; Google Benchmark itself records neither.
    """
    context = next((c for c in programs.values() if c), {})
    here = platform.node()
    host = context.get("host_name") or here
    local = host == here
    return {
        "host": host,
        "cpu_model": context.get("cpu_model") or (cpuinfo_model() if local else None),
        "num_cpus": context.get("num_cpus"),
        "mhz": context.get("mhz_per_cpu"),
        "kernel": context.get("kernel") or (" ".join(os.uname()[2:4]) if local else None),
        "caches": context.get("caches", []),
        "load_avg": context.get("load_avg"),
    }


def cpuinfo_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def fmt_caches(caches):
    kinds = {"Data": "d", "Instruction": "i", "Unified": ""}
    parts = [f"L{c.get('level')}{kinds.get(c.get('type'), '')} {fmt_bytes(c.get('size', 0))}"
             + (f" (shared by {c['num_sharing']})" if c.get("num_sharing", 1) > 1 else "")
             for c in caches]
    return ", ".join(parts) or "–"


def header_section(suite, meta):
    machine = meta["machine"]
    cpu = machine["cpu_model"] or "CPU model not recorded"
    lines = [f"# {meta['title']}", "",
             "| | |", "|---|---|",
             f"| machine | {cell(machine['host'])}: {cell(cpu)}, {machine['num_cpus']} CPUs"
             f" at {machine['mhz']} MHz, kernel {machine['kernel'] or 'not recorded'} |",
             f"| caches | {fmt_caches(machine['caches'])} |",
             f"| date | {meta['date'] or '–'} (report generated {meta['generated']}) |",
             f"| command | {('`' + cell(meta['command']) + '`') if meta['command'] else '–'} |",
             f"| git | {git_shas(suite.programs)} |"]
    for name, context in suite.programs.items():
        load = " ".join(f"{x:.2f}" for x in context.get("load_avg", []))
        reps = max((r.repetitions for r in suite.results if r.program == name), default=1)
        lines.append(f"| {cell(name)} | build {context.get('build_type', '?')}, "
                     f"{reps} repetition(s), load average {load or '–'} at start |")
    lines += ["",
              "Every ratio is taken within this run: \"× floor\" divides by the cache-line "
              "ping-pong (`rt/impl:pingpong`) that the same program measured (marked * where "
              "the program measured none and the median of the other programs' is used), and "
              "\"zring/peer\" divides zring's row by the peer's or bound's row of the same "
              "shape. Absolute times drift on a shared VM (the ping-pong alone moves between "
              f"65 and 330 ns from second to second); ratios within ±{NOISE:.0%} are called "
              "\"≈ same\". With repetitions every number is the median, and \"range\" gives "
              "the repetitions' minimum and maximum.", ""]
    return lines


def git_shas(programs):
    shas = {name: c.get("git_sha") for name, c in programs.items() if c.get("git_sha")}
    if not shas:
        return "not recorded"
    if len(set(shas.values())) == 1:
        return f"`{next(iter(shas.values()))}`"
    return ", ".join(f"{p} `{s}`" for p, s in shas.items())


def not_measured_note(suite, group):
    """One line naming the group's skipped and failed rows, so no gap is silent."""
    rows = [r for r in suite.group(group, status=None) if not r.ok]
    if not rows:
        return []
    names = ", ".join(f"{r.impl} {' '.join(f'{k}:{v}' for k, v in r.params.items())}".strip()
                      + f" ({r.status})" for r in rows)
    return [f"Not measured here: {names}; see \"Skipped and errors\".", ""]


def rt_section(suite):
    rows = suite.group("rt")
    lines = ["## Cross-process round trip by payload size", "",
             "Percentiles of every round trip (exact, one clock read each), in µs. "
             "\"× floor\" is p50 over the ping-pong's p50 (\"best\": the lowest p50 of the "
             "repetitions over the lowest floor, the fairest pair when the VM changes regime "
             "between repetitions); \"zring/peer\" is zring's p50 "
             "(p99) over the row's: below 1 zring is faster. zring_job is compared with "
             "the payload transports (iceoryx, pipe, Unix socket), zring_mpmc with "
             "rte_ring_mp, ck_ring_mpmc and boost_queue, zring_spsc with rte_ring_sp, "
             "ck_ring_spsc and boost_spsc_queue.", ""]
    if not rows:
        return lines + ["No results.", ""] + not_measured_note(suite, "rt")

    def times_floor(r):
        floor, source = suite.floor_for(r.program)
        if not floor or p50_ns(r) is None:
            return "–"
        return fmt_ratio(p50_ns(r) / floor) + ("*" if source == "suite" else "")

    def versus_at(key):
        def f(r):
            z = suite.zring_row(r)
            return verdict(z.counter(key), r.counter(key), r.impl, True) if z else ""
        return f

    best_floors = suite.best_floors()

    def best_times_floor(r):
        floor = best_floors.get(r.program)
        best = best_p50_ns(r)
        return fmt_ratio(best / floor) if floor and best else "–"

    def best_versus(r):
        z = suite.zring_row(r)
        return verdict(best_p50_ns(z), best_p50_ns(r), r.impl, True) if z else ""

    columns = [IMPL_COL, ("size", lambda r: fmt_param("size", r.params.get("size", "")), ">")]
    columns += param_columns(rows, skip=("size",))
    columns += [(name, (lambda r, k=key: fmt_us(r.counter(k))), ">") for name, key in
                (("p50", "p50_ns"), ("p90", "p90_ns"), ("p99", "p99_ns"),
                 ("p99.9", "p999_ns"), ("max", "max_ns"))]
    if any(r.spread.get("p50_ns") for r in rows):
        columns.append(("p50 range", lambda r: fmt_spread(r, "p50_ns", fmt_us), ">"))
    columns += [("× floor", times_floor, ">"),
                ("zring/peer p50", versus_at("p50_ns"), "<"),
                ("zring/peer p99", versus_at("p99_ns"), "<")]
    if any(r.spread.get("p50_ns") for r in rows):
        columns += [("best × floor", best_times_floor, ">"),
                    ("zring/peer best p50", best_versus, "<")]
    columns.append(PROGRAM_COL)
    lines += md_table(columns, rows) + [""]
    floors = suite.floors()
    if floors:
        lines.append("Floors (ping-pong p50): " + ", ".join(
            f"{p} {fmt_time(v)}" for p, v in floors.items()) + ".")
        lines.append("")
    return lines + not_measured_note(suite, "rt")


def throughput_section(suite):
    lines = ["## Throughput", "",
             "Items per second in millions (M/s), bytes per second in GB/s (10⁹ B). "
             "\"zring/peer\" is zring's rate over the row's at the same size, burst, "
             "window, producers and threads: above 1 zring is faster.", ""]
    for group in THROUGHPUT_GROUPS:
        rows = suite.group(group)
        if not suite.group(group, status=None):
            continue  # no program has this group: nothing to show or to hide
        lines += [f"### {group}", ""]
        if not rows:
            lines += ["No results.", ""] + not_measured_note(suite, group)
            continue
        columns = [IMPL_COL] + param_columns(rows)
        columns.append(("M items/s", lambda r: fmt_rate(r.counter("items_per_second"), 1e6), ">"))
        if any(r.spread.get("items_per_second") for r in rows):
            columns.append(("range", lambda r: fmt_spread(
                r, "items_per_second", lambda v: fmt_rate(v, 1e6)), ">"))
        if any(r.counter("bytes_per_second") for r in rows):
            columns.append(("GB/s", lambda r: fmt_rate(r.counter("bytes_per_second"), 1e9), ">"))
        columns.append(("per item", lambda r: fmt_time(per_item_ns(r)), ">"))
        columns += [("zring/peer", versus_rate(suite), "<"), PROGRAM_COL]
        lines += md_table(columns, rows) + [""] + not_measured_note(suite, group)
    return lines


def per_item_ns(result):
    rate = result.counter("items_per_second")
    return 1e9 / rate if rate else result.real_time_ns


def versus_rate(suite):
    def f(r):
        z = suite.zring_row(r)
        return verdict(z.counter("items_per_second"), r.counter("items_per_second"),
                       r.impl, False) if z else ""
    return f


def versus_time(suite, time_of):
    def f(r):
        z = suite.zring_row(r)
        return verdict(time_of(z), time_of(r), r.impl, True) if z else ""
    return f


def rest_columns(suite, group, rows):
    """The columns of one of the remaining groups, with its natural baseline."""
    time_col = lambda head, f: (head, lambda r: fmt_time(f(r)), ">")
    rate_col = ("M items/s", lambda r: fmt_rate(r.counter("items_per_second"), 1e6), ">")
    params = param_columns(rows)
    if group == "poll_empty":
        return params + [time_col("per poll", lambda r: r.real_time_ns),
                         ("zring/peer", versus_time(suite, lambda r: r.real_time_ns), "<")]
    if group == "mt_rt":
        def floor(r):
            value, source = suite.floor_for(r.program, "mt_rt")
            if not value or not round_trip_ns(r):
                return "–"
            return fmt_ratio(round_trip_ns(r) / value) + ("*" if source == "suite" else "")
        return params + [time_col("round trip", round_trip_ns), ("× floor", floor, ">"),
                         ("zring/peer", versus_time(suite, round_trip_ns), "<")]
    if group == "wake":
        return params + [time_col(h, lambda r, k=k: r.counter(k)) for h, k in
                         (("p50", "p50_ns"), ("p99", "p99_ns"), ("max", "max_ns"))] + [
            ("futex/spin p50", wake_ratio(suite), "<")]
    if group == "slab":
        return params + [time_col("alloc + free", per_item_ns), rate_col,
                         ("zring/malloc", versus_time(suite, per_item_ns), "<")]
    if group == "copy":
        return params + [time_col("per copy", lambda r: r.real_time_ns),
                         ("GB/s", lambda r: fmt_rate(r.counter("bytes_per_second"), 1e9), ">")]
    if group in ("inbox", "job_cycle"):
        return params + [time_col("per item", per_item_ns), rate_col]
    if group == "gpu_read":
        per_payload = lambda r: r.real_time_ns
        return params + [time_col("per payload", per_payload),
                         ("GB/s", lambda r: fmt_rate(r.counter("bytes_per_second"), 1e9), ">"),
                         time_col("GPU time", lambda r: r.counter("gpu_ns")),
                         ("× device_resident", times_mate(suite, "device_resident", per_payload),
                          ">"),
                         ("inplace/memcpy", inplace_over_memcpy(suite), "<")]
    if group == "gpu_signal":
        return params + [time_col(h, lambda r, k=k: r.counter(k)) for h, k in
                         (("p50", "p50_ns"), ("p99", "p99_ns"), ("max", "max_ns"))] + [
            ("p50 × cpu_echo", times_mate(suite, "cpu_echo", p50_ns), ">"),
            ("p99 × cpu_echo", times_mate(suite, "cpu_echo", lambda r: r.counter("p99_ns")), ">")]
    columns = params + [time_col("per iteration", lambda r: r.real_time_ns)]
    if any(r.counter("items_per_second") for r in rows):
        columns.append(rate_col)
    return columns


def mate(suite, result, impl):
    """The row of `impl` in the result's group with the same parameters: the
    same program's first (its baseline was measured in the same run)."""
    rows = [r for r in suite.group(result.group) if r.impl == impl and r.params == result.params]
    rows.sort(key=lambda r: r.program != result.program)
    return rows[0] if rows else None


def times_mate(suite, impl, time_of):
    """A column: the row's time over the baseline row's (`impl`, same parameters)."""
    def f(r):
        base = mate(suite, r, impl)
        if r.impl == impl or not base:
            return "" if r.impl == impl else "–"
        if not time_of(base) or not time_of(r):
            return "–"
        return fmt_ratio(time_of(r) / time_of(base))
    return f


def inplace_over_memcpy(suite):
    """gpu_read: reading in place over copying first, on the inplace rows."""
    def f(r):
        if r.impl != "inplace":
            return ""
        copy = mate(suite, r, "memcpy")
        return verdict(r.real_time_ns, copy.real_time_ns if copy else None, "memcpy",
                       True).replace("zring", "in place")
    return f


def wake_ratio(suite):
    """A sleeping receiver's p50 over the spinning one's: what the futex costs."""
    def f(r):
        if not r.impl.endswith("_futex"):
            return ""
        spin = r.impl[: -len("_futex")] + "_spin"
        mates = [s for s in suite.group("wake") if s.impl == spin and s.params == r.params]
        mates.sort(key=lambda s: s.program != r.program)
        if not mates or not mates[0].counter("p50_ns") or not r.counter("p50_ns"):
            return "–"
        return fmt_ratio(r.counter("p50_ns") / mates[0].counter("p50_ns"))
    return f


REST_INTROS = {
    "poll_empty": "One dequeue from an empty ring.",
    "mt_rt": "A round trip between two threads of one process; \"× floor\" against "
             "the same program's thread ping-pong (`mt_rt/impl:pingpong`).",
    "wake": "A round trip where the receiver sleeps (`*_futex`) or spins (`*_spin`); "
            "\"futex/spin\" is what sleeping costs.",
    "inbox": "Push then pop through a priority inbox.",
    "slab": "Allocate then free one payload; \"zring/malloc\" is the time ratio to "
            "glibc malloc + free of the same size (below 1 zring is faster).",
    "job_cycle": "Submit, claim, complete and release of a 64-byte job in one thread.",
    "copy": "memcpy between two buffers: the cost of the one copy a zero-copy "
            "transport saves.",
    "gpu_read": "A kernel reads and sums a payload of `bytes` bytes: in place in the "
                "registered arena (`inplace`), after a pinned cudaMemcpyAsync to device "
                "memory (`memcpy`), or already in device memory (`device_resident`, the "
                "floor). \"per payload\" is the wall clock to the end of "
                "cudaStreamSynchronize, \"GPU time\" the CUDA events' (no launch or "
                "synchronisation); \"× device_resident\" is the time over that row's of the "
                "same size; \"inplace/memcpy\" below 1: reading in place is faster.",
    "gpu_signal": "One 8-byte entry CPU → GPU → CPU through two SPSC rings, answered by a "
                  "persistent kernel (`persistent`), by a host thread launching a kernel per "
                  "entry (`proxy`), or by a host thread alone (`cpu_echo`, the floor); "
                  "\"× cpu_echo\" divides by the same program's cpu_echo row.",
}


def rest_sections(suite):
    lines = []
    known = set(THROUGHPUT_GROUPS) | {"rt"}
    extra = [g for g in suite.groups() if g not in known and g not in REST_GROUPS]
    for group in list(REST_GROUPS) + extra:
        rows = suite.group(group)
        if not rows and not suite.group(group, status=None):
            continue
        lines += [f"## {group}", ""]
        if group in REST_INTROS:
            lines += [REST_INTROS[group], ""]
        if rows:
            columns = [IMPL_COL] + rest_columns(suite, group, rows) + [PROGRAM_COL]
            lines += md_table(columns, rows) + [""]
        lines += not_measured_note(suite, group)
    return lines


def failures_section(suite):
    skipped = [r for r in suite.results if r.status == "skipped"]
    errors = [r for r in suite.results if r.status == "error"]
    partial = [r for r in suite.results if r.ok and r.message]
    lines = ["## Skipped and errors", "", "### Skipped", ""]
    lines += md_table([("program", lambda r: r.program, "<"),
                       ("impl", lambda r: r.impl or "–", "<"),
                       ("benchmark", lambda r: f"`{r.name}`", "<"),
                       ("why", lambda r: r.message, "<")], skipped) if skipped else ["None."]
    lines += ["", "### Errors", ""]
    rows = errors + partial
    lines += md_table([("program", lambda r: r.program, "<"),
                       ("benchmark", lambda r: f"`{r.name}`", "<"),
                       ("message", lambda r: r.message, "<")], rows) if rows else ["None."]
    return lines + [""]


def other_section(suite):
    rows = [r for r in suite.results if r.group is None]
    if not rows:
        return []

    def counters(r):
        return ", ".join(f"{k} {v:.4g}" for k, v in r.counters.items()) or "–"

    lines = ["## Other", "",
             "Benchmarks not named `<group>/impl:<impl>/...`, as they came.", ""]
    return lines + md_table([("program", lambda r: r.program, "<"),
                             ("benchmark", lambda r: f"`{r.name}`", "<"),
                             ("status", lambda r: r.status, "<"),
                             ("per iteration", lambda r: fmt_time(r.real_time_ns), ">"),
                             ("counters", counters, "<")], rows) + [""]


def markdown(suite, meta):
    lines = header_section(suite, meta) + rt_section(suite) + throughput_section(suite)
    lines += rest_sections(suite) + failures_section(suite) + other_section(suite)
    return "\n".join(lines).rstrip() + "\n"


# ---- plot ------------------------------------------------------------------

def rt_series(suite):
    """(label, [(size, p50 ns, p99 ns)]) per impl with round trips at several sizes."""
    by_impl = {}
    for r in suite.group("rt"):
        if r.impl != "pingpong" and isinstance(r.params.get("size"), (int, float)) and p50_ns(r):
            by_impl.setdefault((r.impl, r.program), []).append(
                (r.params["size"], p50_ns(r), r.counter("p99_ns")))
    impls = [impl for impl, _ in by_impl]
    series = []
    for (impl, program), points in sorted(by_impl.items(), key=lambda kv: impl_rank(kv[0][0])):
        if len({size for size, _, _ in points}) < 2:
            continue
        label = impl if impls.count(impl) == 1 else f"{impl} ({program})"
        series.append((label, sorted(points)))
    return series


def memcpy_points(suite):
    """(size, ns per copy): the median over programs that measured memcpy."""
    per_size = {}
    for r in suite.group("copy"):
        if r.impl == "memcpy" and isinstance(r.params.get("size"), (int, float)) and r.real_time_ns:
            per_size.setdefault(r.params["size"], []).append(r.real_time_ns)
    return sorted((s, statistics.median(v)) for s, v in per_size.items())


def write_plot(suite, meta, path):
    """latency.png; False (and a loud line on stderr) when matplotlib is missing."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FuncFormatter
    except ImportError as exc:
        print(f"report.py: PLOT SKIPPED: matplotlib cannot be imported by {sys.executable} "
              f"({exc}); {path} was NOT written (Debian: apt-get install python3-matplotlib)",
              file=sys.stderr)
        return False
    fig, ax = plt.subplots(figsize=(9, 5.5), dpi=120)
    sizes = [64, 1 << 20]
    for label, points in rt_series(suite):
        xs = [s for s, _, _ in points]
        p50 = [v / 1e3 for _, v, _ in points]
        line, = ax.plot(xs, p50, marker="o", linewidth=2, label=f"{label} p50")
        tail = [(s, v / 1e3) for s, _, v in points if v]
        if tail:
            ax.plot([s for s, _ in tail], [v for _, v in tail], linestyle="--",
                    color=line.get_color(), alpha=0.6, linewidth=1, label=f"{label} p99")
            if len(tail) == len(points):
                ax.fill_between(xs, p50, [v for _, v in tail], color=line.get_color(), alpha=0.12)
        sizes += xs
    copies = memcpy_points(suite)
    if copies:
        ax.plot([s for s, _ in copies], [v / 1e3 for _, v in copies], linestyle=":",
                color="black", linewidth=1.5, label="one memcpy")
        sizes += [s for s, _ in copies]
    floors = suite.floors()
    if floors:
        floor = statistics.median(floors.values())
        ax.axhline(floor / 1e3, color="grey", linewidth=1,
                   label=f"floor: ping-pong p50 ({fmt_time(floor)})")
    if not ax.lines:
        ax.text(0.5, 0.5, "no cross-process round-trip results", ha="center",
                transform=ax.transAxes)
    else:
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xscale("log", base=2)
    low, high = min(sizes), max(sizes)
    ax.set_xlim(low / 1.3, high * 1.3)
    ticks = [1 << k for k in range(int(math.log2(low)), int(math.log2(high)) + 1, 2)]
    ax.set_xticks(ticks, [fmt_bytes(t) for t in ticks])
    ax.set_xlabel("payload (bytes)")
    ax.set_ylabel("round trip (µs)")
    machine = meta["machine"]
    ax.set_title(f"{meta['title']}: cross-process round trip\n{machine['host']}, "
                 f"{machine['cpu_model'] or 'CPU model not recorded'}, "
                 f"{machine['num_cpus']} CPUs, {meta['date'] or ''}", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


# ---- main ------------------------------------------------------------------

def document(suite, meta):
    """results.json: stable snake_case keys, one entry per benchmark."""
    return {
        "schema": SCHEMA,
        "generated": meta["generated"],
        "command": meta["command"],
        "title": meta["title"],
        "machine": meta["machine"],
        "programs": suite.programs,
        "results": [asdict(r) for r in suite.results],
    }


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, type=Path, help="directory to write into")
    parser.add_argument("--title", default="zring benchmarks", help="report and plot title")
    parser.add_argument("--command", help="the command that ran the suite, for the record")
    parser.add_argument("files", nargs="+", metavar="FILE.json",
                        help="Google Benchmark JSON output, one per program")
    args = parser.parse_args(argv)
    missing = [f for f in args.files if not Path(f).is_file()]
    if missing:
        parser.error("no such file: " + ", ".join(missing))
    return args


def main(argv=None):
    args = parse_args(argv)
    programs, results, unreadable = load_inputs(args.files)
    suite = Suite(programs, results)
    first = next((c for c in programs.values() if c), {})
    meta = {"title": args.title, "command": args.command, "date": first.get("date"),
            "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": machine_info(programs)}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(document(suite, meta), indent=2) + "\n")
    (args.out / "results.md").write_text(markdown(suite, meta))
    plotted = write_plot(suite, meta, args.out / "latency.png")
    counts = {s: sum(r.status == s for r in results) for s in ("ok", "skipped", "error")}
    print(f"report.py: {len(results)} results ({counts['ok']} ok, {counts['skipped']} skipped, "
          f"{counts['error']} errors) -> {args.out}/results.json, results.md"
          + (", latency.png" if plotted else " (no plot)"))
    for path in unreadable:
        print(f"report.py: could not parse {path}: listed as an error in the report",
              file=sys.stderr)
    return 1 if unreadable else 0


if __name__ == "__main__":
    sys.exit(main())
