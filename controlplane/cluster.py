#!/usr/bin/env python3
"""Start and stop the real Kubernetes control plane on loopback (stdlib only).

    python3 controlplane/cluster.py up [--name NAME] [--kubeconfig FILE] [--port N] [--nodes N]
                                       [--own-ports]
    python3 controlplane/cluster.py down [--name NAME]
    python3 controlplane/cluster.py info [--name NAME]
    python3 controlplane/cluster.py restart [--name NAME] {kube-apiserver,etcd,...}

`up` builds what is missing (controlplane/build.sh), then has kwokctl start etcd,
kube-apiserver, kube-controller-manager, kube-scheduler and the kwok controller from those
binaries (its "binary" runtime: local processes, nothing downloaded), adds fake nodes whose
pods kwok makes Running and Ready, writes an admin kubeconfig with its certificates inline,
and returns. The API server logs every write to an audit log (controlplane/audit-policy.yaml).
`down` stops every process of the cluster and removes its folder. `info` prints where its
files are, as JSON (the tests read the CA, the audit log and the binaries from it).
`restart` SIGKILLs one component of the running cluster and starts it again as kwokctl
started it, then waits until it is ready (the chaos runs restart kube-apiserver and etcd).

kwokctl's state (certificates, etcd data, logs, pid files) lives under the cache, outside the
work tree: $REMEDIATOR_CACHE, else $XDG_CACHE_HOME/remediator, else ~/.cache/remediator.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_NAME = "remediator"
EXIT_NO_GO = 3  # build.sh's "go is not installed"


class ClusterError(RuntimeError):
    """The cluster could not be built or started; the message says why, with log lines."""


def cache_root() -> Path:
    if os.environ.get("REMEDIATOR_CACHE"):
        return Path(os.environ["REMEDIATOR_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "remediator"


def kwok_workdir() -> Path:
    return cache_root() / "kwok"


def cluster_dir(name: str) -> Path:
    return kwok_workdir() / "clusters" / name


def say(message: str) -> None:
    print(f"cluster: {message}", file=sys.stderr, flush=True)


def tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no log at {path})"
    return "\n".join(f"  | {line}" for line in text[-lines:])


def build() -> Path:
    """The bin folder with every binary; builds what is missing (minutes, once)."""
    proc = subprocess.run(
        ["bash", str(HERE / "build.sh")], stdout=subprocess.PIPE, text=True, check=False
    )
    if proc.returncode == EXIT_NO_GO:
        raise ClusterError("go is not installed: the real control plane is built with Go")
    if proc.returncode != 0:
        raise ClusterError("controlplane/build.sh failed (its last log lines are above)")
    return Path(proc.stdout.strip().splitlines()[-1])


# Ports of a cluster with its own: below kwokctl's (counting down from 32767) and the
# kernel's ephemeral range (from 32768), where no client's passing socket takes one while
# its component restarts (a connect() to a port nobody listens on can even bind that very
# port: TCP's self-connect)
OWN_PORTS = range(20000, 30000)


def own_port(taken: set[int]) -> int:
    import random

    while True:
        port = random.choice(OWN_PORTS)
        if port not in taken and not port_taken(port):
            taken.add(port)
            return port


def port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # as Go's listeners do: connections of a stopped server in TIME_WAIT do not count
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def environment(bin_dir: Path) -> dict[str, str]:
    # the built kubectl first on PATH: kwokctl looks one up, and downloads one if it finds none
    return {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "KWOK_WORKDIR": str(kwok_workdir()),
        "KWOK_RUNTIME": "binary",
    }


# kwokctl gives each component the first free port counting down from 32767
PORT_OPTIONS = (
    "etcdPort",
    "etcdPeerPort",
    "kubeApiserverPort",
    "kubeControllerManagerPort",
    "kubeSchedulerPort",
    "kwokControllerPort",
)


def kwokctl_config(bin_dir: Path, port: int, own_ports: bool = False) -> str:
    """kwokctl's configuration: local binaries only, everything bound to loopback. With
    `own_ports` every component listens on a port of `OWN_PORTS`, away from the ports
    kwokctl hands out: a component SIGKILLed and restarted (`restart`) gets its port back,
    not lost to a cluster that another session starts meanwhile."""
    options: dict[str, Any] = {
        "runtime": "binary",
        "bindAddress": "127.0.0.1",
        "kubeApiserverPort": port,
        "kubeApiserverBinary": str(bin_dir / "kube-apiserver"),
        "kubeControllerManagerBinary": str(bin_dir / "kube-controller-manager"),
        "kubeSchedulerBinary": str(bin_dir / "kube-scheduler"),
        "kubectlBinary": str(bin_dir / "kubectl"),
        "etcdBinary": str(bin_dir / "etcd"),
        "kwokControllerBinary": str(bin_dir / "kwok"),
        "kubeAuditPolicy": str(HERE / "audit-policy.yaml"),
        "disableQPSLimits": True,
        # kwok serves the logs of its fake pods (pods/log through the API server) from the
        # files its Logs and ClusterLogs objects name: the evidence capture reads them
        "enableCRDs": ["Logs", "ClusterLogs"],
    }
    if own_ports:
        taken: set[int] = set()
        options.update({option: own_port(taken) for option in PORT_OPTIONS})
    if port:
        options["kubeApiserverPort"] = port
    elif not own_ports:
        del options["kubeApiserverPort"]
    # JSON is YAML: no YAML library needed
    return json.dumps(
        {
            "apiVersion": "config.kwok.x-k8s.io/v1alpha1",
            "kind": "KwokctlConfiguration",
            "options": options,
        },
        indent=2,
    )


def kwokctl(
    bin_dir: Path, *args: str, log: Path | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    command = [str(bin_dir / "kwokctl"), *args]
    if log is None:
        return subprocess.run(
            command,
            env=environment(bin_dir),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    with log.open("a") as out:
        out.write(f"$ {' '.join(command)}\n")
        out.flush()
        return subprocess.run(
            command,
            env=environment(bin_dir),
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )


def component_logs(name: str) -> str:
    logs = cluster_dir(name) / "logs"
    parts = []
    for path in sorted(logs.glob("*.log")) if logs.is_dir() else []:
        if path.name == "audit.log":
            continue
        parts.append(f"{path}:\n{tail(path, 10)}")
    return "\n".join(parts)


def info(name: str) -> dict[str, Any]:
    workdir = cluster_dir(name)
    config: dict[str, Any] = {}
    for candidate in (workdir / "kwok.yaml",):
        if candidate.exists():
            config = _kwok_options(candidate)
    port = config.get("kubeApiserverPort")
    link = workdir / "bin" / "kube-apiserver"  # kwokctl links the binaries it was given
    bin_dir = Path(os.readlink(link)).parent if link.is_symlink() else None
    return {
        "name": name,
        "workdir": str(workdir),
        "server": f"https://127.0.0.1:{port}" if port else None,
        "pki": str(workdir / "pki"),
        "audit_log": str(workdir / "logs" / "audit.log"),
        "bin": str(bin_dir) if bin_dir else None,
        "running": workdir.exists() and bool(_pids(name)),
        "components": {component: _alive(pid) for component, pid in _pids(name).items()},
    }


def _kwok_options(path: Path) -> dict[str, Any]:
    """The few scalar options of the saved kwok.yaml this script needs (no YAML library)."""
    options: dict[str, Any] = {}
    inside = False
    for line in path.read_text().splitlines():
        if line.startswith("options:"):
            inside = True
            continue
        if inside and line and not line.startswith(" "):
            inside = False
        if inside and line.startswith("  ") and not line.startswith("   ") and ":" in line:
            key, _, value = line.strip().partition(":")
            value = value.strip().strip('"')
            options[key] = int(value) if value.isdigit() else value
    return options


def _pids(name: str) -> dict[str, int]:
    pids = {}
    folder = cluster_dir(name) / "pids"
    for path in folder.glob("*.pid") if folder.is_dir() else []:
        try:
            pids[path.stem] = int(path.read_text().strip())
        except ValueError:
            continue
    return pids


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie (our own child, not yet reaped) counts as gone
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def write_kubeconfig(name: str, server: str, path: Path) -> None:
    pki = cluster_dir(name) / "pki"

    def data(file: str) -> str:
        return base64.b64encode((pki / file).read_bytes()).decode()

    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": name,
                "cluster": {"server": server, "certificate-authority-data": data("ca.crt")},
            }
        ],
        "users": [
            {
                "name": f"{name}-admin",
                "user": {
                    "client-certificate-data": data("admin.crt"),
                    "client-key-data": data("admin.key"),
                },
            }
        ],
        "contexts": [{"name": name, "context": {"cluster": name, "user": f"{name}-admin"}}],
        "current-context": name,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(config, indent=2) + "\n")
    tmp.chmod(0o600)
    tmp.replace(path)


def kubectl(bin_dir: Path, kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(bin_dir / "kubectl"), f"--kubeconfig={kubeconfig}", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def wait_ready(bin_dir: Path, kubeconfig: Path, nodes: int, timeout: float = 90) -> None:
    """Until the nodes are Ready and the default namespace has its ServiceAccount (the
    controllers run: without it no pod can be created there)."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        proc = kubectl(
            bin_dir,
            kubeconfig,
            "get",
            "nodes",
            "-o",
            "jsonpath={range .items[*]}{.status.conditions[?(@.type=='Ready')].status}{'\\n'}{end}",
        )
        ready = proc.stdout.split().count("True") if proc.returncode == 0 else 0
        last = proc.stderr.strip() or f"{ready} of {nodes} nodes Ready"
        if ready >= nodes:
            sa = kubectl(bin_dir, kubeconfig, "get", "serviceaccount", "default", "-n", "default")
            if sa.returncode == 0:
                return
            last = "the default ServiceAccount is not there yet"
        time.sleep(0.3)
    raise ClusterError(f"the cluster did not become ready in {timeout:.0f} s: {last}")


