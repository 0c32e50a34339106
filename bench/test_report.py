#!/usr/bin/python3
"""Tests of bench/report.py on a small synthetic suite: python3 bench/test_report.py

The fixture is shaped like Google Benchmark 1.7 JSON: two programs, the first
run with 3 repetitions and random interleaving (iterations and aggregates
mixed), the second with a single run. Only the first measures the ping-pong
floor; the second has a skipped peer, the first an error and a name outside
the convention. report.py runs as a program (through its own #! line, so it
finds Debian's matplotlib even when another python3 runs the tests).
"""

import builtins
import contextlib
import io
import json
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path
from unittest import mock

HERE = Path(__file__).resolve().parent
REPORT = HERE / "report.py"
sys.path.insert(0, str(HERE))
import report  # noqa: E402  (after the path is set)

MIB = 1 << 20


def iteration(name, real_time, rep=0, reps=1, **counters):
    """One repetition's entry."""
    return {"name": name, "family_index": 0, "per_family_instance_index": 0,
            "run_name": name, "run_type": "iteration", "repetitions": reps,
            "repetition_index": rep, "threads": 1, "iterations": 1000,
            "real_time": real_time, "cpu_time": real_time, "time_unit": "ns", **counters}


def aggregate(name, kind, real_time, reps=3, **counters):
    """An aggregate entry (mean, median, stddev) as Google Benchmark writes it."""
    return {"name": f"{name}_{kind}", "family_index": 0, "per_family_instance_index": 0,
            "run_name": name, "run_type": "aggregate", "repetitions": reps, "threads": 1,
            "aggregate_name": kind, "aggregate_unit": "time", "iterations": reps,
            "real_time": real_time, "cpu_time": real_time, "time_unit": "ns", **counters}


def failed(name, message, rep=0, reps=1):
    entry = iteration(name, 0.0, rep, reps)
    entry.update(error_occurred=True, error_message=message)
    return entry


def percentiles(p50):
    """rt counters for a round trip whose median is p50 ns."""
    return {"p50_ns": p50, "p90_ns": p50 * 1.2, "p99_ns": p50 * 2, "p999_ns": p50 * 4,
            "max_ns": p50 * 10, "mean_ns": p50 * 1.1, "samples": 1000,
            "round_trip": p50 * 1.1e-9}


def repeated(name, p50s, mean_p50=None, **extra):
    """Three repetitions of a round trip and their aggregates; the mean is made
    different from the median so that the test sees which one is used."""
    entries = [iteration(name, p * 1.1, i, 3, **percentiles(p), **extra)
               for i, p in enumerate(p50s)]
    median = sorted(p50s)[1]
    mean = mean_p50 or sum(p50s) / 3
    entries.append(aggregate(name, "mean", mean * 1.1, **percentiles(mean), **extra))
    entries.append(aggregate(name, "median", median * 1.1, **percentiles(median), **extra))
    entries.append(aggregate(name, "stddev", 5.0, **percentiles(5.0)))
    return entries


def context(executable, **extra):
    return {"date": "2025-01-02T03:04:05+00:00", "host_name": "benchhost",
            "executable": executable, "num_cpus": 2, "mhz_per_cpu": 2450,
            "cpu_scaling_enabled": False,
            "caches": [{"type": "Data", "level": 1, "size": 32768, "num_sharing": 1},
                       {"type": "Unified", "level": 3, "size": 33554432, "num_sharing": 2}],
            "load_avg": [0.5, 0.25, 0.1], "library_build_type": "release",
            "git_sha": "abc123def456", "build_type": "Release", "cpu_model": "AMD EPYC test",
            **extra}


