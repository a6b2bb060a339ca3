#!/usr/bin/env python3
"""Apply the repository's migrations to a fleet of SQLite tenant files, with several runners side by side.

Runners (each gets a fresh copy of N empty tenant files per repetition; setup is not timed):

  flotilla-migration  target/release/flotilla apply --no-progress, transaction = "migration"
  flotilla-tenant     the same with transaction = "tenant"
  floor               the sqlite3 shell, one process per file, 8 at a time (xargs -P 8), one
                      transaction per migration with its flotilla_migrations row inside it: the least
                      work any tool can do to migrate the fleet with the same bookkeeping
  dbmate              dbmate (installed from the npm registry into bench/.tools/), one process per
                      file, 8 at a time (xargs -P 8)

Runners alternate (A B C D A B C D ...) for --reps repetitions so that a change in the machine's load
hits every runner alike. Reported per runner: median wall time, median ms per tenant, median ratio of
its wall time to the floor's in the same repetition, median CPU (user + sys of the child processes)
per tenant, and peak RSS. Every tenant is checked after every run; a runner that did not migrate every
tenant makes the benchmark fail, loudly, with exit status 1.

  python3 bench/sqlite-fleet.py --tenants 1000 --reps 5
  python3 bench/sqlite-fleet.py --rss-only 1000 10000     # flotilla's peak RSS at each fleet size

Python 3.11, standard library only. Scratch files go to bench/.work/ and tools to bench/.tools/.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import glob
import hashlib
import os
import platform
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from benchlib import (
    BENCH_DIR,
    DBMATE_PACKAGE,
    FLOTILLA,
    GNU_TIME,
    REPO,
    TOOLS,
    sql_text,
    run_quiet,
    build_flotilla,
    find_dbmate,
    ensure_dbmate,
    machine_busy_s,
    kernel_threads_s,
    own_cpu_s,
    mib,
    log_tail,
    shout,
    rel,
    machine_description,
    flotilla_description,
    median,
    table,
)

WORK = BENCH_DIR / ".work" / "sqlite-fleet"
MIGRATIONS = REPO / "migrations"
SQLITE3 = shutil.which("sqlite3") or "/usr/bin/sqlite3"

FLOOR = "floor"
DBMATE = "dbmate"


# ----------------------------------------------------------------------------------------------------
# Migrations


@dataclasses.dataclass
class Migration:
    version: int
    name: str
    up: str
    checksum: str


def load_migrations(directory: Path) -> list[Migration]:
    """The native `<version>_<name>.sql` files; the up section is the text between the `-- migrate:up`
    line and the `-- migrate:down` line, hashed the way flotilla hashes it (BOM dropped, CRLF -> LF)."""
    out = []
    for path in sorted(directory.glob("*.sql")):
        version, _, name = path.stem.partition("_")
        text = path.read_text(encoding="utf-8").removeprefix("\ufeff").replace("\r\n", "\n")
        up: list[str] | None = None
        for line in text.splitlines(keepends=True):
            directive = line.strip().removeprefix("--").strip()
            if directive.startswith("migrate:up"):
                up = []
            elif directive.startswith("migrate:down"):
                break
            elif up is not None:
                up.append(line)
        if up is None:
            sys.exit(f"error: {path.name} has no `-- migrate:up` section")
        sql = "".join(up)
        out.append(Migration(int(version), name, sql, hashlib.sha256(sql.encode()).hexdigest()))
    if not out:
        sys.exit(f"error: no migrations in {directory}")
    return out


def floor_script(migrations: list[Migration], run_id: str) -> str:
    """One transaction per migration: its up section and its tracking row commit together."""
    parts = [
        # flotilla's connections (sqlx) turn foreign keys on; the shell leaves them off by default.
        "PRAGMA foreign_keys = ON;\n",
    ]
    for index, m in enumerate(migrations):
        parts.append("BEGIN IMMEDIATE;\n")
        if index == 0:
            parts.append(
                "CREATE TABLE IF NOT EXISTS flotilla_migrations (\n"
                "    version BIGINT PRIMARY KEY,\n"
                "    name TEXT NOT NULL,\n"
                "    checksum TEXT NOT NULL,\n"
                "    applied_at TEXT NOT NULL,\n"
                "    duration_ms BIGINT NOT NULL,\n"
                "    run_id TEXT,\n"
                "    dirty BOOLEAN NOT NULL DEFAULT FALSE\n"
                ");\n"
            )
        parts.append(m.up if m.up.endswith("\n") else m.up + "\n")
        parts.append(
            "INSERT INTO flotilla_migrations (version, name, checksum, applied_at, duration_ms, run_id, dirty) "
            f"VALUES ({m.version}, {sql_text(m.name)}, {sql_text(m.checksum)}, "
            f"strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 0, {sql_text(run_id)}, FALSE);\n"
        )
        parts.append("COMMIT;\n")
    return "".join(parts)


# ----------------------------------------------------------------------------------------------------
# Tools


# ----------------------------------------------------------------------------------------------------
# Measuring


@dataclasses.dataclass
class Measurement:
    wall_s: float
    cpu_s: float  # user + sys of every child process waited for during the run
    maxrss_kib: int | None  # of the runner's top process (xargs: of its largest child); None: unknown
    kernel_cpu_s: float  # CPU of kernel threads meanwhile (journal commits, writeback, ...)
    other_cpu_s: float  # CPU of every other process on the machine meanwhile (someone's compiler)
    exit_code: int


def timed(cmd: list[str], cwd: Path, log: Path, stdin: Path | None = None) -> Measurement:
    rss_file = cwd / "maxrss.txt"
    if GNU_TIME is not None:
        cmd = [GNU_TIME, "-f", "%M", "-o", str(rss_file)] + cmd
    with open(log, "wb") as out, open(stdin or os.devnull, "rb") as inp:
        kernel_before, own_before = kernel_threads_s(), own_cpu_s()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        busy_before = machine_busy_s()
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=cwd, stdin=inp, stdout=out, stderr=subprocess.STDOUT)
        wall = time.perf_counter() - start
        busy_after = machine_busy_s()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        kernel, own = kernel_threads_s() - kernel_before, own_cpu_s() - own_before
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    maxrss = None
    if GNU_TIME is not None:
        try:
            # "Command exited with non-zero status N" may come first; %M is the last line.
            maxrss = int(rss_file.read_text().split()[-1])
        except (OSError, ValueError, IndexError):
            pass
    return Measurement(
        wall_s=wall,
        cpu_s=cpu,
        maxrss_kib=maxrss,
        kernel_cpu_s=kernel,
        # /proc/stat counts in clock ticks; small negative remainders are rounding
        other_cpu_s=max(0.0, (busy_after - busy_before) - cpu - kernel - own),
        exit_code=proc.returncode,
    )


def make_tenants(scratch: Path, n: int) -> list[str]:
    """N empty tenant files: a zero-byte file is a valid, empty SQLite database."""
    if scratch.exists():
        shutil.rmtree(scratch)
    tenants = scratch / "tenants"
    tenants.mkdir(parents=True)
    width = max(5, len(str(n)))
    names = []
    for i in range(1, n + 1):
        name = f"tenants/t{i:0{width}d}.db"
        (scratch / name).touch()
        names.append(name)
    shutil.copytree(MIGRATIONS, scratch / "migrations")
    return names


def flotilla_fleet(mode: str, concurrency: int) -> str:
    return (
        "# Written by bench/sqlite-fleet.py for one timed run.\n"
        "[fleet]\n"
        'migrations = "migrations"\n'
        'ledger = "ledger.db"\n'
        "\n"
        "[policy]\n"
        f"concurrency = {concurrency}\n"
        f'transaction = "{mode}"\n'
        "\n"
        "[[discover]]\n"
        'sqlite = "tenants/*.db"\n'
    )


@dataclasses.dataclass
class Runner:
    name: str
    kind: str  # "flotilla", "floor" or "dbmate"
    mode: str = ""  # flotilla's transaction mode


def prepare(runner: Runner, scratch: Path, n: int, ctx: "Context") -> tuple[list[str], Path | None]:
    """Creates the runner's scratch directory; returns its command and the file to feed its stdin."""
    names = make_tenants(scratch, n)
    if runner.kind == "flotilla":
        (scratch / "fleet.toml").write_text(flotilla_fleet(runner.mode, ctx.concurrency))
        return [str(FLOTILLA), "--fleet", "fleet.toml", "apply", "--no-progress"], None
    listing = scratch / "tenants.list"
    listing.write_bytes(b"".join(name.encode() + b"\0" for name in names))
    xargs = ["xargs", "-0", "-P", str(ctx.concurrency), "-I", "{}"]
    if runner.kind == "floor":
        script = scratch / "migrate.sql"
        script.write_text(floor_script(ctx.migrations, str(uuid.uuid4())))
        # `.read` rather than piping the script in: the same SQL, without a shell per file to
        # redirect stdin, whose start-up would be charged to the floor.
        return xargs + [SQLITE3, "-bail", "{}", ".read migrate.sql"], listing
    assert ctx.dbmate is not None
    return xargs + [
        str(ctx.dbmate), "--url", "sqlite:{}", "--migrations-dir", "migrations", "--no-dump-schema", "up",
    ], listing


