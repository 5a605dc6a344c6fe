"""`make demo`: three nodes (ministry 100000, 陕西省 610000, 西安市 610100) on one machine, seeded and served.

Each node is the same project with its own HC_TIER / HC_REGION / HC_VAR_DIR (its own SQLite database,
node key and personal-data keys under var/demo/<tier>/), no DATABASE_URL and no broker. Re-running is
safe; --reset starts from scratch. Ctrl-C stops the three sites.

    uv run python scripts/demo.py [--reset] [--no-serve] [--var-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import unicodedata
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from registry.management.commands.seed_demo import demo_logins  # noqa: E402  (needs ROOT on the path)
from registry.node import node_private_key_from, public_key_pem  # noqa: E402

HOST = "127.0.0.1"
# Whatever the calling shell has set for a node must not leak into the demo nodes.
SCRUBBED_PREFIXES = ("HC_", "DJANGO_", "DATABASE_URL", "CELERY_")


@dataclass(frozen=True)
class Node:
    tier: str
    region: str
    name: str
    port: int
    parent_url: str

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"


NODES = (
    Node("ministry", "100000", "国家居民健康卡注册管理中心", 8001, ""),
    Node("province", "610000", "陕西省居民健康卡注册管理中心", 8002, f"http://{HOST}:8001"),
    Node("city", "610100", "西安市居民健康卡注册管理中心", 8003, f"http://{HOST}:8002"),
)


# The terminal page's agent (`terminal_agent --emulator`): the city node's counter clerks pair with this token.
AGENT_PORT = 8765
AGENT_TOKEN = "demo-terminal-2026"  # noqa: S105  (a published demo token, like the demo passwords)


class DemoError(Exception):
    """A failure the demo explains (in Chinese and English) before exiting non-zero."""


def node_env(node: Node, var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED_PREFIXES)}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        HC_TIER=node.tier,
        HC_REGION=node.region,
        HC_PARENT_URL=node.parent_url,
        HC_VAR_DIR=str(var_dir / node.tier),
        PYTHONUNBUFFERED="1",
    )
    return env


def manage(node: Node, var_dir: Path, *args: str) -> str:
    """Run one manage.py command for `node`; its output is shown only when it fails."""
    command = [sys.executable, str(ROOT / "manage.py"), *args]
    result = subprocess.run(  # noqa: S603  (our own interpreter and manage.py, fixed arguments)
        command,
        cwd=ROOT,
        env=node_env(node, var_dir),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise DemoError(
            f"[{node.tier}] `manage.py {' '.join(args[:2])}` 执行失败 / failed (exit {result.returncode}):\n"
            f"{result.stdout}{result.stderr}"
        )
    return result.stdout


def say(message: str) -> None:
    print(message, flush=True)  # noqa: T201  (a console script)


def node_setup(node: Node, var_dir: Path) -> str:
    """Migrate, initialise the node's identity; return its public key (PEM)."""
    (var_dir / node.tier).mkdir(parents=True, exist_ok=True)
    manage(node, var_dir, "migrate", "--no-input")
    say(f"  [{node.tier}] database migrated / 数据库已迁移")
    init = ["node", "init", "--tier", node.tier, "--region", node.region, "--name", node.name]
    if node.parent_url:
        init += ["--parent", node.parent_url]
    manage(node, var_dir, *init, "--base-url", node.base_url)
    say(f"  [{node.tier}] node {node.region} initialised / 节点已初始化")
    # The key file sits where the node's settings put it (HC_NODE_KEY_FILE is scrubbed from the env).
    return public_key_pem(node_private_key_from(var_dir / node.tier / "node_ed25519.pem"))


def node_seed(node: Node, var_dir: Path, peers_file: Path) -> None:
    manage(node, var_dir, "seed_demo", "--peers", str(peers_file))
    say(f"  [{node.tier}] demo data seeded / 演示数据已写入")


def set_up(var_dir: Path) -> None:
    say(f"Setting up the demo nodes in {var_dir} / 正在准备演示节点 ...")
    with ThreadPoolExecutor(max_workers=len(NODES)) as pool:
        keys = list(pool.map(lambda node: node_setup(node, var_dir), NODES))
    peers = [
        {"tier": n.tier, "region": n.region, "name": n.name, "base_url": n.base_url, "public_key": key}
        for n, key in zip(NODES, keys, strict=True)
    ]
    peers_file = var_dir / "peers.json"
    peers_file.write_text(json.dumps(peers, ensure_ascii=False, indent=2), encoding="utf-8")
    with ThreadPoolExecutor(max_workers=len(NODES)) as pool:
        list(pool.map(lambda node: node_seed(node, var_dir, peers_file), NODES))


