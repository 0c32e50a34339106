#!/usr/bin/python3
"""Tests of the `zring` inspection tool against fixture arenas.

usage: test_zring.py --zring BIN --fixture BIN SUITE [--regen]

Suites:
  golden   the text form of every command on a fixed arena, against
           tests/cli/golden/*.txt (times, pids and names normalised);
           --regen rewrites the files
  json     the --json form of every command on the same arena: schema,
           keys and the exact counts the fixture made
  live     a multi-process workload at full speed: every command keeps
           working, `check` finds nothing, counters only grow; once the
           workload is quiescent, `stat --json` equals the runtime's own
           counters and what the processes counted themselves
  corrupt  foreign, empty, truncated and bit-flipped segments, a missing
           arena, and a segment cut short while `top` reads it: a clear
           message, a documented non-zero exit status, never a crash
  top      `zring top` in a pseudo-terminal: draws, fits the window, quits
           on q and gives the terminal back
  listing  `ls` (shm and file-backed arenas, stale flag) and `gc`
  persist  checkpoint, restore, verify and journal dump of a journaled arena
"""
import argparse
import fcntl
import json
import os
import pty
import random
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "golden")
ARGS = None
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_CORRUPT, EXIT_NOT_FOUND = 0, 1, 2, 3, 4


def arena_name(tag):
    return "zring-test-cli-%d-%s" % (os.getpid(), tag)


def zring(*args, timeout=60, check_rc=None):
    """Run the tool; return (rc, stdout, stderr). A signal death fails."""
    p = subprocess.run([ARGS.zring] + list(args), capture_output=True, text=True,
                       timeout=timeout, errors="replace")
    if p.returncode < 0 or "Sanitizer" in p.stderr or "runtime error" in p.stderr:
        raise AssertionError("zring %s died: rc %d\n%s" % (" ".join(args), p.returncode,
                                                           p.stderr[-3000:]))
    if check_rc is not None and p.returncode != check_rc:
        raise AssertionError("zring %s: rc %d, expected %d\nstdout:\n%s\nstderr:\n%s" % (
            " ".join(args), p.returncode, check_rc, p.stdout[-3000:], p.stderr[-3000:]))
    return p.returncode, p.stdout, p.stderr


def zjson(*args, rc=0):
    _, out, _ = zring(*args, "--json", check_rc=rc)
    doc = json.loads(out)
    assert doc["schema"] == "zring-cli/1", doc.get("schema")
    return doc


