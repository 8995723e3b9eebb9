# The molecule scenarios' connection: containers.podman.podman with pipelining.
#
# The podman driver writes `ansible_connection: podman` into the inventory it
# generates; every molecule.yml puts this directory first on
# ANSIBLE_CONNECTION_PLUGINS, so that short name finds this plugin. Without
# pipelining the collection's plugin runs five `podman exec` per task (home
# directory, temporary directory, chmod, the module, cleanup); this one runs
# one and feeds the module to python on stdin, as the all-in-one (local) and
# multi-node (ssh) deployments do with the project's `pipelining = true`.
# It roughly halves the time of a no-op converge in a container. Tasks that
# copy files still put them through the container's mount, as before.
#
# Test harness only: the roles never depend on it.
from __future__ import annotations

DOCUMENTATION = """
    name: podman
    short_description: Run tasks in a podman container, with pipelining
    description:
      - containers.podman.podman, whose modules go to the container's python
        on stdin (C(podman exec --interactive)) instead of through a
        temporary file.
    options:
      remote_addr:
        description: The container's name or ID.
        default: inventory_hostname
        vars:
          - name: ansible_host
          - name: inventory_hostname
          - name: ansible_podman_host
      remote_user:
        description: The user to run as in the container.
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

import shlex
from typing import Any

from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.connection import ConnectionBase, ensure_connect
from ansible_collections.containers.podman.plugins.connection.podman import Connection as PodmanConnection


class Connection(PodmanConnection):  # type: ignore[misc]
    transport = "podman"
    has_pipelining = True

    @ensure_connect  # type: ignore[misc]
    def exec_command(self, cmd: str, in_data: bytes | None = None, sudoable: bool = False) -> Any:
        ConnectionBase.exec_command(self, cmd, in_data=in_data, sudoable=sudoable)
        args = ["exec", "--interactive"] if in_data is not None else ["exec"]
        if self.user:
            args += ["--user", self.user]
        return self._podman(args, shlex.split(to_native(cmd, errors="surrogate_or_strict")), in_data)
