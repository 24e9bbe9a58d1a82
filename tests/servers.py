"""Real test servers on loopback: redis-server, rabbitmq-server and a MongoDB-wire server.

Each server runs in its own process group (``setsid``) in a temporary directory on free
ports, is waited for with a bounded probe (a clear error naming the server and the tail of
its log), and is stopped by its recorded PID after checking ``/proc/PID/cmdline`` — never by
name. Used by ``tests/conftest.py`` (lazy, session-scoped fixtures) and by
``bench/persistence.py``. Facts behind the choices: ../shared/notes/test-servers.md.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TypeAlias, TypeVar

ROOT = Path(__file__).resolve().parent.parent
MONGO_VENV = ROOT / ".venv-mongo"
SECANTUSDB = "secantusdb==0.7.0b3"


class ServerError(Exception):
    """A test server is missing, did not start or did not answer in time."""


class ServerMissingError(ServerError):
    """The server's binary is not installed (locally: skip; under CI=true: fail)."""


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


T = TypeVar("T")


def need(start: Callable[[], T]) -> T:
    """Start a server for a test: a missing binary fails under CI=true and skips otherwise
    (with the reason); a server that does not start fails the test with its log."""
    import pytest

    try:
        return start()
    except ServerMissingError as exc:
        missing: ServerMissingError | None = exc
        failed = None
    except ServerError as exc:
        missing, failed = None, exc
    if missing is not None:
        if in_ci():
            pytest.fail(f"CI=true and a test server is missing: {missing}", pytrace=False)
        pytest.skip(f"test server not available: {missing}")
    pytest.fail(str(failed), pytrace=False)


def free_port(low: int | None = None, high: int | None = None) -> int:
    """A port free right now on 127.0.0.1 (in [low, high] when given)."""
    for _ in range(200):
        port = 0 if low is None or high is None else random.randint(low, high)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise ServerError("no free port found on 127.0.0.1")


def _tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text[-lines:]) or f"(empty log {path})"


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the test process dies (no orphan servers
    after a killed pytest). Linux only; elsewhere a no-op."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@dataclass