def reset(var_dir: Path) -> None:
    target = var_dir.resolve()
    if target == Path(target.anchor) or target == ROOT or target in ROOT.parents or target == Path.home():
        raise DemoError(f"拒绝删除 / refusing to delete {target}")
    if target.exists():
        shutil.rmtree(target)
        say(f"Removed {target} / 已删除旧的演示数据")


def check_ports() -> None:
    for node in NODES:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            # As the server will: connections of a previous run in TIME_WAIT do not hold the port.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((HOST, node.port))
                probe.listen(1)
            except OSError as error:
                raise DemoError(
                    f"端口 {node.port}（{node.tier} 节点）已被占用，可能已有演示在运行；请先停止占用该端口的程序。\n"
                    f"Port {node.port} ({node.tier} node) is already in use, perhaps by a running demo; "
                    f"stop whatever holds it and try again. ({error.strerror})"
                ) from None


def pad(text: str, width: int) -> str:
    """Left-justify by display width: a Chinese character takes two columns in a terminal."""
    used = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(1, width - used)


def print_summary(var_dir: Path, *, serving: bool) -> None:
    line = "=" * 78
    say("")
    say(line)
    say("居民健康卡注册管理平台 演示 / Resident Health Card platform demo")
    say(line)
    for node in NODES:
        say(f"{node.name}  [{node.tier} {node.region}]")
        if serving:
            say(f"  {pad('Admin / 管理后台:', 26)}{node.base_url}/admin/")
            say(f"  {pad('API docs / 接口文档:', 26)}{node.base_url}/api/docs/")
            say(f"  {pad('Server log / 运行日志:', 26)}{var_dir / node.tier / 'server.log'}")
            if node.parent_url:
                say(f"  {pad('Sync log / 同步日志:', 26)}{var_dir / node.tier / 'sync.log'}")
        say(f"  {pad('Username / 用户名', 26)}{pad('Password / 密码', 22)}Role / 角色")
        for login in demo_logins(node.tier):
            role = f"{login.role.group_name} ({login.role.key.replace('_', ' ')})"
            say(f"  {pad(login.username, 26)}{pad(login.password, 22)}{role}")
        say("")
    key_file = var_dir / "city" / "demo_hospital_key.json"
    if key_file.exists():
        key = json.loads(key_file.read_text(encoding="utf-8"))
        say(f"Hospital API key / 医院接口密钥 ({key['institution']}, city node):")
        say(f"  {pad('X-HC-Key:', 14)}{key['key_id']}")
        say(f"  {pad('secret / 密钥:', 14)}{key['secret']}")
        city = next(node for node in NODES if node.tier == "city")
        say(
            f"  try / 试用: HC_BASE_URL={city.base_url} HC_KEY_ID={key['key_id']} HC_SECRET={key['secret']} \\"
        )
        say("      python3 -c \"$(sed -n '/^```python/,/^```/p' docs/hospital-api.md | sed '1d;$d')\"")
        say("  (signing scheme and refusal codes: docs/hospital-api.md / 签名规则见 docs/hospital-api.md)")
        say("")
    if serving:
        city = next(node for node in NODES if node.tier == "city")
        say("Terminal page / 读写卡终端页面 (emulated card and SAM / 模拟卡和SAM, city node):")
        say(f"  {pad('Page / 页面:', 26)}{city.base_url}/admin/terminals/terminal/console/")
        say(f"  {pad('Agent / 终端代理:', 26)}http://{HOST}:{AGENT_PORT}  token / 配对码: {AGENT_TOKEN}")
        say("")
    say("Demo passwords are for this demo only / 演示密码仅用于本地演示，切勿用于真实部署。")
    if serving:
        say(
            "Each node has its own login cookie: one browser can stay logged in to all three. / 三个节点可同时登录。"
        )
        say(
            f"Sync runs every {SYNC_EVERY} s (city -> province -> ministry and back); see Exchange > Sync runs. "
            f"/ 每 {SYNC_EVERY} 秒同步一次，见“数据交换 > 同步记录”。"
        )
        say("Press Ctrl-C to stop the three sites / 按 Ctrl-C 停止三个站点。")
    say(line)


