#!/usr/bin/env python3
"""Apply six migrations to a fleet of PostgreSQL schema-per-tenant tenants, with several runners side by side.

The tenants are N schemas (bench_t00001 ...) on one local PostgreSQL server. The migrations are
PostgreSQL versions of the repository's six demo migrations (migrations/), written by this script into
each run's scratch directory. Runners (each gets N freshly created, empty schemas per repetition; setup
is not timed):

  flotilla-migration  target/release/flotilla apply --no-progress, schemas discovered with
                      [[discover]] schemas = 'bench\\_t%', concurrency 8, 8 connections,
                      transaction = "migration"
  flotilla-tenant     the same with transaction = "tenant"
  floor               8 psql sessions, each replaying one eighth of the schemas from a generated
                      script: per tenant SET search_path, then per migration one message holding
                      BEGIN, the up section, the INSERT of its flotilla_migrations row and COMMIT
                      (the table is created in the first one): the statements flotilla sends, with
                      none of its bookkeeping (discovery, plan, lock, ledger)
  dbmate              dbmate (installed from the npm registry into bench/.tools/), one process per
                      schema (search_path in the URL), 8 at a time (xargs -P 8)
  sqlx-cli            sqlx migrate run (cargo install'ed into bench/.tools/sqlx-cli), one process
                      per schema (options=-csearch_path=... in the URL), 8 at a time (xargs -P 8)

Runners alternate for --reps repetitions, and each repetition starts one runner later (A B C D E,
B C D E A, ...), so that a change in the machine's speed hits every runner alike, in every position:
on a small virtual machine the same CPU work can take half as long again after minutes of sustained
load. One untimed warm-up run of the floor comes first (--warmup), and a fixed CPU loop is timed
just before every run ("probe") so that such drift shows in the output. Reported per runner: median wall time, median ms per tenant, median
ratio of its wall time to the floor's in the same repetition, median client CPU (user + sys of the
runner's own processes) per tenant, the PostgreSQL server's CPU per tenant, and peak RSS. Every
schema is checked after every run with one batched catalog query; a runner that did not migrate every
tenant makes the benchmark fail, loudly, with exit status 1.

  python3 bench/pg-fleet.py --tenants 50 --reps 1        # smoke run
  python3 bench/pg-fleet.py --tenants 1000 --reps 5

Needs psql and a server that the URL reaches as a superuser (CHECKPOINT). Every bench_t* schema is
dropped at the end. Python 3.11, standard library only. Scratch files go to bench/.work/ and tools to
bench/.tools/.
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

WORK = BENCH_DIR / ".work" / "pg-fleet"
PSQL = shutil.which("psql") or "/usr/bin/psql"
SQLX_VERSION = "0.9.0"
SQLX_ROOT = TOOLS / "sqlx-cli"
SQLX = SQLX_ROOT / "bin" / "sqlx"

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/test"
SCHEMA_PREFIX = "bench_t"
# LIKE pattern for flotilla's discovery and for clean-up: the underscore is escaped.
SCHEMA_LIKE = "bench\\_t%"

FLOOR = "floor"
DBMATE = "dbmate"
SQLX_CLI = "sqlx-cli"


# ----------------------------------------------------------------------------------------------------
# Migrations: PostgreSQL versions of the repository's six demo migrations


@dataclasses.dataclass
class Source:
    """One migration as written: statements (each may start with comment lines; no trailing `;`)."""

    version: int
    name: str
    up: list[str]
    down: list[str]

    @property
    def stem(self) -> str:
        return f"{self.version}_{self.name}"


SOURCES = [
    Source(20250106090000, "create_accounts", [
        "CREATE TABLE accounts (\n"
        "    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
        "    name text NOT NULL,\n"
        "    plan text NOT NULL DEFAULT 'free',\n"
        "    created_at timestamptz NOT NULL DEFAULT now()\n"
        ")",
    ], ["DROP TABLE accounts"]),
    Source(20250113090000, "create_users", [
        "CREATE TABLE users (\n"
        "    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
        "    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,\n"
        "    email text NOT NULL,\n"
        "    created_at timestamptz NOT NULL DEFAULT now(),\n"
        "    UNIQUE (account_id, email)\n"
        ")",
    ], ["DROP TABLE users"]),
    Source(20250120090000, "create_plans", [
        "-- Reference data every tenant needs: the plans an account can be on.\n"
        "CREATE TABLE plans (\n"
        "    code text PRIMARY KEY,\n"
        "    name text NOT NULL,\n"
        "    seats integer NOT NULL CHECK (seats > 0)\n"
        ")",
        "INSERT INTO plans (code, name, seats) VALUES\n"
        "    ('free', 'Free', 3),\n"
        "    ('team', 'Team', 25),\n"
        "    ('enterprise', 'Enterprise', 1000)",
    ], ["DROP TABLE plans"]),
    Source(20250127090000, "add_users_role", [
        "ALTER TABLE users ADD COLUMN role text NOT NULL DEFAULT 'member'\n"
        "    CHECK (role IN ('owner', 'admin', 'member'))",
    ], ["ALTER TABLE users DROP COLUMN role"]),
    Source(20250203090000, "index_users_email", [
        "-- Sign-in looks users up by email across accounts.\n"
        "CREATE INDEX users_email_idx ON users (email)",
    ], ["DROP INDEX users_email_idx"]),
    Source(20250210090000, "backfill_accounts_plan_code", [
        "-- Accounts point at the plans table instead of carrying free text.\n"
        "ALTER TABLE accounts ADD COLUMN plan_code text REFERENCES plans (code)",
        "UPDATE accounts SET plan_code = plan WHERE plan IN (SELECT code FROM plans)",
        "UPDATE accounts SET plan_code = 'free' WHERE plan_code IS NULL",
    ], ["ALTER TABLE accounts DROP COLUMN plan_code"]),
]


def section(statements: list[str]) -> str:
    return "".join(s + ";\n" for s in statements)


def write_migrations(scratch: Path) -> None:
    """The native files (`migrations/`, flotilla and dbmate) and the sqlx pairs (`sqlx-migrations/`)."""
    native, pairs = scratch / "migrations", scratch / "sqlx-migrations"
    native.mkdir(parents=True)
    pairs.mkdir(parents=True)
    for s in SOURCES:
        (native / f"{s.stem}.sql").write_text(f"-- migrate:up\n{section(s.up)}\n-- migrate:down\n{section(s.down)}")
        (pairs / f"{s.stem}.up.sql").write_text(section(s.up))
        (pairs / f"{s.stem}.down.sql").write_text(section(s.down))


@dataclasses.dataclass
class Migration:
    version: int
    name: str
    up: str
    checksum: str
    statements: list[str]


def load_migrations(directory: Path) -> list[Migration]:
    """Reads the native files back; the up section is the text between the `-- migrate:up` line and
    the `-- migrate:down` line, hashed the way flotilla hashes it (BOM dropped, CRLF -> LF)."""
    by_version = {s.version: s for s in SOURCES}
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
        out.append(Migration(int(version), name, sql, hashlib.sha256(sql.encode()).hexdigest(),
                             by_version[int(version)].up))
    return out


def pg_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


TRACKING_TABLE = (
    "CREATE TABLE IF NOT EXISTS flotilla_migrations (version bigint PRIMARY KEY, name text NOT NULL, "
    "checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(), duration_ms bigint NOT NULL, "
    "run_id text, dirty boolean NOT NULL DEFAULT false)"
)


def floor_script(schemas: list[str], migrations: list[Migration], run_id: str) -> str:
    """Per schema: SET search_path, then per migration ONE message (psql sends statements joined by
    `\\;` together, as flotilla does) with BEGIN, the up section, the tracking row and COMMIT."""
    messages = []
    for index, m in enumerate(migrations):
        parts = ["BEGIN"]
        if index == 0:
            parts.append(TRACKING_TABLE)
        parts.extend(m.statements)
        parts.append(
            "INSERT INTO flotilla_migrations (version, name, checksum, applied_at, duration_ms, run_id, dirty) "
            f"VALUES ({m.version}, {sql_text(m.name)}, {sql_text(m.checksum)}, now(), 0, {sql_text(run_id)}, false)"
        )
        parts.append("COMMIT")
        messages.append("\\;\n".join(parts) + ";\n")
    per_tenant = "".join(messages)
    return "".join(f"SET search_path TO {pg_ident(s)};\n{per_tenant}" for s in schemas)


# ----------------------------------------------------------------------------------------------------
# The server


def url_with(url: str, params: str) -> str:
    return url + ("&" if "?" in url else "?") + params


class Server:
    def __init__(self, url: str):
        self.url = url
        # flotilla's sqlx is built without TLS, so every client talks to the server in plain text.
        self.plain = url_with(url, "sslmode=disable")

    def psql(self, sql: str, check: bool = True) -> str:
        result = subprocess.run(
            [PSQL, "-X", "-q", "-A", "-t", "-F", "|", "-v", "ON_ERROR_STOP=1", "-d", self.plain, "-f", "-"],
            input=sql, capture_output=True, text=True,
        )
        if check and result.returncode != 0:
            sys.exit(f"error: psql failed (exit {result.returncode}): {result.stderr.strip()}")
        return result.stdout

    def bench_schemas(self) -> list[str]:
        out = self.psql(f"SELECT nspname FROM pg_namespace WHERE nspname LIKE {sql_text(SCHEMA_LIKE)} ORDER BY 1;")
        return out.split()

    def drop_bench_schemas(self) -> int:
        """Drops every bench_t* schema, 50 to a statement (each statement is its own transaction, so no
        transaction holds locks on thousands of objects: max_locks_per_transaction)."""
        names = self.bench_schemas()
        batches = [names[i:i + 50] for i in range(0, len(names), 50)]
        if batches:
            self.psql("".join(f"DROP SCHEMA IF EXISTS {', '.join(map(pg_ident, b))} CASCADE;\n" for b in batches))
        return len(names)

    def reset(self, schemas: list[str]) -> None:
        """Untimed: drop the previous run's schemas, create N empty ones (200 to a transaction), vacuum
        the system catalogs (dropping thousands of tables leaves dead catalog rows, and autovacuum may
        be off or late) and CHECKPOINT, so no run pays for the previous one's writes."""
        self.drop_bench_schemas()
        script = []
        for i in range(0, len(schemas), 200):
            script.append("BEGIN;\n")
            script.extend(f"CREATE SCHEMA {pg_ident(s)};\n" for s in schemas[i:i + 200])
            script.append("COMMIT;\n")
        script.append(
            "SELECT format('VACUUM %s;', c.oid::regclass) FROM pg_class c "
            "WHERE c.relnamespace = 'pg_catalog'::regnamespace AND c.relkind = 'r' \\gexec\n"
        )
        script.append("CHECKPOINT;\n")
        self.psql("".join(script))

    def version(self) -> str:
        return self.psql("SHOW server_version;").strip()

    def settings(self) -> str:
        names = ["shared_buffers", "fsync", "synchronous_commit", "max_connections", "autovacuum"]
        rows = self.psql(
            "SELECT name, setting, coalesce(unit, '') FROM pg_settings WHERE name IN ("
            + ", ".join(map(sql_text, names)) + ") ORDER BY name;"
        )
        out = []
        for row in rows.splitlines():
            name, setting, unit = row.split("|")
            if unit == "8kB":
                setting, unit = f"{int(setting) * 8 // 1024}", "MB"
            out.append(f"{name}={setting}{unit}")
        return ", ".join(out)

    def postmaster_pid(self) -> int | None:
        """The server's main process, when the server runs on this machine and /proc shows it."""
        data_dir = self.psql("SHOW data_directory;").strip()
        try:
            pid = int(Path(data_dir, "postmaster.pid").read_text().split()[0])
            with open(f"/proc/{pid}/stat") as f:
                if "(postgres)" in f.read():
                    return pid
        except (OSError, ValueError, IndexError):
            pass
        return None


