"""Real nodes for the sync integration tests: ministry, province and two cities, each a gunicorn process with its
own PostgreSQL database (copied from the migrated test database), data keys and node key.

The fault tests stop a node mid-apply without any test hook in the code: `TableLock` holds a table lock in a
node's database from the test, so that node's apply transaction blocks on its first write to that table (rows
before it already written, nothing committed); the test sees the blocked backend in pg_locks, then kills a
process with SIGKILL at that exact point and releases the lock.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import requests

from registry.node import node_key_create, public_key_pem

BASE_DIR = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def data_keys() -> str:
    kid = "k" + secrets.token_hex(3)
    return json.dumps(
        {
            "active": kid,
            "keys": {kid: base64.b64encode(secrets.token_bytes(32)).decode()},
            "index_key": base64.b64encode(secrets.token_bytes(32)).decode(),
        }
    )


class Databases:
    """CREATE DATABASE ... TEMPLATE <the migrated test database> for each node; dropped at the end."""

    def __init__(self, params: dict):
        self.params = params
        self.created: list[str] = []

    def connect(self, name: str = "postgres", *, autocommit: bool = True) -> psycopg.Connection:
        return psycopg.connect(
            dbname=name,
            user=self.params["USER"] or None,
            password=self.params["PASSWORD"] or None,
            host=self.params["HOST"] or None,
            port=self.params["PORT"] or None,
            autocommit=autocommit,
        )

    def copy(self, name: str) -> str:
        with self.connect() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.params["NAME"]}"')
        self.created.append(name)
        return name

    def drop_all(self) -> None:
        with self.connect() as admin:
            for name in self.created:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def url(self, name: str) -> str:
        from tests.integration.conftest import database_url_of

        class _Conn:
            settings_dict = {**self.params, "NAME": name}

        return database_url_of(_Conn)


class NodeProcess:
    def __init__(
        self,
        *,
        tier: str,
        region: str,
        databases: Databases,
        database: str,
        var_dir: Path,
        broker_url: str = "",
    ):
        self.tier, self.region, self.var_dir = tier, region, var_dir
        self.databases, self.database = databases, database
        var_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.key_file = var_dir / "node_ed25519.pem"
        self.pem = public_key_pem(node_key_create(self.key_file))
        self.pem_file = var_dir / "node_public.pem"
        self.pem_file.write_text(self.pem)
        self.parent: NodeProcess | None = None
        self.children: list[NodeProcess] = []
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": databases.url(database),
            "HC_TIER": tier,
            "HC_REGION": region,
            "HC_VAR_DIR": str(var_dir),
            "HC_NODE_KEY_FILE": str(self.key_file),
            "HC_DATA_KEYS": data_keys(),
            "HC_DATA_KEY_ACTIVE": "",
            "DJANGO_SECRET_KEY": secrets.token_hex(16),
            "CELERY_BROKER_URL": broker_url,
            "CELERY_RESULT_BACKEND": broker_url,
            "PYTHONUNBUFFERED": "1",
        }
        self.server: subprocess.Popen | None = None
        self.log = open(var_dir / "server.log", "ab")  # noqa: SIM115 (closed in close())

    def __repr__(self) -> str:
        return f"<{self.tier} {self.region}>"

    def set_parent(self, parent: NodeProcess) -> None:
        self.parent = parent
        parent.children.append(self)
        self.env["HC_PARENT_URL"] = parent.url

    # --- commands run inside the node (each a fresh process: seconds apiece on a busy machine) ---------------

    def shell(self, code: str, *, check: bool = True, timeout: float = 120) -> str:
        """Run Python inside this node (manage.py shell -c); returns what it printed."""
        result = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", code],
            cwd=BASE_DIR,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"{self.tier} shell failed:\n{result.stdout}\n{result.stderr[-3000:]}")
        return result.stdout

    def manage(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=BASE_DIR,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{self.tier} manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr[-3000:]}"
            )
        return result

    def commands(self, *commands: tuple[str, ...], then: str = "") -> tuple[list[tuple[bool, str]], str]:
        """Several manage.py commands in one process (a process start costs seconds on a busy machine), then
        the Python `then`. Returns (succeeded, output) per command (a CommandError's message appended to its
        output) and what `then` printed."""
        code = "\n".join(
            [
                "import io, json",
                "from django.core.management import call_command",
                "from django.core.management.base import CommandError",
                "def command(args):",
                "    out = io.StringIO()",
                "    try:",
                "        call_command(*args, stdout=out)",
                "    except CommandError as error:",
                "        return False, out.getvalue() + str(error)",
                "    return True, out.getvalue()",
                f"print('COMMANDS', json.dumps([command(args) for args in {[list(c) for c in commands]!r}]))",
                then,
            ]
        )
        output = self.shell(code)
        mark = output.index("COMMANDS ")
        line, _, rest = output[mark + len("COMMANDS ") :].partition("\n")
        return [(ok, text) for ok, text in json.loads(line)], rest

    def manage_background(self, *args: str) -> subprocess.Popen:
        """manage.py in its own process group, left running (a sync the test kills or waits for)."""
        return subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=BASE_DIR,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )

    # --- the node's own database, read directly by the test (no process start) ------------------------------

    def sql(self, query: str, params: tuple | list = ()) -> list[tuple]:
        with self.databases.connect(self.database) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    def journal_counts(self, origin_prefix: str) -> dict[str, int]:
        """Journal rows per kind born under `origin_prefix` (a node's subtree, exchange.sync.nodes.subtree_prefix)."""
        return dict(
            self.sql(
                "SELECT kind, count(*) FROM registry_journalentry WHERE origin_node LIKE %s GROUP BY kind",
                [origin_prefix + "%"],
            )
        )

    def table_counts(self, region_prefix: str) -> dict[str, int]:
        """Copy-table rows in a region: what a doubled apply would double (journal rows cannot double: their
        origin is unique)."""
        counts = {}
        for table in ("cards_resident", "cards_card", "cards_cardevent", "institutions_medicalinstitution"):
            counts[table] = self.sql(
                f"SELECT count(*) FROM {table} WHERE region_id LIKE %s",  # noqa: S608 (fixed names)
                [region_prefix + "%"],
            )[0][0]
        return counts

    def up_checkpoint(self) -> int:
        rows = self.sql(
            "SELECT position FROM exchange_synccheckpoint WHERE peer = %s AND direction = 'up'",
            [self.parent.region],
        )
        return rows[0][0] if rows else 0

    def last_run(self) -> dict:
        row = self.sql(
            "SELECT direction, status, bundles, rows, errors, message, finished_at IS NOT NULL "
            "FROM exchange_syncrun ORDER BY id DESC LIMIT 1"
        )[0]
        return dict(
            zip(("direction", "status", "bundles", "rows", "errors", "message", "finished"), row, strict=True)
        )

    # --- the server -----------------------------------------------------------------------------------------

    def start(self) -> None:
        self.server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "1",
                "--threads",
                "4",
                "--timeout",
                "120",
            ],
            cwd=BASE_DIR,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                raise AssertionError(f"the {self.tier} server exited: {self.output()}")
            try:
                requests.get(self.url + "/api/v1/sync/pull/", timeout=2)
                return
            except requests.RequestException:
                time.sleep(0.3)
        raise AssertionError(f"the {self.tier} server did not answer within {timeout:.0f} s: {self.output()}")

    def restart(self) -> None:
        self.stop()
        self.start()
        self.wait_ready()

    def output(self) -> str:
        self.log.flush()
        return (self.var_dir / "server.log").read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.server is not None and self.server.poll() is None:
            self.server.terminate()
            try:
                self.server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        self.server = None

    def kill(self) -> None:
        """SIGKILL the gunicorn master and its worker (its own process group): no shutdown, no cleanup."""
        if self.server is not None:
            kill_group(self.server)
        self.server = None

    def close(self) -> None:
        self.stop()
        self.log.close()


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL a process started with start_new_session=True and everything in its group."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait(timeout=10)