def up(
    name: str, kubeconfig: Path, port: int = 0, nodes: int = 2, own_ports: bool = False
) -> dict[str, Any]:
    started = time.monotonic()
    bin_dir = build()
    built = time.monotonic()
    if port and port_taken(port):
        raise ClusterError(
            f"port {port} on 127.0.0.1 is already taken (another cluster? `make cluster-down`, "
            f"or pick another with CLUSTER_PORT=N)"
        )
    if cluster_dir(name).exists():
        say(f"a cluster named {name} exists already; stopping it first")
        down(name)
    kwok_workdir().mkdir(parents=True, exist_ok=True)
    config = kwok_workdir() / f"{name}.config.yaml"
    config.write_text(kwokctl_config(bin_dir, port, own_ports))
    log = kwok_workdir() / f"{name}.log"
    log.write_text("")
    say(f"starting {name} (kwokctl, binary runtime; log: {log})")
    try:
        proc = kwokctl(
            bin_dir,
            f"--config={config}",
            "create",
            "cluster",
            f"--name={name}",
            "--kubeconfig=",
            "--timeout=150s",
            "--wait=0s",
            log=log,
        )
    except subprocess.TimeoutExpired:
        proc = None
    if proc is None or proc.returncode != 0:
        details = f"{log}:\n{tail(log)}\n{component_logs(name)}"
        with_port = _apiserver_port_error(name)
        down(name, quiet=True)
        raise ClusterError(f"kwokctl could not start the cluster{with_port}; the logs:\n{details}")
    options = _kwok_options(cluster_dir(name) / "kwok.yaml")
    server = f"https://127.0.0.1:{options['kubeApiserverPort']}"
    write_kubeconfig(name, server, kubeconfig)
    proc = kwokctl(bin_dir, "scale", "node", f"--replicas={nodes}", f"--name={name}", log=log)
    if proc.returncode != 0:
        down(name, quiet=True)
        raise ClusterError(f"kwokctl could not add {nodes} nodes:\n{tail(log)}")
    try:
        wait_ready(bin_dir, kubeconfig, nodes)
    except ClusterError as e:
        details = component_logs(name)
        down(name, quiet=True)
        raise ClusterError(f"{e}\n{details}") from None
    result = info(name)
    result["kubeconfig"] = str(kubeconfig)
    result["bin"] = str(bin_dir)
    result["build_seconds"] = round(built - started, 1)
    result["start_seconds"] = round(time.monotonic() - built, 1)
    say(
        f"{name} is up at {server} with {nodes} kwok nodes in {result['start_seconds']} s "
        f"(build check {result['build_seconds']} s); kubeconfig: {kubeconfig}"
    )
    return result


