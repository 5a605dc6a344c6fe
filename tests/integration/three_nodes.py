"""Three real nodes for the sync integration test: ministry, province and city, each a server process with its
own PostgreSQL database (copied from the migrated test database), data keys and node key."""

from __future__ import annotations

import base64
import json
import os
import secrets
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

    def _admin(self):
        return psycopg.connect(
            dbname="postgres",
            user=self.params["USER"] or None,
            password=self.params["PASSWORD"] or None,
            host=self.params["HOST"] or None,
            port=self.params["PORT"] or None,
            autocommit=True,
        )

    def copy(self, name: str) -> str:
        with self._admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.params["NAME"]}"')
        self.created.append(name)
        return name

    def drop_all(self) -> None:
        with self._admin() as admin:
            for name in self.created:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def url(self, name: str) -> str:
        from tests.integration.conftest import database_url_of

        class _Conn:
            settings_dict = {**self.params, "NAME": name}

        return database_url_of(_Conn)


class NodeProcess:
    def __init__(self, *, tier: str, region: str, database_url: str, var_dir: Path, broker_url: str = ""):
        self.tier, self.region, self.var_dir = tier, region, var_dir
        var_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.key_file = var_dir / "node_ed25519.pem"
        self.pem = public_key_pem(node_key_create(self.key_file))
        self.pem_file = var_dir / "node_public.pem"
        self.pem_file.write_text(self.pem)
        self.parent_url = ""
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": database_url,
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
        self.log = open(var_dir / "server.log", "ab")  # noqa: SIM115 (closed in stop())

    def set_parent(self, parent: NodeProcess) -> None:
        self.parent_url = parent.url
        self.env["HC_PARENT_URL"] = parent.url

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

    def output(self) -> str:
        self.log.flush()
        return (self.var_dir / "server.log").read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.server is not None and self.server.poll() is None:
            self.server.terminate()
            try:
                self.server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait(timeout=5)
        self.server = None

    def close(self) -> None:
        self.stop()
        self.log.close()


def setup_code(node: NodeProcess, peers: list[NodeProcess]) -> str:
    """node init, then trust each peer's key (what the centres do by exchanging fingerprints)."""
    lines = [
        "from django.core.management import call_command",
        f"call_command('node', 'init', tier={node.tier!r}, region={node.region!r}, base_url={node.url!r})",
    ]
    for peer in peers:
        lines.append(
            f"call_command('sync', 'trust', {peer.region!r}, key={str(peer.pem_file)!r}, url={peer.url!r})"
        )
    return "\n".join(lines)