class TableLock:
    """An EXCLUSIVE lock on one table of a node's database, held by the test: reads go on, every write to the
    table waits. A sync apply that reaches the table blocks there inside its transaction, after the rows it
    wrote before, so a process can be killed at that point every time.

        with TableLock(province, "cards_cardevent") as lock:
            ...start the push...
            pid = lock.wait_for_writer()
            ...kill something...
        # released: the blocked statement runs on (or finds its client gone)
    """

    def __init__(self, node: NodeProcess, table: str):
        self.node, self.table = node, table
        self.conn: psycopg.Connection | None = None

    def __enter__(self) -> TableLock:
        self.conn = self.node.databases.connect(self.node.database, autocommit=False)
        self.conn.execute(f"LOCK TABLE {self.table} IN EXCLUSIVE MODE")
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def release(self) -> None:
        if self.conn is not None:
            self.conn.rollback()
            self.conn.close()
            self.conn = None

    def waiting(self) -> list[int]:
        """Client backends of this node's database waiting for the lock on the table (not autovacuum, which
        may queue there too)."""
        rows = self.node.sql(
            "SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE NOT l.granted AND l.relation = %s::regclass AND a.datname = current_database() "
            "AND a.backend_type = 'client backend'",
            [self.table],
        )
        return [pid for (pid,) in rows]

    def wait_for_writer(self, *, timeout: float = 90, alive: subprocess.Popen | None = None) -> int:
        """The pid of the backend that blocked on the table (fails if `alive` ends first or time runs out)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = self.waiting()
            if pids:
                return pids[0]
            if alive is not None and alive.poll() is not None:
                raise AssertionError(f"ended before it reached {self.table}: {alive.stdout.read()[-3000:]}")
            time.sleep(0.1)
        raise AssertionError(f"nothing blocked on {self.table} within {timeout:.0f} s")

    def locks_held_by(self, pid: int) -> set[str]:
        """Tables on which backend `pid` holds a write lock (RowExclusiveLock): what its transaction wrote."""
        rows = self.node.sql(
            "SELECT c.relname FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "WHERE l.pid = %s AND l.granted AND l.mode = 'RowExclusiveLock' AND c.relkind = 'r'",
            [pid],
        )
        return {name for (name,) in rows}


def backend_gone(node: NodeProcess, pid: int, *, timeout: float = 30) -> None:
    """Wait until PostgreSQL has ended backend `pid` (its client died: the transaction rolls back)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not node.sql("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]):
            return
        time.sleep(0.1)
    raise AssertionError(f"backend {pid} of the {node.tier} database is still there after {timeout:.0f} s")


def setup_code(node: NodeProcess) -> str:
    """node init, then trust the parent's and the children's keys (what the centres do by exchanging
    fingerprints)."""
    lines = [
        "from django.core.management import call_command",
        f"call_command('node', 'init', tier={node.tier!r}, region={node.region!r}, base_url={node.url!r})",
    ]
    for peer in [node.parent, *node.children] if node.parent else node.children:
        lines.append(
            f"call_command('sync', 'trust', {peer.region!r}, key={str(peer.pem_file)!r}, url={peer.url!r})"
        )
    return "\n".join(lines)


class Network:
    """The tiers as real processes: ministry 100000, province 610000, cities 610100 (西安) and 610200 (铜川).

    Built once per test module (each node's database copied from the migrated test database, node init and
    keys exchanged in parallel, servers started); `close()` stops every process and drops the databases.
    """

    LAYOUT = (
        ("ministry", "100000", None),
        ("province", "610000", "ministry"),
        ("city", "610100", "province"),
        ("city2", "610200", "province"),
    )

    def __init__(self, *, template: dict, broker_url: str, var_dir: Path):
        import uuid

        self.databases = Databases(template)
        self.var_dir = var_dir
        self.nodes: dict[str, NodeProcess] = {}
        suffix = uuid.uuid4().hex[:6]
        for name, region, parent in self.LAYOUT:
            database = self.databases.copy(f"{template['NAME']}_{name}_{suffix}")
            node = NodeProcess(
                tier=name.rstrip("2"),
                region=region,
                databases=self.databases,
                database=database,
                var_dir=var_dir / name,
                broker_url=broker_url,
            )
            if parent:
                node.set_parent(self.nodes[parent])
            self.nodes[name] = node

    def __getattr__(self, name: str) -> NodeProcess:
        try:
            return self.__dict__["nodes"][name]
        except KeyError:
            raise AttributeError(name) from None

    def setup(self) -> None:
        processes = [
            subprocess.Popen(
                [sys.executable, "manage.py", "shell", "-c", setup_code(node)],
                cwd=BASE_DIR,
                env=node.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            for node in self.nodes.values()
        ]
        for process in processes:
            output, _ = process.communicate(timeout=180)
            assert process.returncode == 0, output.decode()[-3000:]

    def start(self) -> None:
        """Start every node not running (all of them at first; after a failed test, the ones it left down)."""
        for node in self.nodes.values():
            if node.server is not None and node.server.poll() is not None:
                node.server = None
            if node.server is None:
                node.start()
        for node in self.nodes.values():
            node.wait_ready()

    def close(self) -> None:
        for node in self.nodes.values():  # all asked to stop at once: each takes seconds to shut down
            if node.server is not None and node.server.poll() is None:
                node.server.terminate()
        for node in self.nodes.values():
            node.close()
        self.databases.drop_all()


def in_parallel(*calls):
    """Run node commands side by side (each is a process start: seconds apiece on a busy machine)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(len(calls)) as pool:
        return [future.result() for future in [pool.submit(call) for call in calls]]


def last_json(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])