def verify(runner: Runner, scratch: Path, n: int, ctx: "Context") -> list[str]:
    """Every tenant must hold every migration, recorded and clean. Returns one line per bad tenant."""
    expected = {m.version for m in ctx.migrations}
    problems = []
    paths = sorted((scratch / "tenants").glob("*.db"))
    if len(paths) != n:
        problems.append(f"{len(paths)} tenant files found, {n} expected")
    for path in paths:
        try:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                if runner.kind == "dbmate":
                    rows = db.execute("SELECT version, 0 FROM schema_migrations").fetchall()
                else:
                    rows = db.execute("SELECT version, dirty FROM flotilla_migrations").fetchall()
            finally:
                db.close()
        except sqlite3.Error as e:
            problems.append(f"{path.name}: {e}")
            continue
        versions = {int(v) for v, _ in rows}
        dirty = [int(v) for v, d in rows if d]
        if versions != expected or len(rows) != len(expected) or dirty:
            problems.append(
                f"{path.name}: {len(rows)} rows (expected {len(expected)}), "
                f"missing {sorted(expected - versions)}, dirty {dirty}"
            )
    return problems


@dataclasses.dataclass
class Context:
    tenants: int
    concurrency: int
    migrations: list[Migration]
    dbmate: Path | None


@dataclasses.dataclass
class Result:
    runner: Runner
    m: Measurement
    problems: list[str]

    @property
    def ok(self) -> bool:
        return self.m.exit_code == 0 and not self.problems


