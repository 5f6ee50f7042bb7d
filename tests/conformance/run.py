#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# tests/conformance/run.py: runs Valkey's Tcl test suite (runtest + tests/ of a Valkey
# source tree, or its .tar.gz) against a server it starts, in external mode, one test
# file at a time, each on a fresh server on a free loopback port. Prints one line per
# file (passed/failed/skipped) and a total; writes each file's output, the names of the
# failing tests and a TSV summary to the log directory. With --ref it runs the same files
# against a reference server (redis-server, valkey-server) and shows both side by side,
# plus the tests the reference passes and the server under test does not.
# Standard library only. How to run it: README.md "Conformance"; numbers:
# docs/conformance.md.
import argparse
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time

DEFAULT_FILES = (
    "unit/type/string unit/type/incr unit/type/hash unit/type/set unit/type/zset "
    "unit/type/list unit/expire unit/keyspace unit/scan unit/info-command unit/sort "
    "unit/other unit/protocol unit/quit unit/introspection-2 unit/multi unit/pubsub "
    "unit/pubsubshard unit/latency-monitor unit/bitops unit/bitfield unit/hyperloglog "
    "unit/geo"
)
# The flags of Valkey's CI job that tests an external server. --durable turns an
# unexpected error inside one test into that test's failure instead of ending the file.
SUITE_FLAGS = [
    "--singledb", "--ignore-encoding", "--ignore-digest", "--clients", "1",
    "--tags", "-slow -needs:repl -needs:save -needs:pfdebug -needs:other-server",
    "--durable",
]
ANSI = re.compile(r"\x1b\[[0-9;]*m")
LINE = re.compile(r"^\[(ok|err|skip|ignore|exception|timeout)\]: (.*?)(?: \(\d+ ms\))?$")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def suite_base_port():
    """A --baseport for the suite's own test-server socket: it takes the first port of
    [base-32, base) whose port+10000 is free too, so look for such a pair below 55000."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20000, 45000)
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 10000))
            return port + 32
        except OSError:
            continue
    sys.exit("conformance: no free port pair for the suite's test server")


def ping(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def suite_tree(src, scratch):
    """A private copy of runtest's files (tests/ is written to while it runs)."""
    if os.path.isfile(src):
        with tarfile.open(src) as tar:
            members = [m for m in tar.getmembers() if re.match(r"^[^/]+/tests(/|$)", m.name)]
            if hasattr(tarfile, "data_filter"):
                tar.extractall(scratch, members=members, filter="data")
            else:
                tar.extractall(scratch, members=members)
        tops = [d for d in os.listdir(scratch) if os.path.isdir(os.path.join(scratch, d, "tests"))]
        if len(tops) != 1:
            sys.exit(f"conformance: {src} does not hold one tree with a tests/ folder")
        root = os.path.join(scratch, tops[0])
    else:
        if not os.path.isfile(os.path.join(src, "tests", "test_helper.tcl")):
            sys.exit(f"conformance: {src} has no tests/test_helper.tcl (not a Valkey tree?)")
        root = os.path.join(scratch, "valkey")
        shutil.copytree(os.path.join(src, "tests"), os.path.join(root, "tests"), symlinks=True)
    os.makedirs(os.path.join(root, "tests", "tmp"), exist_ok=True)
    return root


def server_argv(binary, port, workdir):
    """As Valkey's external CI starts its server: no snapshots, DEBUG allowed."""
    return [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
            "--appendonly", "no", "--daemonize", "no", "--enable-debug-command", "yes",
            "--dir", workdir]


class Server:
    def __init__(self, binary, workdir, log_path):
        self.port = free_port()
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(server_argv(binary, self.port, workdir),
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     cwd=workdir, start_new_session=True)
        deadline = time.monotonic() + 20
        while not ping(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"server did not start (log: {log_path})")
            time.sleep(0.05)

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def parse(output):
    """Counts and the names of passed, failed and skipped tests in the suite's output. An
    error outside any test (in a block's set-up) is reported by the suite as a failure
    named by the error, and the rest of that block does not run: compare() counts such
    tests as not reached."""
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    names = {"passed": [], "failed": [], "skipped": []}
    for raw in output.splitlines():
        m = LINE.match(ANSI.sub("", raw).rstrip())
        if not m:
            continue
        kind, name = m.groups()
        key = {"ok": "passed", "skip": "skipped", "ignore": "skipped"}.get(kind, "failed")
        counts[key] += 1
        names[key].append(name)
    return counts, names