def bench_job():
    """Three repetitions, interleaved; measures the floor; one error; one old name."""
    benchmarks = []
    benchmarks += repeated("rt/impl:pingpong/size:8/real_time", [210, 190, 200], mean_p50=230)
    benchmarks += repeated("rt/impl:zring_job/size:64/real_time", [600, 580, 620])
    benchmarks += repeated("rt/impl:zring_job/size:4096/real_time", [1000, 990, 1100])
    benchmarks += repeated(f"rt/impl:zring_job/size:{MIB}/real_time", [1200, 1150, 1300])
    benchmarks += repeated("rt/impl:zring_mpmc/size:8/real_time", [240, 250, 230])
    benchmarks = benchmarks[::2] + benchmarks[1::2]  # random interleaving mixes them
    for size, ns in ((64, 5.0), (4096, 100.0), (MIB, 40000.0)):
        benchmarks.append(iteration(f"copy/impl:memcpy/size:{size}", ns,
                                    bytes_per_second=size / ns * 1e9))
    benchmarks.append(iteration("slab/impl:zring_slab/size:64", 14.0, items_per_second=1e9 / 14))
    benchmarks.append(iteration("slab/impl:malloc/size:64", 5.6, items_per_second=1e9 / 5.6))
    benchmarks.append(iteration("single/impl:zring_mpmc/burst:32", 800.0, items_per_second=40e6))
    benchmarks += [failed("stream/impl:zring_job/window:16/real_time", "child process failed",
                          rep, 3) for rep in range(3)]
    benchmarks.append(iteration("BM_baseline_pingpong/threads:2", 164.0, round_trip=164e-9))
    return {"context": context("/build/release/bench/bench_job"), "benchmarks": benchmarks}


def bench_peers():
    """One run each; no ping-pong of its own; rte_ring not installed."""
    benchmarks = [
        iteration("rt/impl:ck_ring_mpmc/size:8/real_time", 330, **percentiles(300)),
        failed("rt/impl:rte_ring_mp/size:8/real_time", "skipped: dpdk-dev not installed"),
        failed("single/impl:rte_ring_mp/burst:32", "skipped: dpdk-dev not installed"),
        iteration("single/impl:ck_ring_mpmc/burst:32", 1600.0, items_per_second=20e6),
    ]
    for size, p50 in ((64, 3000), (4096, 5000), (MIB, 400000)):
        benchmarks.append(iteration(f"rt/impl:pipe/size:{size}/real_time", p50 * 1.1,
                                    **percentiles(p50)))
    return {"context": context("/build/release/bench/bench_peers"), "benchmarks": benchmarks}