def run_once(runner: Runner, label: str, n: int, ctx: Context) -> Result:
    scratch = WORK / label
    cmd, stdin = prepare(runner, scratch, n, ctx)
    os.sync()  # the setup's writes are flushed before the clock starts, not during the run
    m = timed(cmd, scratch, scratch / "run.log", stdin)
    problems = verify(runner, scratch, n, ctx)
    result = Result(runner, m, problems)
    if result.ok:
        shutil.rmtree(scratch)
        os.sync()
    else:
        shout(
            f"{runner.name} ({label}) did not migrate the whole fleet: exit code {m.exit_code}, "
            f"{len(problems)} bad tenant(s)",
            problems[:5] + log_tail(scratch / "run.log") + [f"scratch directory kept: {rel(scratch)}"],
        )
    return result


# ----------------------------------------------------------------------------------------------------
# Reporting


def compare(args: argparse.Namespace) -> int:
    migrations = load_migrations(MIGRATIONS)
    dbmate, dbmate_note = ensure_dbmate()
    ctx = Context(args.tenants, args.concurrency, migrations, dbmate)
    runners = [
        Runner("flotilla-migration", "flotilla", "migration"),
        Runner("flotilla-tenant", "flotilla", "tenant"),
        Runner(FLOOR, "floor"),
    ]
    if dbmate is not None:
        runners.append(Runner(DBMATE, "dbmate"))
    sqlite_version = run_quiet([SQLITE3, "--version"]).stdout.split()[:1]

    print()
    print(f"SQLite fleet: {len(migrations)} migrations on {args.tenants} empty tenant files, "
          f"{args.reps} repetitions, {args.concurrency} tenants in flight")
    for line in machine_description():
        print(line)
    print(f"flotilla: {flotilla_description()}")
    print(f"sqlite3 shell: {' '.join(sqlite_version)}")
    if dbmate is not None:
        print(f"dbmate: {dbmate_note}")
    else:
        print(f"\n*** SKIPPED dbmate: {dbmate_note} ***\n")
    print(flush=True)

    results: dict[str, list[Result]] = {r.name: [] for r in runners}
    for rep in range(1, args.reps + 1):
        for runner in runners:
            r = run_once(runner, f"{runner.name}-{rep}", args.tenants, ctx)
            results[runner.name].append(r)
            status = "ok" if r.ok else "FAILED"
            print(
                f"rep {rep}/{args.reps}  {runner.name:<19} {r.m.wall_s:8.3f} s wall  "
                f"{r.m.cpu_s:7.3f} s CPU  peak RSS {mib(r.m.maxrss_kib):>6} MiB  "
                f"meanwhile: kernel threads {r.m.kernel_cpu_s:4.2f} s, other processes "
                f"{r.m.other_cpu_s:4.2f} s  {status}",
                flush=True,
            )

    n = args.tenants
    floor_walls = [r.m.wall_s for r in results[FLOOR]]
    rows = []
    for runner in runners:
        rs = results[runner.name]
        walls = [r.m.wall_s for r in rs]
        ratios = [w / f for w, f in zip(walls, floor_walls)]
        failed = sum(not r.ok for r in rs)
        rss_values = [r.m.maxrss_kib for r in rs if r.m.maxrss_kib is not None]
        rss = mib(int(median(rss_values))) if rss_values else "n/a"
        rows.append([
            runner.name,
            f"{median(walls):.3f}",
            f"{min(walls):.2f}-{max(walls):.2f}",
            f"{median(walls) / n * 1000:.2f}",
            f"{median(ratios):.2f}",
            f"{median([r.m.cpu_s for r in rs]) / n * 1000:.2f}",
            rss + ("" if runner.kind == "flotilla" else "*"),
            "all ok" if failed == 0 else f"{failed} FAILED",
        ])
    print()
    print(f"Medians over {args.reps} repetition(s), {n} tenants, {len(migrations)} migrations each:")
    print()
    print(table(
        ["runner", "wall s", "min-max s", "ms/tenant", "x floor", "CPU ms/tenant", "peak RSS MiB", "verified"],
        rows,
    ))
    print()
    print("x floor: median over repetitions of (runner's wall time / floor's wall time in the same repetition).")
    print("CPU: user + sys of all the runner's processes (SQLite runs inside each of them, so this includes")
    print("     the engine's own work). * peak RSS of the largest single process (one sqlite3 or dbmate per")
    print("     tenant); for flotilla, of its one process.")
    print("Meanwhile, median CPU seconds per run used by kernel threads (journal commits, writeback) and")
    print("     by every other process on the machine (anyone else's work):")
    for name, rs in results.items():
        print(f"     {name:<19} kernel threads {median([r.m.kernel_cpu_s for r in rs]):5.2f} s, "
              f"other processes {median([r.m.other_cpu_s for r in rs]):5.2f} s")

    print()
    print("Targets:")
    dbmate_cpu = median([r.m.cpu_s for r in results[DBMATE]]) / n * 1000 if dbmate is not None else None
    for runner in runners:
        if runner.kind != "flotilla":
            continue
        rs = results[runner.name]
        ratio = median([r.m.wall_s / f for r, f in zip(rs, floor_walls)])
        print(f"  {runner.name}: wall time no slower than the floor: x{ratio:.2f} -> "
              + ("met" if ratio <= 1.0 else "MISSED"))
        cpu = median([r.m.cpu_s for r in rs]) / n * 1000
        if dbmate_cpu is None:
            print(f"  {runner.name}: CPU per tenant vs dbmate: not measured (dbmate skipped)")
        else:
            print(f"  {runner.name}: CPU per tenant at most a fifth of dbmate's ({dbmate_cpu / 5:.2f} ms): "
                  f"{cpu:.2f} ms -> " + ("met" if cpu <= dbmate_cpu / 5 else "MISSED"))
    print(f"load average at end: {', '.join(f'{x:.2f}' for x in os.getloadavg())} "
          "(it counts this benchmark's own processes waiting on fsync)")

    failures = [(name, sum(not r.ok for r in rs)) for name, rs in results.items() if any(not r.ok for r in rs)]
    if failures:
        shout(
            "some runs did not migrate every tenant; their timings are not comparable",
            [f"{name}: {count} of {args.reps} runs failed" for name, count in failures],
        )
        return 1
    return 0