def server_cpu_s(postmaster: int | None) -> float:
    """CPU seconds used so far by the PostgreSQL server: the postmaster itself, the children it has
    reaped (backends that exited: cutime, cstime) and the children alive now."""
    if postmaster is None:
        return float("nan")
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(entry.name), int(fields[1])
        if pid == postmaster:
            total += sum(int(x) for x in fields[11:15])  # utime, stime, cutime, cstime
        elif ppid == postmaster:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


# ----------------------------------------------------------------------------------------------------
# Tools


def ensure_sqlx() -> tuple[Path | None, str]:
    """sqlx-cli with only the PostgreSQL driver, built once into bench/.tools/sqlx-cli (several
    minutes of compiling). Returns (binary, note) like ensure_dbmate."""
    if not SQLX.exists():
        cargo = shutil.which("cargo")
        if cargo is None:
            return None, "cargo is not installed, so sqlx-cli cannot be installed"
        cmd = [cargo, "install", "sqlx-cli", "--version", SQLX_VERSION, "--no-default-features",
               "--features", "postgres,rustls", "--locked", "--root", str(SQLX_ROOT)]
        print(f"installing (compiles for several minutes): cargo install sqlx-cli --version {SQLX_VERSION} "
              "--no-default-features --features postgres,rustls --locked --root bench/.tools/sqlx-cli", flush=True)
        result = run_quiet(cmd)
        if result.returncode != 0 or not SQLX.exists():
            return None, "cargo install failed: " + (result.stderr.strip().splitlines() or ["?"])[-1]
    version = run_quiet([str(SQLX), "--version"]).stdout.strip()
    return SQLX, version