class ReportTest(unittest.TestCase):
    """Runs report.py once on the fixture and reads what it wrote."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        root = Path(cls.tmp.name)
        inputs = []
        for name, data in (("bench_job", bench_job()), ("bench_peers", bench_peers())):
            path = root / f"{name}.json"
            path.write_text(json.dumps(data, indent=1))
            inputs.append(str(path))
        cls.out = root / "report"
        cls.proc = subprocess.run(
            [str(REPORT), "--out", str(cls.out), "--title", "fixture",
             "--command", "bench/run_all.sh", *inputs],
            capture_output=True, text=True, timeout=120)
        cls.doc = json.loads((cls.out / "results.json").read_text())
        cls.md = (cls.out / "results.md").read_text()
        programs, results, _ = report.load_inputs(inputs)
        cls.suite = report.Suite(programs, results)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def find(self, program, name):
        return next(r for r in self.suite.results if r.program == program and r.name == name)

    def md_row(self, *needles):
        rows = [line for line in self.md.splitlines()
                if line.startswith("|") and all(n in line for n in needles)]
        self.assertEqual(len(rows), 1, f"one table row with {needles}: {rows}")
        return rows[0]

    def test_runs_cleanly(self):
        self.assertEqual(self.proc.returncode, 0, self.proc.stderr)
        self.assertNotIn("PLOT SKIPPED", self.proc.stderr)

    def test_json_schema(self):
        self.assertEqual(self.doc["schema"], "zring-bench/1")
        self.assertEqual(self.doc["command"], "bench/run_all.sh")
        self.assertEqual(set(self.doc["programs"]), {"bench_job", "bench_peers"})
        self.assertEqual(self.doc["machine"]["cpu_model"], "AMD EPYC test")
        name = "rt/impl:pipe/size:4096/real_time"
        row = next(r for r in self.doc["results"] if r["name"] == name)
        self.assertEqual((row["group"], row["impl"], row["params"]), ("rt", "pipe", {"size": 4096}))
        self.assertEqual(row["status"], "ok")
        self.assertAlmostEqual(row["real_time_ns"], 5500.0)

    def test_median_aggregate_and_spread(self):
        r = self.find("bench_job", "rt/impl:pingpong/size:8/real_time")
        self.assertEqual(r.aggregate, "median")
        self.assertEqual(r.counter("p50_ns"), 200)  # the median, not the mean (230)
        self.assertEqual(r.spread["p50_ns"], [190, 210])
        self.assertEqual(r.repetitions, 3)

    def test_floor_same_program_first(self):
        self.assertEqual(self.suite.floor_for("bench_job"), (200, "own"))
        self.assertEqual(self.suite.floor_for("bench_peers"), (200, "suite"))
        self.assertIn("| 5.00 |", self.md_row("| zring_job |", "| 4 KiB |"))
        self.assertIn("| 1.50* |", self.md_row("| ck_ring_mpmc |", "| 8 B |"))

    def test_floor_prefers_own_over_suite_median(self):
        rows = []
        for program, floor in (("a", 100), ("b", 300), ("c", None)):
            if floor:
                rows.append(report.Result(program, "rt/impl:pingpong/size:8", "rt", "pingpong",
                                          {"size": 8}, counters={"p50_ns": floor}))
        suite = report.Suite({"a": {}, "b": {}, "c": {}}, rows)
        self.assertEqual(suite.floor_for("a"), (100, "own"))
        self.assertEqual(suite.floor_for("b"), (300, "own"))
        self.assertEqual(suite.floor_for("c"), (200, "suite"))

    def test_zring_over_peer_ratios(self):
        ck = self.find("bench_peers", "rt/impl:ck_ring_mpmc/size:8/real_time")
        self.assertEqual(self.suite.zring_row(ck).impl, "zring_mpmc")
        self.assertIn("0.80 (zring faster)", self.md_row("| ck_ring_mpmc |", "| 8 B |"))
        self.assertIn("0.20 (zring 5.0× faster)", self.md_row("| pipe |", "| 4 KiB |"))
        # throughput: a rate ratio, above 1 when zring is faster
        self.assertIn("2.00 (zring 2.0× faster)", self.md_row("| ck_ring_mpmc |", "| 32 |"))
        # slab: time over malloc's, so zring is the slower one here
        self.assertIn("2.50 (malloc 2.5× faster)", self.md_row("| malloc |", "| 64 B |"))

    def test_verdict_words(self):
        self.assertEqual(report.verdict(100, 110, "x", True), "0.91 (≈ same)")
        self.assertEqual(report.verdict(130, 100, "pipe", True), "1.30 (pipe faster)")
        self.assertEqual(report.verdict(130, 100, "pipe", False), "1.30 (zring faster)")
        self.assertEqual(report.verdict(1200, 400000, "pipe", True), "0.003 (zring 333× faster)")
        self.assertEqual(report.verdict(None, 100, "pipe", True), "–")

    def test_skipped_and_errors_listed(self):
        statuses = {r["name"]: r["status"] for r in self.doc["results"]}
        self.assertEqual(statuses["rt/impl:rte_ring_mp/size:8/real_time"], "skipped")
        self.assertEqual(statuses["stream/impl:zring_job/window:16/real_time"], "error")
        skipped = self.md.split("### Skipped")[1].split("### Errors")[0]
        self.assertIn("rte_ring_mp", skipped)
        self.assertIn("skipped: dpdk-dev not installed", skipped)
        errors = self.md.split("### Errors")[1]
        self.assertIn("child process failed", errors)
        self.assertIn("Not measured here: rte_ring_mp size:8 (skipped)", self.md)

    def test_other_table_keeps_old_names(self):
        other = self.md.split("## Other")[1]
        self.assertIn("`BM_baseline_pingpong/threads:2`", other)

    def test_parse_name(self):
        self.assertEqual(report.parse_name("xthread/impl:zring_spsc/burst:32/iterations:9/"
                                           "repeats:5/real_time/threads:2"),
                         ("xthread", "zring_spsc", {"burst": 32, "threads": 2}))
        self.assertEqual(report.parse_name("BM_ring_spsc/burst:1"), (None, None, {}))
        self.assertEqual(report.parse_name("copy/impl:memcpy/4096/wait:futex"),
                         ("copy", "memcpy", {"arg0": 4096, "wait": "futex"}))

    def test_plot_skipped_loudly_without_matplotlib(self):
        real_import = builtins.__import__

        def no_matplotlib(name, *args, **kwargs):
            if name.startswith("matplotlib"):
                raise ImportError("No module named 'matplotlib'")
            return real_import(name, *args, **kwargs)

        with tempfile.TemporaryDirectory() as out, \
                mock.patch("builtins.__import__", no_matplotlib), \
                contextlib.redirect_stderr(io.StringIO()) as err, \
                contextlib.redirect_stdout(io.StringIO()):
            inputs = sorted(str(p) for p in Path(self.tmp.name).glob("*.json"))
            self.assertEqual(report.main(["--out", out, *inputs]), 0)
            self.assertTrue((Path(out) / "results.json").is_file())
            self.assertTrue((Path(out) / "results.md").is_file())
            self.assertFalse((Path(out) / "latency.png").exists())
        self.assertIn("PLOT SKIPPED", err.getvalue())

    def test_png_written(self):
        png = self.out / "latency.png"
        self.assertTrue(png.is_file(), self.proc.stderr)
        data = png.read_bytes()
        self.assertGreater(len(data), 1000)
        self.assertEqual(data[:8], b"\x89PNG\r\n\x1a\n")


class GpuTablesTest(unittest.TestCase):
    """bench_gpu's groups: each row against its baseline of the same run."""

    def setUp(self):
        rows = []
        for impl, ns in (("inplace", 400.0), ("memcpy", 800.0), ("device_resident", 200.0)):
            rows.append(report.Result(
                "bench_gpu", f"gpu_read/impl:{impl}/bytes:{MIB}/manual_time", "gpu_read", impl,
                {"bytes": MIB}, real_time_ns=ns,
                counters={"bytes_per_second": MIB / ns * 1e9, "gpu_ns": ns / 2}))
        rows.append(report.Result(
            "bench_gpu", "gpu_read/impl:inplace/bytes:4096/manual_time", "gpu_read", "inplace",
            {"bytes": 4096}, status="skipped", message="skipped: no CUDA device: test"))
        for impl, p50 in (("persistent", 2000), ("proxy", 8000), ("cpu_echo", 200)):
            rows.append(report.Result(
                "bench_gpu", f"gpu_signal/impl:{impl}/iterations:9/real_time", "gpu_signal",
                impl, {}, counters={"p50_ns": p50, "p99_ns": p50 * 3, "max_ns": p50 * 10}))
        suite = report.Suite({"bench_gpu": {}}, rows)
        self.md = "\n".join(report.rest_sections(suite))

    def row(self, *needles):
        rows = [line for line in self.md.splitlines()
                if line.startswith("|") and all(n in line for n in needles)]
        self.assertEqual(len(rows), 1, f"one table row with {needles}: {rows}")
        return rows[0]

    def test_read_against_device_resident_and_memcpy(self):
        inplace = self.row("| inplace |", "| 1 MiB |")
        self.assertIn("| 2.00 |", inplace)  # × device_resident
        self.assertIn("0.50 (in place 2.0× faster)", inplace)
        self.assertIn("| 4.00 |", self.row("| memcpy |", "| 1 MiB |"))
        self.assertIn("Not measured here: inplace bytes:4096 (skipped)", self.md)

    def test_signal_against_cpu_echo(self):
        self.assertIn("| 10.0 | 10.0 |", self.row("| persistent |"))
        self.assertIn("| 40.0 | 40.0 |", self.row("| proxy |"))


if __name__ == "__main__":
    unittest.main()