def rss_only(args: argparse.Namespace) -> int:
    migrations = load_migrations(MIGRATIONS)
    ctx = Context(0, args.concurrency, migrations, None)
    runner = Runner("flotilla-migration", "flotilla", "migration")
    print()
    print(f"flotilla peak RSS by fleet size ({len(migrations)} migrations, transaction = \"migration\", "
          f"{args.concurrency} tenants in flight, one run per size)")
    for line in machine_description():
        print(line)
    print(f"flotilla: {flotilla_description()}")
    print(flush=True)
    rows = []
    failed = False
    for n in args.rss_only:
        r = run_once(runner, f"rss-{n}", n, ctx)
        failed |= not r.ok
        rows.append([
            f"{n}",
            f"{r.m.wall_s:.3f}",
            f"{r.m.wall_s / n * 1000:.2f}",
            f"{r.m.cpu_s / n * 1000:.2f}",
            mib(r.m.maxrss_kib),
            "ok" if r.ok else "FAILED",
        ])
        print(f"{n} tenants: peak RSS {mib(r.m.maxrss_kib)} MiB", flush=True)
    print()
    print(table(["tenants", "wall s", "ms/tenant", "CPU ms/tenant", "peak RSS MiB", "verified"], rows))
    if failed:
        shout("flotilla did not migrate every tenant in at least one run", [])
        return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description="Benchmark flotilla against the sqlite3 shell and dbmate on a fleet of SQLite files.",
    )
    parser.add_argument("--tenants", type=int, default=1000, help="tenant files per run (default 1000)")
    parser.add_argument("--reps", type=int, default=5, help="repetitions of every runner (default 5)")
    parser.add_argument("--concurrency", type=int, default=8, help="tenants in flight (default 8)")
    parser.add_argument("--rss-only", type=int, nargs="+", metavar="N",
                        help="only run flotilla once at each fleet size N and report its peak RSS")
    parser.add_argument("--no-build", action="store_true",
                        help="use target/release/flotilla as it is instead of building it first")
    args = parser.parse_args()
    if args.tenants < 1 or args.reps < 1 or args.concurrency < 1 or any(n < 1 for n in args.rss_only or []):
        parser.error("--tenants, --reps, --concurrency and the --rss-only sizes must be at least 1")
    if not args.no_build:
        build_flotilla()
    if not FLOTILLA.exists():
        sys.exit(f"error: {rel(FLOTILLA)} does not exist; build it or drop --no-build")
    WORK.mkdir(parents=True, exist_ok=True)
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"started {started}")
    return rss_only(args) if args.rss_only else compare(args)


if __name__ == "__main__":
    sys.exit(main())