# ----------------------------------------------------------------------------------------------------
# Measuring


@dataclasses.dataclass
class Measurement:
    wall_s: float
    cpu_s: float  # user + sys of every child process waited for during the run: the client side
    maxrss_kib: int | None  # of the runner's top process (xargs: of its largest child); None: unknown
    server_cpu_s: float  # the PostgreSQL server's processes meanwhile (nan: not on this machine)
    kernel_cpu_s: float  # CPU of kernel threads meanwhile (writeback, ...)
    other_cpu_s: float  # CPU of every other process on the machine meanwhile (someone's compiler)
    exit_code: int


def cpu_probe_ms() -> float:
    """CPU milliseconds this interpreter takes for a fixed loop: a gauge of the machine's speed now."""
    start = time.process_time()
    total = 0
    for i in range(2_000_000):
        total += i
    return (time.process_time() - start) * 1000


def timed(cmd: list[str], cwd: Path, log: Path, postmaster: int | None, stdin: Path | None = None) -> Measurement:
    rss_file = cwd / "maxrss.txt"
    if GNU_TIME is not None:
        cmd = [GNU_TIME, "-f", "%M", "-o", str(rss_file)] + cmd
    with open(log, "wb") as out, open(stdin or os.devnull, "rb") as inp:
        kernel_before, server_before, own_before = kernel_threads_s(), server_cpu_s(postmaster), own_cpu_s()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        busy_before = machine_busy_s()
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=cwd, stdin=inp, stdout=out, stderr=subprocess.STDOUT)
        wall = time.perf_counter() - start
        busy_after = machine_busy_s()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        kernel, server = kernel_threads_s() - kernel_before, server_cpu_s(postmaster) - server_before
        own = own_cpu_s() - own_before
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    maxrss = None
    if GNU_TIME is not None:
        try:
            # "Command exited with non-zero status N" may come first; %M is the last line.
            maxrss = int(rss_file.read_text().split()[-1])
        except (OSError, ValueError, IndexError):
            pass
    known_server = 0.0 if server != server else server  # nan: the server is not on this machine
    return Measurement(
        wall_s=wall,
        cpu_s=cpu,
        maxrss_kib=maxrss,
        server_cpu_s=server,
        kernel_cpu_s=kernel,
        # /proc/stat counts in clock ticks; small negative remainders are rounding
        other_cpu_s=max(0.0, (busy_after - busy_before) - cpu - kernel - known_server - own),
        exit_code=proc.returncode,
    )