def _apiserver_port_error(name: str) -> str:
    log = cluster_dir(name) / "logs" / "kube-apiserver.log"
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return ""
    if "address already in use" in text:
        return " (a port it was given is already taken)"
    return ""


def down(name: str, *, quiet: bool = False) -> None:
    workdir = cluster_dir(name)
    if not workdir.exists():
        if not quiet:
            say(f"no cluster named {name} is running")
        return
    pids = _pids(name)
    # kwokctl links the binaries it was given into the cluster's bin folder
    bin_dir = None
    for candidate in ("kube-apiserver", "etcd", "kwok-controller"):
        link = workdir / "bin" / candidate
        if link.is_symlink():
            bin_dir = Path(os.readlink(link)).parent
            break
    if bin_dir is not None and (bin_dir / "kwokctl").exists():
        proc = kwokctl(bin_dir, "delete", "cluster", f"--name={name}", timeout=60)
        if proc.returncode != 0 and not quiet:
            say(f"kwokctl delete cluster failed: {proc.stderr.strip()[-500:]}")
    # whatever kwokctl left running (it was interrupted, or the pid files are stale)
    deadline = time.monotonic() + 10
    for component, pid in pids.items():
        if not _alive(pid):
            continue
        if not _ours(pid, name):
            continue
        say(f"stopping {component} (pid {pid})")
        os.kill(pid, signal.SIGTERM)
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    shutil.rmtree(workdir, ignore_errors=True)
    for leftover in (kwok_workdir() / f"{name}.config.yaml", kwok_workdir() / f"{name}.log"):
        leftover.unlink(missing_ok=True)
    if not quiet:
        say(f"{name} stopped; no process of it is left")