def run_suite_file(tree, tclsh, port, test_file, timeout):
    """Runs one test file; returns (output, note). The suite's own test-server port is
    chosen free too (it scans 32 ports below --baseport)."""
    cmd = [tclsh, "tests/test_helper.tcl", "--host", "127.0.0.1", "--port", str(port),
           "--baseport", str(suite_base_port()), "--timeout", str(timeout)]
    cmd += SUITE_FLAGS + ["--single", test_file]
    proc = subprocess.Popen(cmd, cwd=tree, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    note = ""
    try:
        out, _ = proc.communicate(timeout=timeout + 60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        note = f"killed after {timeout + 60} s"
    except BaseException:  # interrupted: the suite's processes go with us
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    text = out.decode("utf-8", "replace")
    if not note and proc.returncode != 0 and "[exception]" in ANSI.sub("", text):
        note = "the file ended early on an exception"
    return text, note


def run_all(label, binary, tree, tclsh, files, log_dir, timeout):
    os.makedirs(log_dir, exist_ok=True)
    results = {}
    width = max(len(f) for f in files)
    print(f"== {label}: {binary}")
    for test_file in files:
        slug = test_file.replace("/", "_")
        workdir = tempfile.mkdtemp(prefix="srv-", dir=tree)
        try:
            server = Server(binary, workdir, os.path.join(log_dir, slug + ".server.log"))
        except RuntimeError as e:
            results[test_file] = ({"passed": 0, "failed": 0, "skipped": 0},
                                  {"passed": [], "failed": [], "skipped": []}, str(e))
            print(f"{test_file:<{width}}  {e}")
            continue
        try:
            output, note = run_suite_file(tree, tclsh, server.port, test_file, timeout)
            if not server.alive():
                note = (note + "; " if note else "") + f"server exited ({server.proc.returncode})"
        finally:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        with open(os.path.join(log_dir, slug + ".log"), "w") as f:
            f.write(output)
        counts, names = parse(output)
        results[test_file] = (counts, names, note)
        print(f"{test_file:<{width}}  passed {counts['passed']:4}  failed {counts['failed']:4}"
              f"  skipped {counts['skipped']:4}" + (f"  ({note})" if note else ""), flush=True)
    total = {k: sum(r[0][k] for r in results.values()) for k in ("passed", "failed", "skipped")}
    print(f"{'total':<{width}}  passed {total['passed']:4}  failed {total['failed']:4}"
          f"  skipped {total['skipped']:4}")
    with open(os.path.join(log_dir, "failures.txt"), "w") as f:
        for test_file, (_, names, note) in results.items():
            if note:
                f.write(f"{test_file}: ({note})\n")
            for name in names["failed"]:
                f.write(f"{test_file}: {name}\n")
    with open(os.path.join(log_dir, "summary.tsv"), "w") as f:
        f.write("file\tpassed\tfailed\tskipped\tnote\n")
        for test_file, (c, _, note) in results.items():
            f.write(f"{test_file}\t{c['passed']}\t{c['failed']}\t{c['skipped']}\t{note}\n")
    print(f"failing tests: {os.path.join(log_dir, 'failures.txt')}")
    return results, total


def compare(files, mine, ref, log_dir):
    """Per file: passed here / passed by the reference, and how many tests the reference
    ran that did not run here at all (a set-up error ended their block)."""
    width = max(len(f) for f in files)
    print("== per file: passed here / passed by the reference (tests not reached here)")
    sums = [0, 0, 0]
    with open(os.path.join(log_dir, "ref-only-passes.txt"), "w") as f:
        for test_file in files:
            a, b = mine[test_file][1], ref[test_file][1]
            seen_here = set(a["passed"]) | set(a["failed"]) | set(a["skipped"])
            seen_ref = set(b["passed"]) | set(b["failed"]) | set(b["skipped"])
            missing = len(seen_ref - seen_here)
            row = [len(a["passed"]), len(b["passed"]), missing]
            sums = [x + y for x, y in zip(sums, row)]
            print(f"{test_file:<{width}}  {row[0]:4} / {row[1]:4}  ({row[2]} not reached)")
            for name in b["passed"]:
                if name not in set(a["passed"]):
                    f.write(f"{test_file}: {name}\n")
    print(f"{'total':<{width}}  {sums[0]:4} / {sums[1]:4}  ({sums[2]} not reached)")
    print(f"tests the reference passes and the server under test does not: "
          f"{os.path.join(log_dir, 'ref-only-passes.txt')}")


def on_sigterm(signum, frame):
    raise SystemExit(128 + signum)  # unwinds through the finally blocks: nothing left running


def main():
    signal.signal(signal.SIGTERM, on_sigterm)
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--server", required=True, help="the server under test (binary)")
    ap.add_argument("--ref", default="", help="a reference server to run the same files on")
    ap.add_argument("--valkey-src", required=True, help="Valkey source tree or .tar.gz")
    ap.add_argument("--files", default=DEFAULT_FILES, help="test files, space separated")
    ap.add_argument("--log-dir", default="build/conformance")
    ap.add_argument("--timeout", type=int, default=300,
                    help="seconds a file may go without progress (the suite's --timeout)")
    args = ap.parse_args()

    tclsh = shutil.which("tclsh8.6") or shutil.which("tclsh")
    if not tclsh:
        sys.exit("conformance: tclsh not found (apt-get install tcl)")
    if not args.valkey_src or not os.path.exists(args.valkey_src):
        sys.exit(f"conformance: VALKEY_SRC '{args.valkey_src}' is missing "
                 "(a Valkey source tree or its .tar.gz)")
    for binary in [args.server] + ([args.ref] if args.ref else []):
        if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
            sys.exit(f"conformance: {binary} is not an executable")
    files = args.files.split()
    scratch = tempfile.mkdtemp(prefix="memshim-conformance-")
    try:
        tree = suite_tree(args.valkey_src, scratch)
        for f in files:
            if not os.path.isfile(os.path.join(tree, "tests", f + ".tcl")):
                sys.exit(f"conformance: no test file tests/{f}.tcl in {args.valkey_src}")
        server = os.path.abspath(args.server)
        log_dir = os.path.abspath(args.log_dir)
        mine, total = run_all("server", server, tree, tclsh, files, log_dir, args.timeout)
        if args.ref:
            ref, _ = run_all("reference", os.path.abspath(args.ref), tree, tclsh, files,
                             os.path.join(log_dir, "ref"), args.timeout)
            compare(files, mine, ref, log_dir)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0 if total["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