class Server:
    """One server process: how to start it again, how to probe it, where its log is."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    probe: Callable[[], bool]
    marker: str  # a string that must be in /proc/PID/cmdline before we signal the PID
    start_timeout: float = 30.0
    stop_timeout: float = 15.0
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        if self.running():
            return
        logf = open(self.log, "ab")  # noqa: SIM115 - handed to the child
        try:
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=logf,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # setsid: its own process group
                # PDEATHSIG follows the spawning *thread*: only when that is the main one
                preexec_fn=_die_with_parent
                if threading.current_thread() is threading.main_thread()
                else None,
            )
        finally:
            logf.close()
        self.wait_ready()

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise ServerError(
                    f"{self.name} exited with code {self.proc.returncode} while starting "
                    f"({' '.join(self.argv[:3])} …); last lines of {self.log}:\n{_tail(self.log)}"
                )
            try:
                if self.probe():
                    return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise ServerError(
            f"{self.name} did not answer within {self.start_timeout:.0f} s; "
            f"last lines of {self.log}:\n{_tail(self.log)}"
        )

    def _signal(self, sig: signal.Signals) -> None:
        pid = self.pid
        if pid is None or not self.running():
            return
        if self.marker not in _cmdline(pid):
            raise ServerError(f"{self.name}: PID {pid} is no longer ours ({_cmdline(pid)!r})")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig)  # the whole group: the server and anything it spawned

    def stop(self) -> None:
        """SIGTERM the process group, wait, then SIGKILL what is left."""
        if self.proc is None:
            return
        if self.running():
            self._signal(signal.SIGTERM)
            try:
                self.proc.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.proc.wait(10)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # stragglers left in the group
        self.proc = None

    def kill(self) -> None:
        """SIGKILL (a crash): no shutdown work, no final fsync beyond what was done."""
        if self.proc is None:
            return
        self._signal(signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


def _probe_redis(port: int) -> Callable[[], bool]:
    def probe() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")

    return probe


def _probe_tcp(port: int) -> Callable[[], bool]:
    def probe() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True

    return probe


def _probe_amqp(port: int) -> Callable[[], bool]:
    def probe() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as s:
            s.sendall(b"AMQP\x00\x00\x09\x01")
            data = s.recv(8)
            return len(data) > 0 and data[0] == 0x01  # a Connection.Start method frame

    return probe


def _probe_mongo(url: str, port: int | None) -> Callable[[], bool]:
    def probe() -> bool:
        import pymongo
        from pymongo.errors import PyMongoError

        if port is not None:
            # TCP first: a pymongo client that fails to connect leaves sockets for the GC
            # (ResourceWarning later, in whatever test runs then)
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                pass
        client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(
            url, serverSelectionTimeoutMS=2000, connectTimeoutMS=2000
        )
        try:
            client.admin.command("ping")
            return True
        except PyMongoError:
            return False
        finally:
            client.close()

    return probe


# -- Redis --------------------------------------------------------------------------------


@dataclass
class RedisServer:
    server: Server
    port: int
    dir: Path

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


def start_redis(
    base: Path,
    *,
    replicaof: int | None = None,
    extra: list[str] | None = None,
    port: int | None = None,
) -> RedisServer:
    """redis-server with AOF on. ``appendfsync everysec`` (the default): Redis writes the AOF
    before it answers, so killing the process loses nothing acknowledged (an OS crash could
    lose the last second; production may choose ``always``)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise ServerMissingError("redis-server is not installed (apt-get install redis-server)")
    port = port or free_port()
    d = Path(tempfile.mkdtemp(prefix=f"redis{port}-", dir=base))
    argv = [binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(d)]
    argv += ["--appendonly", "yes", "--appendfsync", "everysec", "--save", ""]
    argv += ["--daemonize", "no", "--logfile", str(d / "redis.log")]
    argv += ["--repl-diskless-sync-delay", "0"]
    if replicaof is not None:
        argv += ["--replicaof", "127.0.0.1", str(replicaof)]
    argv += extra or []
    server = Server(
        name=f"redis-server :{port}",
        argv=argv,
        env=dict(os.environ),
        log=d / "redis.log",
        probe=_probe_redis(port),
        marker="redis-server",
        start_timeout=20.0,
    )
    server.start()
    return RedisServer(server, port, d)


def start_redis_cluster(base: Path) -> RedisServer:
    """A one-node Redis Cluster holding all 16384 slots (enough for a cluster client)."""
    d = Path(tempfile.mkdtemp(prefix="redis-cluster-", dir=base))
    server = start_redis(
        base,
        extra=["--cluster-enabled", "yes", "--cluster-config-file", str(d / "nodes.conf")],
        # the cluster bus listens on port + 10000: Redis refuses a port above 55535
        port=free_port(20000, 55535),
    )
    try:
        redis_command(server.port, "CLUSTER", "ADDSLOTSRANGE", "0", "16383")
    except ServerError:
        server.server.stop()
        raise
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if b"cluster_state:ok" in _bulk(redis_command(server.port, "CLUSTER", "INFO")):
            return server
        time.sleep(0.05)
    server.server.stop()
    raise ServerError(f"redis cluster :{server.port} did not reach cluster_state:ok")