def restart(name: str, component: str, timeout: float = 60) -> float:
    """SIGKILL one component of the running cluster and start it again with the command line,
    environment, folder and log kwokctl gave it (kwokctl has no command for one component):
    etcd on its data dir, kube-apiserver appending to the same audit log. Returns once the
    component is ready again (and, after etcd, the API server with it): the seconds it was
    down."""
    workdir = cluster_dir(name)
    pid_file = workdir / "pids" / f"{component}.pid"
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        raise ClusterError(f"{name} has no {component} (no pid file {pid_file})") from None
    if not _alive(pid) or not _ours(pid, name):
        raise ClusterError(f"{component} of {name} (pid {pid}) is not running")
    proc = Path(f"/proc/{pid}")
    argv = proc.joinpath("cmdline").read_bytes().split(b"\0")[:-1]
    env = dict(
        line.split(b"=", 1)
        for line in proc.joinpath("environ").read_bytes().split(b"\0")
        if b"=" in line
    )
    cwd = os.readlink(proc / "cwd")
    options = _kwok_options(workdir / "kwok.yaml")
    log_file = workdir / "logs" / f"{component}.log"
    killed = time.monotonic()
    deadline = killed + timeout
    os.kill(pid, signal.SIGKILL)
    # a SIGKILLed Go process shows as a zombie while its threads still exit and hold its
    # sockets: its ports are free a moment later
    _wait_gone(pid, [int(options[o]) for o in COMPONENT_PORTS.get(component, ())], deadline)
    while True:
        logged = log_file.stat().st_size
        with log_file.open("ab") as log:
            child = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # as kwokctl's: outlives whoever restarted it
            )
        pid_file.write_text(f"{child.pid}")
        try:
            if component == "etcd":
                url = f"http://127.0.0.1:{options['etcdPort']}/readyz"
                _wait_ready(url, None, deadline, child)
            if component in ("etcd", "kube-apiserver"):
                # through the API server: it serves again once its storage answers
                url = f"https://127.0.0.1:{options['kubeApiserverPort']}/readyz"
                certs = (workdir / "pki" / "admin.crt", workdir / "pki" / "admin.key")
                process = child if component == "kube-apiserver" else None
                _wait_ready(url, certs, deadline, process)
        except ClusterError as e:
            with log_file.open("rb") as f:
                f.seek(logged)
                said = f.read().decode(errors="replace")
            if "address already in use" in said and time.monotonic() < deadline:
                say(f"{component} found its port still held; starting it again")
                time.sleep(0.5)
                continue
            raise ClusterError(
                f"{component} of {name}: {e}\n{log_file}:\n{tail(log_file)}"
            ) from None
        return time.monotonic() - killed