def schema_names(n: int) -> list[str]:
    width = max(5, len(str(n)))
    return [f"{SCHEMA_PREFIX}{i:0{width}d}" for i in range(1, n + 1)]


def flotilla_fleet(url: str, mode: str, concurrency: int) -> str:
    return (
        "# Written by bench/pg-fleet.py for one timed run.\n"
        "[fleet]\n"
        'migrations = "migrations"\n'
        'ledger = "ledger.db"\n'
        "\n"
        "[policy]\n"
        f"concurrency = {concurrency}\n"
        f"per_server = {concurrency}\n"
        f'transaction = "{mode}"\n'
        "\n"
        "[[servers]]\n"
        'name = "pg"\n'
        f'url = "{url}"\n'
        f"max_connections = {concurrency}\n"
        "\n"
        "[[discover]]\n"
        'server = "pg"\n'
        f"schemas = '{SCHEMA_LIKE}'\n"
    )


@dataclasses.dataclass
class Runner:
    name: str
    kind: str  # "flotilla", "floor", "dbmate" or "sqlx"
    mode: str = ""  # flotilla's transaction mode


# The tracking table of each runner, and what makes one of its rows bad.
TRACKING = {
    "flotilla": ("flotilla_migrations", "dirty"),
    "floor": ("flotilla_migrations", "dirty"),
    "dbmate": ("schema_migrations", "false"),
    "sqlx": ("_sqlx_migrations", "NOT success"),
}


