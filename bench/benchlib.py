"""Pieces shared by the fleet benchmarks in this directory: building flotilla, installing dbmate,
measuring CPU and describing the machine, and printing tables. Each benchmark script imports them;
the scripts themselves hold only what their database needs.
"""

from __future__ import annotations

import glob
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
TOOLS = BENCH_DIR / ".tools"
FLOTILLA = REPO / "target" / "release" / "flotilla"
# Peak RSS comes from GNU time: Linux counts the memory of the process that calls exec() in the new
# program's peak, so a child started from Python would report the interpreter's size.
GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None
# Pinned so that a rerun on a fresh clone measures the same dbmate as the recorded figures.
DBMATE_PACKAGE = "dbmate@2.36.0"


def sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def run_quiet(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, **kwargs)


def build_flotilla() -> None:
    print("building: cargo build --release -p flotilla", flush=True)
    result = subprocess.run(["cargo", "build", "--release", "-p", "flotilla"], cwd=REPO)
    if result.returncode != 0:
        sys.exit("error: cargo build failed; nothing was measured")


def find_dbmate() -> Path | None:
    """The native binary the npm package ships. node_modules/.bin/dbmate is a Node.js wrapper that
    spawns it; going through the wrapper would add a Node start-up to every tenant."""
    native = sorted(glob.glob(str(TOOLS / "node_modules" / "@dbmate" / "*" / "bin" / "dbmate")))
    return Path(native[0]) if native else None


def ensure_dbmate() -> tuple[Path | None, str]:
    """Returns (binary, note); binary is None when dbmate cannot be had, and note says why."""
    binary = find_dbmate()
    if binary is None:
        npm = shutil.which("npm")
        if npm is None:
            return None, "npm is not installed, so dbmate cannot be installed"
        print(f"installing: npm install --prefix bench/.tools {DBMATE_PACKAGE}", flush=True)
        TOOLS.mkdir(parents=True, exist_ok=True)
        result = run_quiet([npm, "install", "--no-audit", "--no-fund", "--prefix", str(TOOLS), DBMATE_PACKAGE])
        if result.returncode != 0:
            return None, "npm install failed: " + (result.stderr.strip().splitlines() or ["?"])[-1]
        binary = find_dbmate()
        if binary is None:
            return None, "the dbmate package installed no native binary for this platform"
    version = run_quiet([str(binary), "--version"]).stdout.strip()
    return binary, version


def machine_busy_s() -> float:
    """CPU seconds the whole machine has spent in processes and kernel threads, from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except OSError:
        return float("nan")
    # user, nice, system (guest time is already inside user and nice)
    return sum(fields[:3]) / os.sysconf("SC_CLK_TCK")


def kernel_threads_s() -> float:
    """CPU seconds used so far by kernel threads (kthreadd and its children)."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        pid, ppid = int(entry.name), int(fields[1])
        if pid == 2 or ppid == 2:
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def mib(kib: int | None) -> str:
    return "n/a" if kib is None else f"{kib / 1024:.1f}"


def log_tail(log: Path, lines: int = 10) -> list[str]:
    try:
        text = log.read_text(errors="replace").splitlines()
    except OSError:
        return []
    return ["log: " + line for line in text[-lines:]]


def shout(headline: str, details: list[str]) -> None:
    bar = "!" * 100
    print(f"\n{bar}\n!!! BENCHMARK FAILED: {headline}", file=sys.stderr)
    for line in details:
        print(f"!!!   {line}", file=sys.stderr)
    print(bar + "\n", file=sys.stderr, flush=True)


def rel(path: Path) -> str:
    try:
        return str(path.relative_to(REPO))
    except ValueError:
        return str(path)


def machine_description() -> list[str]:
    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    system = platform.platform()
    try:
        for line in open("/etc/os-release"):
            if line.startswith("PRETTY_NAME="):
                system = line.split("=", 1)[1].strip().strip('"') + f", Linux {platform.release()}"
    except OSError:
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [f"machine: {os.cpu_count()} CPUs ({cpu}), {system}", f"load average at start: {load}"]
    if GNU_TIME is None:
        lines.append("*** peak RSS not measured: /usr/bin/time is missing (Debian package `time`) ***")
    return lines


def flotilla_description() -> str:
    version = run_quiet([str(FLOTILLA), "--version"]).stdout.strip()
    try:
        commit = run_quiet(["git", "rev-parse", "--short", "HEAD"], cwd=REPO).stdout.strip()
        dirty = run_quiet(
            ["git", "status", "--porcelain", "--", "crates", "Cargo.toml", "Cargo.lock"], cwd=REPO
        ).stdout.strip()
        commit = f" at commit {commit}" + (" + uncommitted changes" if dirty else "")
    except OSError:
        commit = ""
    return f"{version}{commit}"


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])