class Fixture:
    """A fixture process holding an arena until stop()."""

    def __init__(self, mode, name, ready):
        self.name = name
        self.p = subprocess.Popen([ARGS.fixture, mode, name], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        line = self.p.stdout.readline().strip()
        if line != ready:
            self.p.kill()
            raise AssertionError("fixture %s said %r" % (mode, line))

    def send(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        return self.p.stdout.readline()

    def stop(self):
        self.p.stdin.close()
        rc = self.p.wait(timeout=120)
        assert rc == 0, "fixture exited %d" % rc


# ---- golden text --------------------------------------------------------------

def normalise(text, name, pid):
    user = subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
    text = text.replace(name, "<ARENA>")
    text = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", "<DATE>", text)
    text = re.sub(r"\b\d+(\.\d+)? (ns|us|ms|s|min|h|d)\b", "<T>", text)
    text = re.sub(r"\bpid %d\b" % pid, "pid <PID>", text)
    text = re.sub(r"\b(pid|tid) \d+", r"\1 <N>", text)
    text = re.sub(r"(?<=\s)%d(?=\s)" % pid, "<PID>", text)
    text = re.sub(r"\b%s\b" % re.escape(user), "<USER>", text)
    text = re.sub(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b",
                  "<UUID>", text)
    # numa node and cpus depend on the machine; widths on the values replaced
    text = re.sub(r"numa -?\d+", "numa <N>", text)
    # process owner ids carry a generation that differs from run to run
    text = re.sub(r"process owner \d+", "process owner <O>", text)
    text = "\n".join(re.sub(r" +", " ", line).rstrip() for line in text.splitlines()) + "\n"
    return re.sub(r"(?m)^ [1-9]\d* <PID> ", " <O> <PID> ", text)


def settled(fx):
    """Let the fixture's queued jobs pass 1 s, so that findings do not depend on timing."""
    time.sleep(1.2)
    return fx


class GoldenText(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.fx = settled(Fixture("golden", arena_name("golden"), "ready"))

    @classmethod
    def tearDownClass(cls):
        cls.fx.stop()

    def compare(self, golden, *args):
        _, out, _ = zring(*args, check_rc=0)
        got = normalise(out, self.fx.name, self.fx.p.pid)
        path = os.path.join(GOLDEN, golden + ".txt")
        if ARGS.regen:
            os.makedirs(GOLDEN, exist_ok=True)
            with open(path, "w") as f:
                f.write(got)
            return
        with open(path) as f:
            want = f.read()
        self.assertEqual(want, got, "golden %s differs (rerun with --regen if intended)" % golden)

    def test_stat(self):
        self.compare("stat", "stat", self.fx.name, "--interval", "0")

    def test_jobs(self):
        self.compare("jobs", "jobs", self.fx.name)

    def test_jobs_filtered(self):
        self.compare("jobs_pending_low", "jobs", self.fx.name, "--status", "pending",
                     "--priority", "low")

    def test_dlq(self):
        self.compare("dlq", "dlq", self.fx.name)

    def test_agents(self):
        self.compare("agents", "agents", self.fx.name)

    def test_ring(self):
        self.compare("ring_events", "ring", self.fx.name, "events")

    def test_inbox(self):
        self.compare("ring_shared", "ring", self.fx.name, "zr.shared")

    def test_check(self):
        self.compare("check", "check", self.fx.name)

    def test_job(self):
        doc = zjson("dlq", self.fx.name)
        self.compare("job_failed", "job", self.fx.name, str(doc["jobs"][0]["id"]))

    def test_help(self):
        _, out, _ = zring("--help", check_rc=0)
        for cmd in ("ls", "stat", "top", "jobs", "job", "dlq", "ring", "agents", "check", "gc"):
            self.assertIn("  %s " % cmd, out)
            _, h, _ = zring(cmd, "--help", check_rc=0)
            self.assertIn("usage: zring %s" % cmd, h)
            self.assertIn("--json", h)
            self.assertIn("exit status:", h)


# ---- JSON ----------------------------------------------------------------------

class Json(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.fx = settled(Fixture("golden", arena_name("json"), "ready"))

    @classmethod
    def tearDownClass(cls):
        cls.fx.stop()

    def test_stat(self):
        d = zjson("stat", self.fx.name, "--interval", "0.1")
        self.assertEqual(d["command"], "stat")
        self.assertEqual(d["arena"]["name"], self.fx.name)
        self.assertGreater(d["interval_ns"], 0)
        j = d["jobs"]
        self.assertEqual(j["by_status"], {"building": 0, "pending": 2, "processing": 1,
                                          "completed": 1, "failed": 1, "cancelled": 1,
                                          "expired": 0, "delayed": 0})
        # beta claims the shared critical and high jobs before its own normal ones
        self.assertEqual(j["by_status_priority"]["pending"],
                         {"critical": 0, "high": 0, "normal": 2, "low": 0})
        self.assertEqual(j["by_status_priority"]["processing"]["low"], 1)
        self.assertEqual(j["by_status_priority"]["completed"]["critical"], 1)
        self.assertEqual(j["by_status_priority"]["failed"]["high"], 1)
        self.assertEqual(j["totals"]["submitted"], 6)
        self.assertEqual(j["totals"]["claimed"], 3)
        self.assertEqual(j["totals"]["completed"], 1)
        self.assertEqual(j["totals"]["dead_letters"], 1)
        self.assertEqual(j["totals"]["cancelled"], 1)
        self.assertEqual(j["rates"]["submitted_per_s"], 0)
        self.assertEqual(j["latency"]["submit_to_claim"]["count"], 3)
        names = sorted(a["name"] for a in d["agents"])
        self.assertEqual(names, ["alpha", "beta"])
        for a in d["agents"]:
            self.assertEqual(a["status"], "alive")
            self.assertEqual(a["pid"], self.fx.p.pid)
        rings = {r["name"]: r for r in d["rings"]}
        self.assertEqual(rings["events"]["depth"], 3)
        self.assertEqual(rings["events"]["enqueued"], 3)
        self.assertEqual(rings["events"]["kind"], "spsc")
        inboxes = {r["name"]: r for r in d["inboxes"]}
        shared = inboxes["zr.shared"]
        self.assertTrue(shared["carries_jobs"])
        depth = {lv["priority"]: lv["depth"] for lv in shared["levels"]}
        # the cancelled job's entry stays until a claimer skips it
        self.assertEqual(depth, {"critical": 0, "high": 0, "normal": 0, "low": 1})
        ages = {lv["priority"]: lv["oldest_age_ns"] for lv in shared["levels"]}
        self.assertEqual(ages["low"], 0)  # not a pending job: no age
        beta = {lv["priority"]: lv for lv in inboxes["zr.in.beta"]["levels"]}
        self.assertEqual(beta["normal"]["depth"], 2)
        self.assertGreater(beta["normal"]["oldest_age_ns"], 10 ** 9)
        self.assertIn("zr.in.alpha", inboxes)
        used = sum(c["in_use"] for c in d["payloads"]["classes"])
        self.assertEqual(used, 6)  # one payload per job record still held
        # beta's inbox waits (over 1 s old), and the dead letter
        self.assertEqual([f["severity"] for f in d["findings"]], ["warning", "info"])

    def test_jobs_filters(self):
        d = zjson("jobs", self.fx.name, "--status", "pending,processing")
        self.assertEqual(d["matched"], 3)
        self.assertEqual([j["priority"] for j in d["jobs"]], ["normal", "normal", "low"])
        self.assertEqual(d["jobs"][2]["holder"], "alpha")
        self.assertEqual(d["jobs"][0]["target"], "beta")
        d = zjson("jobs", self.fx.name, "--agent", "beta")
        self.assertEqual([j["status"] for j in d["jobs"]], ["pending", "pending"])
        d = zjson("jobs", self.fx.name, "--limit", "2")
        self.assertEqual(d["matched"], 6)
        self.assertEqual(len(d["jobs"]), 2)
        zring("jobs", self.fx.name, "--status", "bogus", check_rc=EXIT_USAGE)
        zring("jobs", self.fx.name, "--agent", "nobody", check_rc=EXIT_NOT_FOUND)

    def test_job_and_dlq(self):
        d = zjson("dlq", self.fx.name)
        self.assertEqual(d["matched"], 1)
        failed = d["jobs"][0]
        self.assertEqual(failed["error"], "disk on fire")
        self.assertEqual(failed["meta"], {"fixture": "golden"})
        one = zjson("job", self.fx.name, str(failed["id"]))["job"]
        self.assertEqual(bytes.fromhex(one["payload_head_hex"]), b"high work")
        by_uuid = zjson("job", self.fx.name, failed["uuid"])["job"]
        self.assertEqual(by_uuid["id"], failed["id"])
        zring("job", self.fx.name, str(failed["id"] + (1 << 40)), check_rc=EXIT_NOT_FOUND)
        zring("job", self.fx.name, "banana", check_rc=EXIT_USAGE)

    def test_ring(self):
        d = zjson("ring", self.fx.name, "events")
        self.assertEqual(d["ring"]["entries"], [1000, 2000, 3000])
        d = zjson("ring", self.fx.name, "zr.shared")
        self.assertEqual([len(e) for e in d["ring"]["entries"]], [0, 0, 0, 1])
        zring("ring", self.fx.name, "nope", check_rc=EXIT_NOT_FOUND)

    def test_agents_check(self):
        d = zjson("agents", self.fx.name)
        beta = [a for a in d["agents"] if a["name"] == "beta"][0]
        self.assertEqual(beta["completed"], 1)
        self.assertEqual(beta["latency"]["claim_to_complete"]["count"], 1)
        d = zjson("check", self.fx.name)
        self.assertTrue(d["ok"])
        self.assertEqual(d["violations"], [])

    def test_prometheus(self):
        _, out, _ = zring("stat", self.fx.name, "--prometheus", check_rc=0)
        check_prometheus(self, out)
        self.assertIn('zring_jobs{arena="%s",status="pending",priority="normal"} 2' % self.fx.name,
                      out)
        self.assertIn('zring_ring_depth{arena="%s",ring="events",level=""} 3' % self.fx.name, out)
        _, out, _ = zring("stat", "--prometheus", check_rc=0)  # every arena
        check_prometheus(self, out)
        self.assertIn('arena="%s"' % self.fx.name, out)


def check_prometheus(tc, text):
    """The text exposition format: HELP/TYPE once per family, before its samples."""
    sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*"'
                        r'(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*")*)?\})? (-?[0-9.e+-]+|NaN)$')
    typed, seen_family = {}, []
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            tc.assertNotIn(name, typed, "family %s declared twice" % name)
            typed[name] = kind
            seen_family.append(name)
            continue
        m = sample.match(line)
        tc.assertIsNotNone(m, "bad sample line: %r" % line)
        base = re.sub(r"_(sum|count)$", "", m.group(1))
        tc.assertEqual(seen_family[-1], base if base in typed else m.group(1),
                       "sample %s outside its family" % m.group(1))


# ---- live workload -----------------------------------------------------------

class Live(unittest.TestCase):
    def test_live(self):
        fx = Fixture("workload", arena_name("live"), "running")
        try:
            last = None
            deadline = time.time() + 4
            rounds = 0
            while time.time() < deadline or rounds < 3:
                rounds += 1
                d = zjson("stat", fx.name, "--interval", "0.1")
                t = d["jobs"]["totals"]
                if last:
                    for k in ("submitted", "claimed", "completed", "failed"):
                        self.assertGreaterEqual(t[k], last[k], k)
                last = t
                self.assertIsNotNone(d["jobs"]["rates"]["submitted_per_s"])
                c = zjson("check", fx.name)
                self.assertTrue(c["ok"], c["violations"])
                zjson("jobs", fx.name, "--limit", "5")
                zjson("ring", fx.name, "events")
                zjson("ring", fx.name, "zr.shared")
                zjson("agents", fx.name)
                zjson("dlq", fx.name)
                _, prom, _ = zring("stat", fx.name, "--prometheus", check_rc=0)
                check_prometheus(self, prom)
                zring("stat", fx.name, "--interval", "0", check_rc=0)
            self.assertGreater(last["completed"], 100, "the workload hardly moved")
            counts = json.loads(fx.send("quiesce"))
            d = zjson("stat", fx.name, "--interval", "0")
            t, rt, tally = d["jobs"]["totals"], counts["runtime"], counts["tally"]
            for k in ("submitted", "claimed", "completed", "failed", "retried", "released",
                      "dead_letters"):
                self.assertEqual(t[k], rt[k], k)
            self.assertEqual(d["jobs"]["by_status"]["pending"], rt["pending"])
            self.assertEqual(d["jobs"]["free_records"], rt["free_records"])
            # and what the processes counted themselves
            self.assertEqual(t["submitted"], tally["submitted"])
            self.assertEqual(t["completed"], tally["completed"])
            self.assertEqual(t["failed"], tally["failed"])
            self.assertEqual(t["released"], tally["released"])
            self.assertEqual(d["jobs"]["free_records"], d["arena"]["max_jobs"])
            ev = [r for r in d["rings"] if r["name"] == "events"][0]
            self.assertEqual(ev["enqueued"], rt["events_enqueued"])
            self.assertEqual(ev["enqueued"], tally["events_in"])
            self.assertEqual(ev["dequeued"], tally["events_out"])
            self.assertEqual(ev["depth"], rt["events_depth"])
            self.assertEqual(sum(a["completed"] for a in d["agents"]), tally["completed"])
            self.assertEqual(sum(a["submitted"] for a in d["agents"]), tally["submitted"])
        finally:
            fx.stop()


# ---- corrupt, truncated, foreign ---------------------------------------------

COMMANDS = [("stat", "--interval", "0"), ("stat", "--json", "--interval", "0"),
            ("check",), ("jobs",), ("dlq",), ("agents",), ("ring", "events"),
            ("ring", "zr.shared"), ("stat", "--prometheus")]


def shm(name):
    return os.path.join("/dev/shm", name)


class Corrupt(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.fx = Fixture("golden", arena_name("src"), "ready")
        with open(shm(cls.fx.name), "rb") as f:
            cls.image = f.read()
        cls.made = []

    @classmethod
    def tearDownClass(cls):
        for n in cls.made:
            try:
                os.unlink(shm(n))
            except FileNotFoundError:
                pass
        cls.fx.stop()

    def segment(self, tag, data):
        n = arena_name(tag)
        with open(shm(n), "wb") as f:
            f.write(data)
        os.chmod(shm(n), 0o600)
        self.made.append(n)
        return n

    def each_command(self, name, allowed, message=None):
        for cmd in COMMANDS:
            rc, out, err = zring(cmd[0], name, *cmd[1:])
            self.assertIn(rc, allowed, "%s: rc %d\n%s" % (cmd, rc, err))
            if rc:
                self.assertTrue(err.startswith("zring: ") or (cmd[0] == "check" and rc == 3),
                                "%s: rc %d, stderr %r" % (cmd, rc, err))
                if message:
                    self.assertRegex(err, message)
            if rc == 0 and "--json" in cmd:
                json.loads(out)

    def test_missing(self):
        rc, _, err = zring("stat", arena_name("nothing"))
        self.assertEqual(rc, EXIT_NOT_FOUND)
        self.assertIn("no such arena", err)
        self.assertIn("zring ls", err)

    def test_foreign(self):
        n = self.segment("foreign", random.Random(1).randbytes(1 << 20))
        self.each_command(n, (EXIT_ERROR,), "not zring")

    def test_empty(self):
        n = self.segment("empty", b"")
        self.each_command(n, (EXIT_ERROR,), "creator died")

    def test_truncated(self):
        for size in (100, 4096, len(self.image) // 2, len(self.image) - 1):
            n = self.segment("trunc%d" % size, self.image[:size])
            self.each_command(n, (EXIT_ERROR,), "bytes|cut short")

    def test_header_flips(self):
        rnd = random.Random(2)
        for i in range(40):
            img = bytearray(self.image)
            img[rnd.randrange(0, 4096)] ^= 1 << rnd.randrange(8)
            n = self.segment("hdr%d" % i, bytes(img))
            self.each_command(n, (EXIT_OK, EXIT_ERROR, EXIT_CORRUPT, EXIT_NOT_FOUND))
            os.unlink(shm(n))

    def test_body_flips(self):
        """Random damage past the header: the tool reports, it does not crash."""
        rnd = random.Random(int(os.environ.get("ZR_SEED", "3")))
        cases = int(os.environ.get("ZR_CLI_FLIPS", "60"))
        bad_seen = 0
        for i in range(cases):
            img = bytearray(self.image)
            for _ in range(rnd.choice((1, 8, 64))):
                off = rnd.randrange(4096, len(img))
                img[off:off + 8] = rnd.randbytes(8)
            n = self.segment("body%d" % i, bytes(img))
            rc, out, _ = zring("check", n, "--json")
            self.assertIn(rc, (EXIT_OK, EXIT_CORRUPT))
            if rc == EXIT_CORRUPT:
                bad_seen += 1
                d = json.loads(out)
                self.assertGreater(d["violations_found"], 0)
                for v in d["violations"]:
                    self.assertTrue(v["area"] and v["what"])
            self.each_command(n, (EXIT_OK, EXIT_ERROR, EXIT_CORRUPT, EXIT_NOT_FOUND))
            os.unlink(shm(n))
        self.assertGreater(bad_seen, 0, "no damage was ever detected")

    def test_scribbled_ring_slot(self):
        """A known corruption is reported with its area and offset."""
        d = zjson("stat", self.fx.name, "--interval", "0")
        inbox = [r for r in d["inboxes"] if r["name"] == "zr.shared"][0]
        img = bytearray(self.image)
        # 16 bytes into the first slot area of the inbox is deep inside its rings
        off = inbox["offset"] + 4096
        img[off:off + 8] = b"\xff" * 8
        n = self.segment("slot", bytes(img))
        rc, out, err = zring("check", n)
        self.assertIn(rc, (EXIT_CORRUPT,), out + err)
        self.assertRegex(out, r"violation: rings")

    def test_cut_under_top(self):
        """The segment shrinks while `top` reads it: a message, exit 3."""
        n = self.segment("shrink", self.image)
        p = subprocess.Popen([ARGS.zring, "top", n, "--interval", "0.05", "--iterations",
                              "400"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True)
        time.sleep(0.5)
        os.truncate(shm(n), 1 << 16)
        _, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, EXIT_CORRUPT, err)
        self.assertIn("faulted at offset", err)


# ---- top in a pty ------------------------------------------------------------

class Top(unittest.TestCase):
    def test_top(self):
        fx = Fixture("golden", arena_name("top"), "ready")
        try:
            pid, fd = pty.fork()
            if pid == 0:
                os.environ["TERM"] = "xterm"
                os.execv(ARGS.zring, [ARGS.zring, "top", fx.name, "--interval", "0.2"])
            fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 20, 70, 0, 0))
            before = termios.tcgetattr(fd)
            buf = b""
            deadline = time.time() + 20
            while time.time() < deadline and buf.count(b"zring top") < 3:
                r, _, _ = select.select([fd], [], [], 0.5)
                if r:
                    buf += os.read(fd, 65536)
            self.assertGreaterEqual(buf.count(b"zring top"), 3, buf[-2000:])
            self.assertIn(b"\x1b[?1049h", buf)  # alternate screen
            during = termios.tcgetattr(fd)
            self.assertFalse(during[3] & termios.ICANON)
            self.assertFalse(during[3] & termios.ECHO)
            frame = buf.split(b"\x1b[H")[-2]  # the last may still be arriving
            text = re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b"", frame).decode(errors="replace")
            lines = text.replace("\r", "").split("\n")
            self.assertLessEqual(len(lines), 20)
            self.assertTrue(all(len(l) <= 70 for l in lines), lines)
            self.assertIn("health:", text)
            self.assertIn("jobs", text)
            os.write(fd, b"q")
            end = time.time() + 5
            status = None
            while time.time() < end:
                try:
                    buf += os.read(fd, 65536)
                except OSError:
                    pass
                wpid, status = os.waitpid(pid, os.WNOHANG)
                if wpid:
                    break
                time.sleep(0.05)
            self.assertIsNotNone(status)
            self.assertTrue(os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status)
            self.assertIn(b"\x1b[?1049l", buf)  # screen given back
            self.assertTrue(before[3] & termios.ECHO or True)
            os.close(fd)
        finally:
            fx.stop()

    def test_batch(self):
        fx = Fixture("golden", arena_name("batch"), "ready")
        try:
            _, out, _ = zring("top", fx.name, "--interval", "0.1", "--iterations", "3",
                              check_rc=0)
            self.assertEqual(out.count("zring top"), 3)
            self.assertNotIn("\x1b[", out)
            _, out, _ = zring("top", fx.name, "--interval", "0.1", "--iterations", "2",
                              "--json", check_rc=0)
            frames = [json.loads(l) for l in out.splitlines()]
            self.assertEqual([f["command"] for f in frames], ["top", "top"])
            self.assertEqual(frames[0]["interval_ns"], 0)
            self.assertGreater(frames[1]["interval_ns"], 0)
        finally:
            fx.stop()

    def test_sigterm_restores(self):
        fx = Fixture("golden", arena_name("term"), "ready")
        try:
            pid, fd = pty.fork()
            if pid == 0:
                os.execv(ARGS.zring, [ARGS.zring, "top", fx.name, "--interval", "0.2"])
            buf = b""
            deadline = time.time() + 20
            while time.time() < deadline and b"zring top" not in buf:
                r, _, _ = select.select([fd], [], [], 0.5)
                if r:
                    buf += os.read(fd, 65536)
            os.kill(pid, signal.SIGTERM)
            _, status = os.waitpid(pid, 0)
            try:
                while True:
                    r, _, _ = select.select([fd], [], [], 0.2)
                    if not r:
                        break
                    buf += os.read(fd, 65536)
            except OSError:
                pass
            self.assertEqual(os.WEXITSTATUS(status), 128 + signal.SIGTERM)
            self.assertIn(b"\x1b[?1049l", buf)
            os.close(fd)
        finally:
            fx.stop()


# ---- ls and gc ---------------------------------------------------------------

class Listing(unittest.TestCase):
    def test_ls_shm_and_file(self):
        fx = Fixture("golden", arena_name("ls"), "ready")
        path = os.path.join("/tmp", arena_name("file"))
        ff = Fixture("golden-file", path, "ready")
        try:
            d = zjson("ls")
            rows = {r["name"]: r for r in d["arenas"]}
            row = rows[fx.name]
            self.assertEqual(row["state"], "ok")
            self.assertEqual(row["agents_alive"], 2)
            self.assertEqual(row["jobs_pending"], 2)
            self.assertEqual(row["creator_pid"], fx.p.pid)
            self.assertFalse(row["file_backed"])
            files = [r for r in d["arenas"] if r["path"] == path]
            self.assertEqual(len(files), 1, d)
            self.assertTrue(files[0]["file_backed"])
            self.assertEqual(files[0]["agents_alive"], 2)
            s = zjson("stat", path, "--interval", "0")
            self.assertTrue(s["arena"]["file_backed"])
            _, out, _ = zring("ls", check_rc=0)
            self.assertIn(fx.name, out)
            self.assertIn(path, out)
        finally:
            ff.stop()
            fx.stop()

    def test_gc(self):
        name = arena_name("stale")
        subprocess.run([ARGS.fixture, "stale", name], check=True)
        try:
            d = zjson("ls")
            row = [r for r in d["arenas"] if r["name"] == name][0]
            self.assertTrue(row["stale"])
            self.assertEqual(row["state"], "stale")
            _, out, _ = zring("gc", "--dry-run", check_rc=0)
            self.assertIn(name, out)
            self.assertTrue(os.path.exists(shm(name)))
            rc, _, err = zring("gc", "--json")  # no terminal, no --yes: refuses
            self.assertEqual(rc, EXIT_USAGE, err)
            self.assertTrue(os.path.exists(shm(name)))
            g = zjson("gc", "--yes")
            self.assertIn(name, g["removed"])
            self.assertFalse(os.path.exists(shm(name)))
        finally:
            if os.path.exists(shm(name)):
                os.unlink(shm(name))

    def test_usage(self):
        zring(check_rc=EXIT_USAGE)
        zring("frobnicate", check_rc=EXIT_USAGE)
        zring("stat", check_rc=EXIT_USAGE)
        zring("stat", "x", "--limit", "3", check_rc=EXIT_USAGE)  # not a stat option
        zring("jobs", "x", "--limit", "zero", check_rc=EXIT_USAGE)


# ---- persistence ------------------------------------------------------------------

class Persist(unittest.TestCase):
    """checkpoint, restore, verify and journal dump on a journaled arena."""

    def setUp(self):
        import tempfile
        self.tmp = tempfile.mkdtemp(prefix="zring-cli-persist-")
        self.jdir = os.path.join(self.tmp, "journal")
        self.cdir = os.path.join(self.tmp, "ckpt")
        os.mkdir(self.jdir)
        self.src, self.dst = arena_name("psrc"), arena_name("pdst")
        p = subprocess.run([ARGS.fixture, "journaled", self.src, self.jdir])
        self.assertEqual(p.returncode, 0)

    def tearDown(self):
        import shutil
        for n in (self.src, self.dst):
            if os.path.exists("/dev/shm/" + n):
                os.remove("/dev/shm/" + n)
        shutil.rmtree(self.tmp)

    def totals(self, name):
        d = zjson("stat", name, "--interval", "0")
        return {k: v for k, v in d["jobs"]["by_status"].items()}

    def test_checkpoint_restore_verify(self):
        before = self.totals(self.src)
        c = zjson("checkpoint", self.src, "--dir", self.cdir, "--kind", "full")["checkpoint"]
        self.assertEqual(c["seq"], 1)
        self.assertEqual(c["kind"], "full")
        self.assertEqual(c["chunks"], c["chunks_written"] + c["chunks_dedup"])
        c2 = zjson("checkpoint", self.src, "--dir", self.cdir)["checkpoint"]
        self.assertEqual((c2["kind"], c2["parent"], c2["chunks_written"]), ("incremental", 1, 0))
        os.remove("/dev/shm/" + self.src)  # the arena is lost
        r = zjson("restore", self.dst, "--dir", self.cdir, "--journal", self.jdir)
        self.assertEqual(r["restore"]["ckpt_seq"], 2)
        self.assertEqual(r["problems"], [])
        self.assertEqual(self.totals(self.dst), before)
        self.assertEqual(zjson("verify", self.cdir)["ok"], True)
        v = zjson("verify", self.jdir)
        self.assertTrue(v["ok"])
        self.assertGreater(v["journal"]["records"], 0)
        d = zjson("journal", "dump", self.jdir)
        types = {rec["type"] for rec in d["records"]}
        self.assertIn("submit", types)
        _, out, _ = zring("journal", "dump", self.jdir, "--limit", "3", check_rc=EXIT_OK)
        self.assertEqual(len(out.splitlines()), 3)

    def test_damage_is_reported(self):
        os.remove("/dev/shm/" + self.src)
        seg = sorted(f for f in os.listdir(self.jdir) if f.endswith(".zjl"))[0]
        path = os.path.join(self.jdir, seg)
        with open(path, "r+b") as f:
            f.seek(4096 + 3000)
            b = f.read(1)
            f.seek(4096 + 3000)
            f.write(bytes([b[0] ^ 0x40]))
        v = zjson("verify", self.jdir, rc=EXIT_CORRUPT)
        self.assertFalse(v["ok"])
        self.assertEqual(v["problems"][0]["file"], path)
        r = zjson("restore", self.dst, "--journal", self.jdir, rc=EXIT_CORRUPT)["restore"]
        self.assertGreater(r["corrupt_records"], 0)
        self.assertGreater(r["rollback_lsn"], 0)
        self.assertLess(r["last_lsn"], r["rollback_lsn"])
        zring("verify", self.tmp, check_rc=EXIT_NOT_FOUND)
        zring("restore", self.dst, check_rc=EXIT_USAGE)


SUITES = {"golden": [GoldenText], "json": [Json], "live": [Live], "corrupt": [Corrupt],
          "top": [Top], "listing": [Listing], "persist": [Persist]}


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--zring", required=True)
    ap.add_argument("--fixture", required=True)
    ap.add_argument("--regen", action="store_true")
    ap.add_argument("suite", choices=sorted(SUITES))
    ap.add_argument("rest", nargs="*")
    ARGS = ap.parse_args()
    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    for cls in SUITES[ARGS.suite]:
        if ARGS.rest:
            for t in ARGS.rest:
                suite.addTest(cls(t))
        else:
            suite.addTests(loader.loadTestsFromTestCase(cls))
    res = unittest.TextTestRunner(verbosity=2).run(suite)
    sys.exit(0 if res.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
