#!/usr/bin/python
# Several files and directories of one concern in one module run.
#
# ansible.builtin.template costs two module runs per file even when nothing
# changes (a stat to compare checksums, then the file module for owner and
# mode), and file/template loops one run per item. A no-op converge of the
# all-in-one spent about 6 s of its ~25 s there. This module takes the
# rendered content (lookup('ansible.builtin.template', ...)) of every file of
# one task, compares and writes them in a single run.
from __future__ import annotations

DOCUMENTATION = r"""
---
module: lab_files
short_description: Ensure directories, files with given content, and absent files in one run
description:
  - Creates the given I(directories), writes the given I(files) when their content
    differs, removes the I(absent) paths, and sets owner, group and mode on each, in
    that order and in a single module run.
  - A file is written to a temporary file in its directory that already has the
    wanted owner, group and mode, then renamed over the destination, so a file that
    holds a secret is never readable by others, not even for a moment.
  - Supports check mode and diff mode. The content is part of the module's arguments,
    so set C(no_log) on a task whose files hold secrets.
options:
  directories:
    description: Directories to create (with missing parents) or to correct.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path.
        type: path
        required: true
      owner:
        description: User name; left alone when not given.
        type: str
      group:
        description: Group name; left alone when not given.
        type: str
      mode:
        description: Octal mode (3 or 4 digits) as a quoted string, e.g. C("0750").
        type: str
  files:
    description: Files and their whole content.
    type: list
    elements: dict
    default: []
    suboptions:
      dest:
        description: Absolute path; its directory must exist or be in I(directories).
        type: path
        required: true
      content:
        description: The whole content (UTF-8).
        type: str
        required: true
      owner:
        description: User name; left alone when not given.
        type: str
      group:
        description: Group name; left alone when not given.
        type: str
      mode:
        description: Octal mode (3 or 4 digits) as a quoted string, e.g. C("0640").
        type: str
        required: true
  absent:
    description: Files (not directories) to remove when present.
    type: list
    elements: path
    default: []
author:
  - glance-lab
"""

EXAMPLES = r"""
- name: Write keystone.conf and uwsgi's settings
  lab_files:
    files:
      - dest: /etc/keystone/keystone.conf
        content: "{{ lookup('ansible.builtin.template', 'etc/keystone/keystone.conf.j2') }}"
        owner: root
        group: keystone
        mode: "0640"
  no_log: true
"""

RETURN = r"""
changed_paths:
  description: The paths created, written, removed or given another owner, group or mode.
  returned: always
  type: list
  elements: str
"""

import grp  # noqa: E402
import os  # noqa: E402
import pwd  # noqa: E402
import tempfile  # noqa: E402
from typing import Any  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

_OWNERSHIP = dict(
    owner=dict(type="str"),
    group=dict(type="str"),
)


def octal_mode(module: AnsibleModule, where: str, mode: str | None) -> int | None:
    """'0640' -> 0o640; a clear error for anything else."""
    if mode is None:
        return None
    text = str(mode)
    if len(text) not in (3, 4) or any(c not in "01234567" for c in text):
        module.fail_json(
            msg=f'{where}: mode is {mode!r}: give an octal mode as a string, e.g. "0640"'
        )
    return int(text, 8)


def ids(module: AnsibleModule, where: str, owner: str | None, group: str | None) -> tuple[int, int]:
    """uid and gid for the names (-1 where not given), or a clear error.

    In check mode a missing user or group is no error: a package the same run would
    install may create it (the file then counts as changed).
    """
    found = []
    for kind, name, lookup in (
        ("owner", owner, lambda n: pwd.getpwnam(n).pw_uid),
        ("group", group, lambda n: grp.getgrnam(n).gr_gid),
    ):
        number = -1
        if name is not None:
            try:
                number = lookup(name)
            except KeyError:
                if not module.check_mode:
                    module.fail_json(msg=f"{where}: {kind} {name!r} does not exist on this host")
        found.append(number)
    return found[0], found[1]