def start_sentinel(
    base: Path,
    primary_port: int,
    service: str = "mymaster",
    *,
    failover_timeout_ms: int | None = None,
) -> RedisServer:
    """A Redis Sentinel (redis-server --sentinel) monitoring the primary on ``primary_port``
    (quorum 1, down after 1000 ms; ``failover_timeout_ms`` when given, else Sentinel's
    default of 3 minutes)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise ServerMissingError("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    d = Path(tempfile.mkdtemp(prefix=f"sentinel{port}-", dir=base))
    conf = d / "sentinel.conf"
    conf.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {d}\nlogfile {d / 'sentinel.log'}\n"
        f"sentinel monitor {service} 127.0.0.1 {primary_port} 1\n"
        f"sentinel down-after-milliseconds {service} 1000\n"
    )
    if failover_timeout_ms is not None:
        with conf.open("a") as f:
            f.write(f"sentinel failover-timeout {service} {failover_timeout_ms}\n")
    server = Server(
        name=f"redis-sentinel :{port}",
        argv=[binary, str(conf), "--sentinel"],
        env=dict(os.environ),
        log=d / "sentinel.log",
        probe=_probe_redis(port),
        marker="redis-server",
        start_timeout=20.0,
    )
    server.start()
    return RedisServer(server, port, d)


RespReply: TypeAlias = bytes | int | list["RespReply"] | None


def redis_command(port: int, *args: str, timeout: float = 2.0) -> RespReply:
    """One command to a Redis (or Sentinel) on 127.0.0.1, its raw RESP reply (redis-py's
    own connection and parser, without the client's per-command reply callbacks); an
    error reply is raised as ServerError."""
    from redis.connection import Connection
    from redis.exceptions import RedisError, ResponseError

    conn = Connection(
        host="127.0.0.1",
        port=port,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        protocol=2,  # RESP2: maps come as flat lists, as the callers read them
    )
    try:
        conn.send_command(*args)
        reply: RespReply = conn.read_response()
        return reply
    except ResponseError as exc:
        raise ServerError(f"redis :{port} replied with an error: {exc}") from exc
    except RedisError as exc:
        raise ServerError(f"redis :{port}: {exc}") from exc
    finally:
        conn.disconnect()


def _bulk(reply: RespReply) -> bytes:
    if not isinstance(reply, bytes):
        raise ServerError(f"redis: expected a string reply, got {reply!r}")
    return reply


def _cluster_port(taken: set[int]) -> int:
    """A free port whose cluster bus port (port + 10000) is free too."""
    for _ in range(100):
        port = free_port(20000, 55535)  # Redis refuses a cluster port above 55535
        if port in taken or port + 10000 in taken:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise ServerError("no free port pair (port, port + 10000) found on 127.0.0.1")


def start_redis_cluster_nodes(base: Path, masters: int = 3) -> list[RedisServer]:
    """A Redis Cluster of ``masters`` primaries (no replicas): the 16384 slots split in
    contiguous ranges (CLUSTER ADDSLOTSRANGE on each node), joined by CLUSTER MEET, and
    waited for until every node reports cluster_state:ok and knows every node."""
    servers: list[RedisServer] = []
    try:
        taken: set[int] = set()
        for _ in range(masters):
            port = _cluster_port(taken)
            taken |= {port, port + 10000}
            d = Path(tempfile.mkdtemp(prefix="redis-cluster-", dir=base))
            conf = ["--cluster-config-file", str(d / "nodes.conf")]
            servers.append(start_redis(base, extra=["--cluster-enabled", "yes", *conf], port=port))
        for i, node in enumerate(servers):
            low, high = 16384 * i // masters, 16384 * (i + 1) // masters - 1
            redis_command(node.port, "CLUSTER", "ADDSLOTSRANGE", str(low), str(high))
        for node in servers[1:]:
            redis_command(servers[0].port, "CLUSTER", "MEET", "127.0.0.1", str(node.port))
        want = [b"cluster_state:ok\r\n", b"cluster_slots_ok:16384\r\n"]
        want.append(b"cluster_known_nodes:%d\r\n" % masters)
        infos: list[bytes] = []
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            infos = [_bulk(redis_command(node.port, "CLUSTER", "INFO")) for node in servers]
            if all(w in info for info in infos for w in want):
                return servers
            time.sleep(0.05)
        raise ServerError(
            f"redis cluster {[n.port for n in servers]} did not reach cluster_state:ok on "
            f"every node within 15 s; their CLUSTER INFO:\n"
            + "\n".join(i.decode(errors="replace") for i in infos)
        )
    except BaseException:
        for node in servers:
            node.server.stop()
        raise


def _fields(entry: RespReply) -> dict[bytes, bytes]:
    """A Sentinel reply's flat [field, value, ...] list as a dict."""
    if not isinstance(entry, list):
        raise ServerError(f"sentinel: expected a list of fields, got {entry!r}")
    items = [_bulk(x) for x in entry]
    return dict(zip(items[::2], items[1::2], strict=True))


def wait_sentinel_sees_replicas(
    sentinel_port: int, replica_ports: list[int], service: str = "mymaster", timeout: float = 15
) -> None:
    """Until the Sentinel lists every replica as up with its link to the primary ok (it
    learns them from the primary's INFO; only a replica it knows can be promoted)."""
    want = {str(p).encode() for p in replica_ports}
    deadline = time.monotonic() + timeout
    seen: list[dict[bytes, bytes]] = []
    while time.monotonic() < deadline:
        reply = redis_command(sentinel_port, "SENTINEL", "REPLICAS", service)
        seen = [_fields(e) for e in reply] if isinstance(reply, list) else []
        ready = {
            r[b"port"]
            for r in seen
            if r.get(b"flags") == b"slave" and r.get(b"master-link-status") == b"ok"
        }
        if want <= ready:
            return
        time.sleep(0.05)
    raise ServerError(
        f"sentinel :{sentinel_port} did not see replicas {sorted(replica_ports)} of {service} "
        f"up within {timeout:.0f} s; it lists: {seen}"
    )


def redis_info(port: int, section: str) -> dict[str, str]:
    """One section of INFO as a dict (``field:value`` lines)."""
    lines = _bulk(redis_command(port, "INFO", section)).decode().splitlines()
    return dict(line.split(":", 1) for line in lines if ":" in line and not line.startswith("#"))


def wait_replicated(primary_port: int, replica_port: int, timeout: float = 10) -> None:
    """Until the replica has applied everything the primary had written when called.

    ``WAIT`` on a fresh connection proves nothing: it waits for that connection's own
    writes only (none). And ``state=online`` is not enough either: after a diskless full
    sync the primary holds the stream back until the replica's first REPLCONF ACK (sent
    once a second), so a failover in that second loses the writes made meanwhile."""
    target = int(redis_info(primary_port, "replication")["master_repl_offset"])
    deadline = time.monotonic() + timeout
    while True:
        info = redis_info(replica_port, "replication")
        done = int(info.get("slave_repl_offset", "-1"))
        if info.get("master_link_status") == "up" and done >= target:
            return
        if time.monotonic() > deadline:
            raise ServerError(
                f"replica :{replica_port} applied offset {done} of {target} of its primary "
                f":{primary_port} within {timeout:.0f} s"
            )
        time.sleep(0.02)


def sentinel_primary(sentinel_port: int, service: str = "mymaster") -> int | None:
    """The port of the primary the Sentinel announces for ``service`` (None: none)."""
    reply = redis_command(sentinel_port, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", service)
    if not isinstance(reply, list) or len(reply) != 2:
        return None
    return int(_bulk(reply[1]))


# -- RabbitMQ -----------------------------------------------------------------------------


@dataclass
class RabbitServer:
    server: Server
    epmd: Server
    port: int
    dir: Path

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def stop(self) -> None:
        self.server.stop()
        self.epmd.stop()


def _rabbit_sbin() -> Path:
    found = sorted(glob.glob("/usr/lib/rabbitmq/lib/rabbitmq_server-*/sbin"))
    if not found:
        raise ServerMissingError(
            "rabbitmq-server is not installed (apt-get install rabbitmq-server)"
        )
    return Path(found[-1])


def start_rabbitmq(base: Path) -> RabbitServer:
    """rabbitmq-server run from its sbin scripts directly (as root), with its own epmd."""
    sbin = _rabbit_sbin()
    epmd_bin = shutil.which("epmd") or next(
        iter(sorted(glob.glob("/usr/lib/erlang/erts-*/bin/epmd"))), None
    )
    if epmd_bin is None:
        raise ServerMissingError("epmd (Erlang) is not installed (apt-get install rabbitmq-server)")
    port = free_port()
    epmd_port = free_port(20000, 40000)
    dist_port = free_port(40001, 54000)
    d = Path(tempfile.mkdtemp(prefix=f"rabbit{port}-", dir=base))
    home = d / "home"
    home.mkdir()
    cookie = home / ".erlang.cookie"
    cookie.write_text("DDTFLOWTESTCOOKIE" + str(port))
    cookie.chmod(0o400)  # Erlang refuses any other mode
    (d / "enabled_plugins").write_text("[].\n")
    (d / "rabbitmq-env.conf").write_text("")
    (d / "rabbitmq.conf").write_text("loopback_users.guest = false\n")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": str(home),
        "ERL_EPMD_PORT": str(epmd_port),
        "RABBITMQ_NODENAME": f"rabbit{port}@localhost",
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(port),
        "RABBITMQ_DIST_PORT": str(dist_port),
        "RABBITMQ_MNESIA_BASE": str(d / "mnesia"),
        "RABBITMQ_LOG_BASE": str(d / "log"),
        "RABBITMQ_PID_FILE": str(d / "rabbit.pid"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
        "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq.conf"),
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(d / "advanced.config"),
        "RABBITMQ_CONF_ENV_FILE": str(d / "rabbitmq-env.conf"),
        "RABBITMQ_LOGS": "-",  # to stdout, i.e. our log file
    }
    epmd = Server(
        name=f"epmd :{epmd_port}",
        argv=[epmd_bin, "-port", str(epmd_port), "-address", "127.0.0.1"],
        env=env,
        log=d / "epmd.log",
        probe=_probe_tcp(epmd_port),
        marker="epmd",
        start_timeout=10.0,
    )
    epmd.start()
    server = Server(
        name=f"rabbitmq-server :{port}",
        argv=[str(sbin / "rabbitmq-server")],
        env=env,
        log=d / "rabbitmq.log",
        probe=_probe_amqp(port),
        marker="rabbit",
        start_timeout=60.0,
        stop_timeout=20.0,
    )
    try:
        server.start()
    except BaseException:
        epmd.stop()
        raise
    return RabbitServer(server, epmd, port, d)


def rabbitmqctl(
    rabbit: RabbitServer, *args: str, tool: str = "rabbitmqctl", timeout: float = 60.0
) -> str:
    """Run a RabbitMQ CLI tool (``rabbitmqctl``, ``rabbitmq-diagnostics``, …) against a
    server started by ``start_rabbitmq``: the same environment as the server (node name,
    epmd port, HOME with its cookie), else the CLI cannot authenticate. Its stdout; a
    non-zero exit is a ServerError with the output. About 0.5 s a call."""
    argv = [str(_rabbit_sbin() / tool), *args]
    try:
        done = subprocess.run(
            argv, env=rabbit.server.env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:
        raise ServerError(f"{tool} {' '.join(args)} did not finish within {timeout:.0f} s") from exc
    if done.returncode != 0:
        raise ServerError(
            f"{tool} {' '.join(args)} exited with code {done.returncode}:\n"
            f"{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    return done.stdout


def rabbit_alarms(rabbit: RabbitServer) -> list[str]:
    """The resource alarms the node reports now (local and cluster-wide), e.g.
    ``["Memory alarm on node rabbit…@localhost"]``; empty when there is none."""
    out = rabbitmqctl(rabbit, "--formatter", "json", "alarms", tool="rabbitmq-diagnostics")
    report = json.loads(out)
    return [str(a) for a in [*report.get("local", []), *report.get("global", [])]]


# -- MongoDB-wire (secantusdb) ------------------------------------------------------------


@dataclass
class MongoServer:
    server: Server | None
    url: str


def ensure_mongo_venv() -> Path:
    """The secantusdb server lives in its own venv (it pulls numpy and shapely)."""
    exe = MONGO_VENV / "bin" / "secantusd-py"
    if exe.exists():
        return exe
    py = shutil.which("python3") or sys.executable
    subprocess.run([py, "-m", "venv", str(MONGO_VENV)], check=True)
    done = subprocess.run(
        [str(MONGO_VENV / "bin" / "pip"), "install", "-q", SECANTUSDB],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0 or not exe.exists():
        raise ServerMissingError(
            f"could not install {SECANTUSDB} into {MONGO_VENV}:\n{done.stderr[-2000:]}"
        )
    return exe


def start_mongo(base: Path, *, use_env: bool = True) -> MongoServer:
    """MONGO_URL when set (a real mongod), else a secantusdb server on a free port."""
    if use_env and os.environ.get("MONGO_URL"):
        return MongoServer(None, os.environ["MONGO_URL"])
    exe = ensure_mongo_venv()
    port = free_port()
    d = Path(tempfile.mkdtemp(prefix=f"mongo{port}-", dir=base))
    # retryWrites=false: with retryable writes this server slows down as writes pile up.
    url = f"mongodb://127.0.0.1:{port}/?retryWrites=false&directConnection=true"
    server = Server(
        name=f"secantusd-py (MongoDB-wire) :{port}",
        argv=[str(exe), "--host", "127.0.0.1", "--port", str(port), "--storage-path", str(d)],
        env=dict(os.environ),
        log=d / "secantusd.log",
        probe=_probe_mongo(url, port),
        marker="secantusd",
        start_timeout=60.0,
    )
    server.start()
    return MongoServer(server, url)


# -- a lazy set of shared servers ---------------------------------------------------------


class Servers:
    """Starts each server on first use; ``close()`` stops what was started."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="ddtflow-servers-"))
        self._redis: RedisServer | None = None
        self._rabbit: RabbitServer | None = None
        self._mongo: MongoServer | None = None
        self._extra: list[RedisServer] = []
        self._failed: dict[str, ServerError] = {}
        self._extra_mongo: list[MongoServer] = []

    def redis(self) -> RedisServer:
        if self._redis is None:
            self._redis = self._once("redis", start_redis)
        return self._redis

    def redis_pair(self) -> tuple[RedisServer, RedisServer]:
        """A fresh primary and its replica (for failover tests); stopped at close()."""
        primary = start_redis(self.base)
        self._extra.append(primary)
        replica = start_redis(self.base, replicaof=primary.port)
        self._extra.append(replica)
        return primary, replica

    def extra_redis(self) -> RedisServer:
        """A fresh redis-server of its own (fault tests kill it); stopped at close()."""
        server = start_redis(self.base)
        self._extra.append(server)
        return server

    def redis_cluster(self) -> RedisServer:
        """A fresh one-node Redis Cluster; stopped at close()."""
        server = start_redis_cluster(self.base)
        self._extra.append(server)
        return server

    def redis_sentinel(self) -> tuple[RedisServer, RedisServer]:
        """A fresh primary and a Sentinel monitoring it as ``mymaster``."""
        primary = self.extra_redis()
        sentinel = start_sentinel(self.base, primary.port)
        self._extra.append(sentinel)
        return primary, sentinel

    def redis_sentinel_failover(self) -> tuple[RedisServer, RedisServer, RedisServer]:
        """A fresh primary, its replica and a Sentinel (quorum 1, down after 1000 ms,
        failover timeout 2000 ms) that knows the replica; stopped at close(). Before a
        failover, ``wait_replicated`` makes sure the replica has what was written."""
        primary, replica = self.redis_pair()
        sentinel = start_sentinel(self.base, primary.port, failover_timeout_ms=2000)
        self._extra.append(sentinel)
        wait_sentinel_sees_replicas(sentinel.port, [replica.port])
        return primary, replica, sentinel

    def redis_cluster_nodes(self, masters: int = 3) -> list[RedisServer]:
        """A fresh Redis Cluster of ``masters`` primaries; stopped at close()."""
        nodes = start_redis_cluster_nodes(self.base, masters)
        self._extra.extend(nodes)
        return nodes

    def extra_mongo(self) -> MongoServer:
        """A fresh secantusdb server of its own (fault tests kill it); stopped at close()."""
        server = start_mongo(self.base, use_env=False)
        self._extra_mongo.append(server)
        return server

    def rabbitmq(self) -> RabbitServer:
        if self._rabbit is None:
            self._rabbit = self._once("rabbitmq", start_rabbitmq)
        return self._rabbit

    def mongo(self) -> MongoServer:
        if self._mongo is None:
            self._mongo = self._once("mongo", start_mongo)
        return self._mongo

    def _once(self, name: str, start: Callable[[Path], T]) -> T:
        """Start a shared server; a failure is remembered, not retried by every test."""
        if name in self._failed:
            raise self._failed[name]
        try:
            return start(self.base)
        except ServerError as exc:
            self._failed[name] = exc
            raise

    def close(self) -> None:
        for r in [*self._extra, *([self._redis] if self._redis else [])]:
            r.server.stop()
        if self._rabbit is not None:
            self._rabbit.stop()
        for m in [*self._extra_mongo, *([self._mongo] if self._mongo else [])]:
            if m.server is not None:
                m.server.stop()
        shutil.rmtree(self.base, ignore_errors=True)


# -- a local HTTP server (stand-in for a backend, a gateway) ------------------------------


@contextlib.contextmanager
def http_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """``handler`` served on 127.0.0.1 (a free port, one thread per request) for the
    block; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