def wait_until_up(node: Node, process: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    url = f"{node.base_url}/admin/login/"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(encoding="utf-8", errors="replace")[-2000:]
            raise DemoError(f"[{node.tier}] 站点启动失败 / the site exited at start-up:\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310  (our own http URL)
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise DemoError(f"[{node.tier}] {url} 在 {timeout:.0f} 秒内没有响应 / did not answer in {timeout:.0f} s")


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + 10
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


SYNC_EVERY = int(os.environ.get("HC_DEMO_SYNC_SECONDS", "30"))


def start_sync_loops(var_dir: Path) -> list[subprocess.Popen]:
    """The tier sync on a schedule without Redis: `manage.py sync loop` at the province and the city pushes the
    journal up and pulls filings and centres down every SYNC_EVERY seconds; each run is in the admin's sync runs."""
    loops = []
    for node in NODES:
        if not node.parent_url:
            continue
        with (var_dir / node.tier / "sync.log").open("ab") as handle:
            loops.append(
                subprocess.Popen(  # noqa: S603  (our own interpreter and manage.py)
                    [sys.executable, str(ROOT / "manage.py"), "sync", "loop", "--every", str(SYNC_EVERY)],
                    cwd=ROOT,
                    env=node_env(node, var_dir),
                    stdin=subprocess.DEVNULL,
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                )
            )
    return loops


def serve(var_dir: Path) -> int:
    stopping = False

    def on_signal(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    processes: list[subprocess.Popen] = []
    helpers: list[subprocess.Popen] = []  # not sites: the terminal agent and the sync loops
    try:
        for node in NODES:
            log = var_dir / node.tier / "server.log"
            with log.open("ab") as handle:
                processes.append(
                    subprocess.Popen(  # noqa: S603  (our own interpreter and manage.py)
                        [
                            sys.executable,
                            str(ROOT / "manage.py"),
                            "runserver",
                            f"{HOST}:{node.port}",
                            "--noreload",
                        ],
                        cwd=ROOT,
                        env=node_env(node, var_dir),
                        stdin=subprocess.DEVNULL,
                        stdout=handle,
                        stderr=subprocess.STDOUT,
                    )
                )
        for node, process in zip(NODES, processes, strict=True):
            wait_until_up(node, process, var_dir / node.tier / "server.log")
        city = next(node for node in NODES if node.tier == "city")
        with (var_dir / "city" / "terminal_agent.log").open("ab") as handle:
            agent = subprocess.Popen(  # noqa: S603  (our own interpreter and manage.py)
                [
                    sys.executable,
                    str(ROOT / "manage.py"),
                    "terminal_agent",
                    "--emulator",
                    "--port",
                    str(AGENT_PORT),
                    "--origin",
                    city.base_url,
                    "--token",
                    AGENT_TOKEN,
                ],  # fmt: skip
                cwd=ROOT,
                env=node_env(city, var_dir),
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.STDOUT,
            )
        helpers.append(agent)
        helpers += start_sync_loops(var_dir)
        print_summary(var_dir, serving=True)
        while not stopping:
            for node, process in zip(NODES, processes, strict=True):
                # A Ctrl-C reaches the sites too (same process group): only an exit before it is an error.
                if process.poll() is not None and not stopping:
                    raise DemoError(
                        f"[{node.tier}] 站点意外退出 / the site stopped unexpectedly (exit {process.returncode}); "
                        f"see {var_dir / node.tier / 'server.log'}"
                    )
            time.sleep(0.5)
        say("\nStopping / 正在停止 ...")
        return 0
    finally:
        stop(helpers + processes)
        if stopping:
            say("Stopped / 已停止。")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-serve", action="store_true", help="set up and seed the nodes, then exit")
    parser.add_argument("--reset", action="store_true", help="delete the demo nodes' state first")
    parser.add_argument(
        "--var-dir", type=Path, default=ROOT / "var" / "demo", help="where the nodes keep their state"
    )
    options = parser.parse_args(argv)
    var_dir = options.var_dir.resolve()
    try:
        if not options.no_serve:
            check_ports()  # before the slow part: say at once that another demo holds the ports
        if options.reset:
            reset(var_dir)
        set_up(var_dir)
        if options.no_serve:
            print_summary(var_dir, serving=False)
            return 0
        check_ports()  # again: something may have taken a port while we were seeding
        return serve(var_dir)
    except DemoError as error:
        say(f"\n错误 / Error: {error}")
        return 1
    except KeyboardInterrupt:
        say("\nInterrupted / 已中断。")
        return 130


if __name__ == "__main__":
    sys.exit(main())