@dataclasses.dataclass
class Context:
    tenants: int
    concurrency: int
    server: Server
    postmaster: int | None
    migrations: list[Migration]
    dbmate: Path | None
    sqlx: Path | None


def prepare(runner: Runner, scratch: Path, schemas: list[str], ctx: Context) -> tuple[list[str], Path | None]:
    """Creates the runner's scratch directory and fresh schemas; returns its command and its stdin."""
    if scratch.exists():
        shutil.rmtree(scratch)
    scratch.mkdir(parents=True)
    write_migrations(scratch)
    ctx.server.reset(schemas)
    if runner.kind == "flotilla":
        (scratch / "fleet.toml").write_text(flotilla_fleet(ctx.server.plain, runner.mode, ctx.concurrency))
        return [str(FLOTILLA), "--fleet", "fleet.toml", "apply", "--no-progress"], None
    listing = scratch / "items.list"
    xargs = ["xargs", "-0", "-P", str(ctx.concurrency), "-I", "{}"]
    if runner.kind == "floor":
        run_id = str(uuid.uuid4())
        groups = [schemas[i::ctx.concurrency] for i in range(ctx.concurrency)]
        scripts = []
        for i, group in enumerate(g for g in groups if g):
            name = f"floor-{i + 1}.sql"
            (scratch / name).write_text(floor_script(sorted(group), ctx.migrations, run_id))
            scripts.append(name)
        listing.write_bytes(b"".join(s.encode() + b"\0" for s in scripts))
        return xargs + [PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", ctx.server.plain, "-f", "{}"], listing
    listing.write_bytes(b"".join(s.encode() + b"\0" for s in schemas))
    if runner.kind == "dbmate":
        assert ctx.dbmate is not None
        return xargs + [
            str(ctx.dbmate), "--url", url_with(ctx.server.plain, "search_path={}"),
            "--migrations-dir", "migrations", "--no-dump-schema", "up",
        ], listing
    assert ctx.sqlx is not None
    return xargs + [
        str(ctx.sqlx), "migrate", "run", "--source", "sqlx-migrations",
        "--database-url", url_with(ctx.server.plain, "options=-csearch_path%3D{}"),
    ], listing


def verify(runner: Runner, schemas: list[str], ctx: Context) -> list[str]:
    """Every schema must hold every migration in the runner's tracking table, none bad. One psql for
    the whole fleet; each statement covers 250 schemas (its own transaction, so the locks it takes on
    the tracking tables are released between batches). Returns one line per bad schema."""
    table, bad = TRACKING[runner.kind]
    inner = (
        f"SELECT string_agg(version::text || CASE WHEN {bad} THEN '!' ELSE '' END, ',' ORDER BY version::text) "
        f"AS v FROM %I.{table}"
    )
    statements = []
    for i in range(0, len(schemas), 250):
        names = ", ".join(map(sql_text, schemas[i:i + 250]))
        statements.append(
            "SELECT s.name, CASE WHEN to_regclass(format('%I.%I', s.name, "
            f"{sql_text(table)})) IS NULL THEN '-' ELSE coalesce((xpath('/row/v/text()', "
            f"query_to_xml(format({sql_text(inner)}, s.name), false, true, '')))[1]::text, '') END "
            f"FROM unnest(ARRAY[{names}]::text[]) AS s(name);\n"
        )
    out = ctx.server.psql("".join(statements), check=False)
    expected = {m.version for m in ctx.migrations}
    seen: dict[str, str] = {}
    for line in out.splitlines():
        name, _, versions = line.partition("|")
        seen[name] = versions
    problems = []
    for name in schemas:
        versions = seen.get(name)
        if versions is None:
            problems.append(f"{name}: not checked (the verification query failed?)")
        elif versions == "-":
            problems.append(f"{name}: no {table} table")
        else:
            rows = [v for v in versions.split(",") if v]
            flagged = [v.rstrip("!") for v in rows if v.endswith("!")]
            applied = {int(v.rstrip("!")) for v in rows}
            if applied != expected or len(rows) != len(expected) or flagged:
                problems.append(
                    f"{name}: {len(rows)} rows (expected {len(expected)}), missing "
                    f"{sorted(expected - applied)}, " + ("dirty" if runner.kind in ("flotilla", "floor") else "failed")
                    + f" {flagged}"
                )
    return problems


@dataclasses.dataclass
class Result:
    runner: Runner
    m: Measurement
    problems: list[str]
    probe_ms: float

    @property
    def ok(self) -> bool:
        return self.m.exit_code == 0 and not self.problems


def run_once(runner: Runner, label: str, schemas: list[str], ctx: Context) -> Result:
    scratch = WORK / label
    cmd, stdin = prepare(runner, scratch, schemas, ctx)
    os.sync()  # the setup's writes are flushed before the clock starts, not during the run
    probe = cpu_probe_ms()
    m = timed(cmd, scratch, scratch / "run.log", ctx.postmaster, stdin)
    problems = verify(runner, schemas, ctx)
    result = Result(runner, m, problems, probe)
    if result.ok:
        shutil.rmtree(scratch)
    else:
        shout(
            f"{runner.name} ({label}) did not migrate the whole fleet: exit code {m.exit_code}, "
            f"{len(problems)} bad tenant(s)",
            problems[:5] + log_tail(scratch / "run.log") + [f"scratch directory kept: {rel(scratch)}"],
        )
    return result


# ----------------------------------------------------------------------------------------------------
# Reporting


def compare(args: argparse.Namespace, server: Server) -> int:
    write_migrations(WORK / "migrations-check")
    migrations = load_migrations(WORK / "migrations-check" / "migrations")
    shutil.rmtree(WORK / "migrations-check")
    dbmate, dbmate_note = ensure_dbmate()
    sqlx, sqlx_note = ensure_sqlx()
    postmaster = server.postmaster_pid()
    ctx = Context(args.tenants, args.concurrency, server, postmaster, migrations, dbmate, sqlx)
    runners = [
        Runner("flotilla-migration", "flotilla", "migration"),
        Runner("flotilla-tenant", "flotilla", "tenant"),
        Runner(FLOOR, "floor"),
    ]
    if dbmate is not None:
        runners.append(Runner(DBMATE, "dbmate"))
    if sqlx is not None:
        runners.append(Runner(SQLX_CLI, "sqlx"))
    if args.only:
        unknown = set(args.only) - {r.name for r in runners}
        if unknown:
            sys.exit(f"error: --only: no runner named {', '.join(sorted(unknown))}")
        runners = [r for r in runners if r.name in args.only or r.name == FLOOR]
    psql_version = run_quiet([PSQL, "--version"]).stdout.strip()

    print()
    print(f"PostgreSQL fleet: {len(migrations)} migrations on {args.tenants} schema-per-tenant tenants, "
          f"{args.reps} repetitions, {args.concurrency} tenants in flight")
    for line in machine_description():
        print(line)
    print(f"server: PostgreSQL {server.version()} on this machine ({server.settings()})"
          if postmaster is not None else
          f"server: PostgreSQL {server.version()} ({server.settings()}); *** not on this machine: "
          "its CPU is not measured ***")
    print(f"flotilla: {flotilla_description()}")
    print(f"floor: {psql_version}")
    for note, binary, name in [(dbmate_note, dbmate, DBMATE), (sqlx_note, sqlx, SQLX_CLI)]:
        if binary is not None:
            print(f"{name}: {note}")
        else:
            print(f"\n*** SKIPPED {name}: {note} ***\n")
    print(flush=True)

    schemas = schema_names(args.tenants)
    floor_runner = next(r for r in runners if r.kind == "floor")
    for i in range(1, args.warmup + 1):
        r = run_once(floor_runner, f"warmup-{i}", schemas, ctx)
        print(f"warm-up {i}/{args.warmup}  {floor_runner.name:<15} {r.m.wall_s:8.3f} s wall  "
              f"probe {r.probe_ms:4.0f} ms  (not counted)  {'ok' if r.ok else 'FAILED'}", flush=True)
        if not r.ok:
            shout("the warm-up run did not migrate the whole fleet; nothing was measured", [])
            return 1
    results: dict[str, list[Result]] = {r.name: [] for r in runners}
    for rep in range(1, args.reps + 1):
        shift = (rep - 1) % len(runners)
        for runner in runners[shift:] + runners[:shift]:
            r = run_once(runner, f"{runner.name}-{rep}", schemas, ctx)
            results[runner.name].append(r)
            status = "ok" if r.ok else "FAILED"
            print(
                f"rep {rep}/{args.reps}  {runner.name:<19} {r.m.wall_s:8.3f} s wall  "
                f"{r.m.cpu_s:7.3f} s client CPU  {r.m.server_cpu_s:7.3f} s server CPU  "
                f"peak RSS {mib(r.m.maxrss_kib):>6} MiB  probe {r.probe_ms:4.0f} ms  meanwhile: kernel threads "
                f"{r.m.kernel_cpu_s:4.2f} s, other processes {r.m.other_cpu_s:4.2f} s  {status}",
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
        server_cpu = median([r.m.server_cpu_s for r in rs]) / n * 1000
        rows.append([
            runner.name,
            f"{median(walls):.3f}",
            f"{min(walls):.2f}-{max(walls):.2f}",
            f"{median(walls) / n * 1000:.2f}",
            f"{median(ratios):.2f}",
            f"{median([r.m.cpu_s for r in rs]) / n * 1000:.2f}",
            "n/a" if server_cpu != server_cpu else f"{server_cpu:.2f}",
            rss + ("" if runner.kind == "flotilla" else "*"),
            "all ok" if failed == 0 else f"{failed} FAILED",
        ])
    print()
    print(f"Medians over {args.reps} repetition(s), {n} tenants, {len(migrations)} migrations each:")
    print()
    print(table(
        ["runner", "wall s", "min-max s", "ms/tenant", "x floor", "client CPU ms/tenant",
         "server CPU ms/tenant", "peak RSS MiB", "verified"],
        rows,
    ))
    print()
    print("x floor: median over repetitions of (runner's wall time / floor's wall time in the same repetition).")
    print("client CPU: user + sys of the runner's own processes (flotilla; xargs and psql, dbmate or sqlx).")
    print("server CPU: the PostgreSQL server's processes during the run (on this machine they share the")
    print("     same cores as the client). * peak RSS of the largest single process (one psql per eighth")
    print("     of the fleet, one dbmate or sqlx per tenant); for flotilla, of its one process.")
    print("Meanwhile, median CPU seconds per run used by kernel threads and by every other process on the")
    print("     machine (anyone else's work), and the median probe before the runner's runs (a fixed CPU")
    print("     loop; higher = the machine was slower):")
    for name, rs in results.items():
        print(f"     {name:<19} kernel threads {median([r.m.kernel_cpu_s for r in rs]):5.2f} s, "
              f"other processes {median([r.m.other_cpu_s for r in rs]):5.2f} s, "
              f"probe {median([r.probe_ms for r in rs]):4.0f} ms "
              f"({min(r.probe_ms for r in rs):.0f}-{max(r.probe_ms for r in rs):.0f})")

    print()
    print("Targets:")
    loops = {name: median([r.m.cpu_s for r in results[name]]) / n * 1000
             for name in (DBMATE, SQLX_CLI) if name in results}
    cheapest = min(loops, key=loops.get) if loops else None
    for runner in runners:
        if runner.kind != "flotilla":
            continue
        rs = results[runner.name]
        ratio = median([r.m.wall_s / f for r, f in zip(rs, floor_walls)])
        print(f"  {runner.name}: wall time within 1.1x of the floor: x{ratio:.2f} -> "
              + ("met" if ratio <= 1.1 else "MISSED"))
        cpu = median([r.m.cpu_s for r in rs]) / n * 1000
        if cheapest is None:
            print(f"  {runner.name}: client CPU per tenant vs the cheapest loop: not measured (dbmate and sqlx-cli skipped)")
        else:
            bar = loops[cheapest] / 5
            print(f"  {runner.name}: client CPU per tenant at most a fifth of the cheapest loop's "
                  f"({cheapest}, {loops[cheapest]:.2f} ms -> {bar:.2f} ms): {cpu:.2f} ms -> "
                  + ("met" if cpu <= bar else "MISSED"))
    print(f"load average at end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")

    failures = [(name, sum(not r.ok for r in rs)) for name, rs in results.items() if any(not r.ok for r in rs)]
    if failures:
        shout(
            "some runs did not migrate every tenant; their timings are not comparable",
            [f"{name}: {count} of {args.reps} runs failed" for name, count in failures],
        )
        return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description="Benchmark flotilla against psql, dbmate and sqlx-cli on PostgreSQL schema-per-tenant tenants.",
    )
    parser.add_argument("--tenants", type=int, default=1000, help="tenant schemas per run (default 1000)")
    parser.add_argument("--reps", type=int, default=5, help="repetitions of every runner (default 5)")
    parser.add_argument("--concurrency", type=int, default=8, help="tenants (and connections) in flight (default 8)")
    parser.add_argument("--url", default=DEFAULT_URL, help=f"the server, as a superuser (default {DEFAULT_URL})")
    parser.add_argument("--warmup", type=int, default=1, metavar="N",
                        help="untimed runs of the floor before the first repetition (default 1)")
    parser.add_argument("--only", nargs="+", metavar="RUNNER",
                        help="run only these runners (and the floor, which every ratio needs)")
    parser.add_argument("--no-build", action="store_true",
                        help="use target/release/flotilla as it is instead of building it first")
    args = parser.parse_args()
    if args.tenants < 1 or args.reps < 1 or args.concurrency < 1 or args.warmup < 0:
        parser.error("--tenants, --reps and --concurrency must be at least 1, --warmup at least 0")
    if not args.no_build:
        build_flotilla()
    if not FLOTILLA.exists():
        sys.exit(f"error: {rel(FLOTILLA)} does not exist; build it or drop --no-build")
    if shutil.which(PSQL) is None:
        sys.exit("error: psql is not installed")
    server = Server(args.url)
    WORK.mkdir(parents=True, exist_ok=True)
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"started {started}")
    try:
        return compare(args, server)
    finally:
        dropped = server.drop_bench_schemas()
        print(f"dropped {dropped} {SCHEMA_PREFIX}* schema(s)")


if __name__ == "__main__":
    sys.exit(main())
