# The molecule scenarios' connection: containers.podman.podman's options and
# inventory, with each step run by entering the container's namespaces.
#
# The podman driver writes `ansible_connection: podman` into the inventory it
# generates; every molecule.yml puts this directory first on
# ANSIBLE_CONNECTION_PLUGINS, so that short name finds this plugin.
#
# The collection's plugin costs a `podman mount` per task and a `podman exec`
# (conmon, runc) per step: ~0.15 s each on an idle 2-core machine, more under
# the test suite's load, so a no-op converge of ~220 tasks spent about half
# its time there (docs/benchmarks.md: the nsenter row). This one asks podman
# only for the container's PID (kept in a small cache, checked against the
# process' start time), then runs each step with nsenter(1) in the
# container's mount, UTS, IPC, network, PID and cgroup namespaces, with what a
# `podman exec` would get besides: the environment and the resource limits of
# the container's PID 1 (the ulimits in molecule/containers.conf). Modules go
# to python on stdin (pipelining), as the all-in-one (local) and multi-node
# (ssh) deployments run them with the project's `pipelining = true`; files go
# through `cat`. A container run as another user falls back to podman exec.
#
# What it does not reproduce: the steps run in the host's cgroup and outside
# the container's seccomp profile and capability set. Daemons the roles start
# under tini stay in the container's PID namespace, so stopping the container
# still ends them.
#
# Test harness only: the roles never depend on it.
from __future__ import annotations

DOCUMENTATION = """
    name: podman
    short_description: Run tasks in a podman container through nsenter, with pipelining
    description:
      - containers.podman.podman's options; each command runs in the
        container's namespaces through nsenter instead of C(podman exec).
    options:
      remote_addr:
        description: The container's name or ID.
        default: inventory_hostname
        vars:
          - name: ansible_host
          - name: inventory_hostname
          - name: ansible_podman_host
      remote_user:
        description: The user to run as in the container (not root falls back to podman exec).
        vars:
          - name: ansible_user
      podman_extra_args:
        description: Extra arguments of the podman command line.
        default: ''
        vars:
          - name: ansible_podman_extra_args
      podman_executable:
        description: The podman executable.
        default: podman
        vars:
          - name: ansible_podman_executable
"""

import os
import resource
import shlex
import shutil
import subprocess
import tempfile
import urllib.parse
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.connection import ConnectionBase, ensure_connect
from ansible.utils.display import Display
from ansible_collections.containers.podman.plugins.connection.podman import (
    Connection as PodmanConnection,
)

display = Display()

NAMESPACES = ("--mount", "--uts", "--ipc", "--net", "--pid", "--cgroup")
LIMITS = tuple(getattr(resource, name) for name in dir(resource) if name.startswith("RLIMIT_"))
CACHE = Path(tempfile.gettempdir()) / f"glance-lab-podman-pids-{os.getuid()}"


def start_time(pid: int) -> str:
    """The process' start time in clock ticks since boot (/proc/PID/stat field 22)."""
    stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    return stat.rsplit(")", 1)[1].split()[19]


class Connection(PodmanConnection):  # type: ignore[misc]
    transport = "podman"
    has_pipelining = True

    @property
    def _as_other_user(self) -> bool:
        """A user other than root: then every step goes through podman exec."""
        return bool(self.user) and self.user != "root"

    def _connect(self) -> Connection:
        if self._connected:
            return self
        if self._as_other_user:
            return super()._connect()  # type: ignore[no-any-return]
        self._nsenter = shutil.which("nsenter")
        if not self._nsenter:
            raise AnsibleConnectionFailure("nsenter(1) not found on the host (util-linux)")
        self._pid = self._container_pid()
        try:
            environ = Path(f"/proc/{self._pid}/environ").read_bytes()
            self._env = dict(
                item.split("=", 1) for item in to_native(environ).split("\0") if "=" in item
            )
            self._limits = [(limit, resource.prlimit(self._pid, limit)) for limit in LIMITS]
        except OSError as exc:
            raise AnsibleConnectionFailure(f"container {self._container_id}: {exc}") from exc
        self._env.setdefault("HOME", "/root")
        self._connected = True
        return self

    def _container_pid(self) -> int:
        """The PID of the container's PID 1, from the cache while that process lives."""
        entry = CACHE / urllib.parse.quote(self._container_id, safe="")
        try:
            pid, started = entry.read_text(encoding="ascii").split()
            if start_time(int(pid)) == started:
                return int(pid)
        except (OSError, ValueError, IndexError):
            pass
        rc, out, err = self._podman("inspect", ["--format", "{{.State.Pid}}"])
        pid = int(out.strip() or 0) if rc == 0 else 0
        if pid <= 0:
            raise AnsibleConnectionFailure(
                f"container {self._container_id} is not running: {to_native(err).strip()}"
            )
        CACHE.mkdir(mode=0o700, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=CACHE, delete=False, encoding="ascii") as tmp:
            tmp.write(f"{pid} {start_time(pid)}\n")
        Path(tmp.name).replace(entry)
        return pid

    def _enter(self, argv: list[str], in_data: bytes | None = None) -> tuple[int, bytes, bytes]:
        limits = self._limits

        def apply_limits() -> None:
            for limit, value in limits:
                resource.setrlimit(limit, value)

        command = [self._nsenter, f"--target={self._pid}", *NAMESPACES, "--", *argv]
        display.vvv(f"NSENTER {command}", host=self._container_id)
        proc = subprocess.run(
            command,
            input=in_data,
            stdin=None if in_data is not None else subprocess.DEVNULL,
            capture_output=True,
            env=self._env,
            preexec_fn=apply_limits,
            check=False,
        )
        return proc.returncode, proc.stdout, proc.stderr

    @ensure_connect  # type: ignore[misc]
    def exec_command(self, cmd: str, in_data: bytes | None = None, sudoable: bool = False) -> Any:
        ConnectionBase.exec_command(self, cmd, in_data=in_data, sudoable=sudoable)
        argv = shlex.split(to_native(cmd, errors="surrogate_or_strict"))
        if self._as_other_user:
            # The collection's exec_command gives a pipelined module no stdin.
            args = ["exec", "--interactive"] if in_data is not None else ["exec"]
            return self._podman([*args, "--user", self.user], argv, in_data)
        return self._enter(argv, in_data)

    @ensure_connect  # type: ignore[misc]
    def put_file(self, in_path: str, out_path: str) -> None:
        if self._as_other_user:
            return super().put_file(in_path, out_path)  # type: ignore[no-any-return]
        ConnectionBase.put_file(self, in_path, out_path)
        display.vvv(f"PUT {in_path} TO {out_path}", host=self._container_id)
        data = Path(to_native(in_path)).read_bytes()
        rc, _, err = self._enter(["sh", "-c", 'cat > "$0"', out_path], data)
        if rc != 0:
            raise AnsibleError(f"failed to put {in_path} to {out_path}: {to_native(err)}")
        return None

    @ensure_connect  # type: ignore[misc]
    def fetch_file(self, in_path: str, out_path: str) -> None:
        if self._as_other_user:
            return super().fetch_file(in_path, out_path)  # type: ignore[no-any-return]
        ConnectionBase.fetch_file(self, in_path, out_path)
        display.vvv(f"FETCH {in_path} TO {out_path}", host=self._container_id)
        rc, out, err = self._enter(["cat", in_path])
        if rc != 0:
            raise AnsibleError(f"failed to fetch {in_path}: {to_native(err)}")
        Path(out_path).write_bytes(out)
        return None