# the ports each component listens on, by kwok.yaml's options
COMPONENT_PORTS = {
    "etcd": ("etcdPort", "etcdPeerPort"),
    "kube-apiserver": ("kubeApiserverPort",),
    "kube-controller-manager": ("kubeControllerManagerPort",),
    "kube-scheduler": ("kubeSchedulerPort",),
    "kwok-controller": ("kwokControllerPort",),
}


def _wait_gone(pid: int, ports: list[int], deadline: float) -> None:
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    with contextlib.suppress(ChildProcessError):  # our own child (an earlier restart): reap
        os.waitpid(pid, os.WNOHANG)
    while any(port_taken(port) for port in ports) and time.monotonic() < deadline:
        time.sleep(0.05)


def _wait_ready(
    url: str,
    certs: tuple[Path, Path] | None,
    deadline: float,
    child: subprocess.Popen[bytes] | None,
) -> None:
    import ssl
    import urllib.error
    import urllib.request

    context = None
    if certs is not None:
        context = ssl.create_default_context(cafile=str(certs[0].with_name("ca.crt")))
        context.load_cert_chain(str(certs[0]), str(certs[1]))
    last = ""
    while time.monotonic() < deadline:
        if child is not None and child.poll() is not None:
            raise ClusterError(f"it exited ({child.returncode}) on restart; see its log")
        try:
            with urllib.request.urlopen(url, timeout=2, context=context) as answer:
                if answer.status == 200:
                    return
                last = f"{answer.status}"
        except (OSError, urllib.error.URLError) as e:
            last = str(e)
        time.sleep(0.1)
    raise ClusterError(f"{url} was not ready in time after the restart: {last}")


def _ours(pid: int, name: str) -> bool:
    """Whether the process is one of this cluster's (its command line names its folder)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False
    return str(cluster_dir(name)) in cmdline


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="build what is missing and start the cluster")
    p_up.add_argument("--name", default=DEFAULT_NAME)
    p_up.add_argument("--kubeconfig", type=Path, default=ROOT / "cluster.kubeconfig")
    p_up.add_argument("--port", type=int, default=0, help="kube-apiserver's port (0: a free one)")
    p_up.add_argument("--nodes", type=int, default=2)
    p_up.add_argument(
        "--own-ports",
        action="store_true",
        help="every component on a port of its own (20000-29999), none kwokctl would give "
        "another cluster (for a cluster whose components are restarted)",
    )
    p_up.add_argument("--json", action="store_true", help="print the cluster's files as JSON")
    p_down = sub.add_parser("down", help="stop every process of the cluster")
    p_down.add_argument("--name", default=DEFAULT_NAME)
    p_info = sub.add_parser("info", help="the cluster's files, as JSON")
    p_info.add_argument("--name", default=DEFAULT_NAME)
    p_restart = sub.add_parser("restart", help="SIGKILL one component and start it again")
    p_restart.add_argument("--name", default=DEFAULT_NAME)
    p_restart.add_argument("component", help="kube-apiserver, etcd, kube-controller-manager, ...")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            result = up(args.name, args.kubeconfig.resolve(), args.port, args.nodes, args.own_ports)
            if args.json:
                print(json.dumps(result))
        elif args.command == "down":
            down(args.name)
        elif args.command == "restart":
            seconds = restart(args.name, args.component)
            say(f"{args.component} of {args.name} restarted; ready again in {seconds:.1f} s")
        else:
            print(json.dumps(info(args.name)))
    except ClusterError as e:
        say(str(e))
        return EXIT_NO_GO if "go is not installed" in str(e) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