class Files:
    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        self.check = module.check_mode
        self.changed_paths: list[str] = []
        self.diffs: list[dict[str, Any]] = []

    def note(self, path: str, diff: dict[str, Any] | None = None) -> None:
        if path not in self.changed_paths:
            self.changed_paths.append(path)
        if diff and self.module._diff:
            self.diffs.append(diff)

    def attributes(self, path: str, spec: dict[str, Any], mode: int | None) -> None:
        """Owner, group and mode of an existing path (ansible's own comparison)."""
        file_args = self.module.load_file_common_arguments(
            {"path": path, "owner": spec.get("owner"), "group": spec.get("group"), "mode": mode}
        )
        diff: dict[str, Any] = {"before": {"path": path}, "after": {"path": path}}
        if self.module.set_fs_attributes_if_different(file_args, False, diff=diff, expand=False):
            self.note(path, diff)

    def validate(self) -> None:
        """Every argument checked before anything is touched; modes and ids resolved once.

        Each directory and file spec gets ``_mode`` (and a file ``_uid``, ``_gid``) for
        directory() and file().
        """
        params = self.module.params
        wanted_dirs = {d["path"] for d in params["directories"]}
        for where, paths in (
            ("directories", sorted(wanted_dirs)),
            ("files", [f["dest"] for f in params["files"]]),
            ("absent", params["absent"]),
        ):
            for path in paths:
                if not os.path.isabs(path):
                    self.module.fail_json(msg=f"{where}: {path!r} is not an absolute path")
        for spec in params["directories"]:
            where = f"directories: {spec['path']}"
            spec["_mode"] = octal_mode(self.module, where, spec.get("mode"))
            ids(self.module, where, spec.get("owner"), spec.get("group"))
            if os.path.lexists(spec["path"]) and not os.path.isdir(spec["path"]):
                self.module.fail_json(msg=f"{where}: exists and is not a directory")
        for spec in params["files"]:
            dest = spec["dest"]
            where = f"files: {dest}"
            spec["_mode"] = octal_mode(self.module, where, spec.get("mode"))
            spec["_uid"], spec["_gid"] = ids(
                self.module, where, spec.get("owner"), spec.get("group")
            )
            parent = os.path.dirname(dest) or "/"
            # In check mode a missing directory may come with a package of the same run.
            if not os.path.isdir(parent) and parent not in wanted_dirs and not self.check:
                self.module.fail_json(
                    msg=f"{where}: directory {parent} does not exist; create it first "
                    "(add it to directories)"
                )
            if os.path.isdir(dest):
                self.module.fail_json(msg=f"{where}: is a directory")
        for path in params["absent"]:
            if os.path.isdir(path) and not os.path.islink(path):
                self.module.fail_json(msg=f"absent: {path} is a directory; this removes files only")

    def directory(self, spec: dict[str, Any]) -> None:
        path, mode = spec["path"], spec["_mode"]
        if os.path.isdir(path):
            self.attributes(path, spec, mode)
            return
        self.note(
            path,
            {
                "before": {"path": path, "state": "absent"},
                "after": {"path": path, "state": "directory"},
            },
        )
        if self.check:
            return
        os.makedirs(path)
        self.attributes(path, spec, mode)

    def file(self, spec: dict[str, Any]) -> None:
        dest, mode = spec["dest"], spec["_mode"]
        wanted = spec["content"].encode("utf-8")
        before: bytes | None = None
        if os.path.lexists(dest):
            with open(dest, "rb") as current:
                before = current.read()
        if before == wanted:
            self.attributes(dest, spec, mode)
            return
        self.note(
            dest,
            {
                "before_header": dest if before is not None else f"{dest} (absent)",
                "after_header": dest,
                "before": (before or b"").decode("utf-8", errors="replace"),
                "after": spec["content"],
            },
        )
        if self.check:
            return
        self.write(dest, wanted, mode, spec["_uid"], spec["_gid"])

    def write(self, dest: str, data: bytes, mode: int, uid: int, gid: int) -> None:
        """Temporary file with the final owner and mode in dest's directory, then rename.

        (A file's mode is required, so there is always one to set.)
        """
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(dest)}.", dir=os.path.dirname(dest))
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
                if uid != -1 or gid != -1:
                    os.fchown(out.fileno(), uid, gid)
                os.fchmod(out.fileno(), mode)
            os.rename(tmp, dest)
        except BaseException:
            if os.path.lexists(tmp):
                os.unlink(tmp)
            raise

    def absent(self, path: str) -> None:
        if not os.path.lexists(path):
            return
        self.note(
            path,
            {"before": {"path": path, "state": "file"}, "after": {"path": path, "state": "absent"}},
        )
        if not self.check:
            os.unlink(path)


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            directories=dict(
                type="list",
                elements="dict",
                default=[],
                options=dict(
                    path=dict(type="path", required=True), mode=dict(type="str"), **_OWNERSHIP
                ),
            ),
            files=dict(
                type="list",
                elements="dict",
                default=[],
                options=dict(
                    dest=dict(type="path", required=True),
                    content=dict(type="str", required=True),
                    mode=dict(type="str", required=True),
                    **_OWNERSHIP,
                ),
            ),
            absent=dict(type="list", elements="path", default=[]),
        ),
        supports_check_mode=True,
    )
    work = Files(module)
    work.validate()
    for spec in module.params["directories"]:
        work.directory(spec)
    for spec in module.params["files"]:
        work.file(spec)
    for path in module.params["absent"]:
        work.absent(path)
    result: dict[str, Any] = {
        "changed": bool(work.changed_paths),
        "changed_paths": work.changed_paths,
    }
    if module._diff and work.diffs:
        result["diff"] = work.diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
