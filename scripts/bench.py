#!/usr/bin/env python3
"""`make bench`: how fast a lab comes up, how cheap a re-run is, how close uploads get.

Run through scripts/bench.sh (it installs the prerequisites and builds the images
first), with the project's virtualenv python. Every figure is measured next to a
baseline taken in the same run, on the same machine, so that ratios mean something
on a noisy shared host:

  fresh     converge playbooks/site.yml on a new container (bench-converge), against
            `apt-get update && apt-get install` of the roles' package set in another
            new container (bench-apt), one after the other
  noop      re-converge the converged container (changed count, wall time, slowest
            tasks) and a check-mode converge, against a one-task playbook on it
  transfer  glance-verify's upload and download of a 512 MiB image, against curl
            PUT/GET of the same file to the same Glance (median of --repeat runs):
            the ratio compares the verifier's bare PUT/GET (the `transfer` section
            of its --json report) with curl's; the step totals (which also wait for
            status active and check) are reported beside it
  memory    glance-verify's peak RSS (wait4 ru_maxrss) for a run that stops after the
            upload, with a 64 MiB and a 512 MiB image
  aio       (opt-in, not in the default --phases) no-op re-converges of THIS host's
            all-in-one (inventory/aio, local connection: the per-task cost of a
            production run), a check-mode converge, against a one-task playbook on the
            same connection. It only measures a host that is already converged (glance-api
            and keystone installed, credentials in ~/.glance-lab/aio): it never installs
            OpenStack here unless --aio-converge is given (that runs `make converge`'s
            playbook first). A no-op changes nothing, so a running glance-api is not
            restarted.

Containers are named bench-*; each run replaces its own and removes them at the end
(--keep leaves them). Output: a table on stdout, reports/bench.json, and the logs in
reports/bench/.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
#: The virtualenv's bin directory (ansible-playbook, glance-verify): this python's.
BIN = Path(sys.executable).parent
#: The controller image of each supported Debian release (--release picks one).
IMAGES = {release: f"localhost/glance-lab/debian{release}-nosystemd" for release in ("12", "13")}
CONVERGE = "bench-converge"
APT = "bench-apt"
CLOUD = "glance-lab-admin"
MIB = 1024 * 1024
PHASES = ("fresh", "noop", "transfer", "memory")
#: Phases run only when named in --phases.
OPT_IN_PHASES = ("aio",)
AIO_INVENTORY = ROOT / "inventory/aio"
AIO_CREDENTIALS = Path.home() / ".glance-lab/aio"
# Steps of glance-verify that do not matter for throughput or memory.
NOT_TIMED = "list-show,set-property,deactivate,share"
#: The stdout callback of the bench's ansible-playbook runs: one JSON document per run.
JSON_CALLBACK = "ansible.posix.json"


class BenchError(Exception):
    """A bench step could not run; the message says which and where its log is."""


def log(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run(
    argv: Sequence[str],
    *,
    check: bool = True,
    env: dict[str, str] | None = None,
    stdout: Any = subprocess.PIPE,
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        list(argv),
        check=False,
        text=True,
        stdout=stdout,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=ROOT,
    )
    if check and proc.returncode != 0:
        out = (proc.stdout or "").strip()[-2000:]
        raise BenchError(f"{shlex.join(argv)}: exit {proc.returncode}\n{out}")
    return proc


# --- what is installed --------------------------------------------------------------------


def role_packages() -> list[str]:
    """Every package the roles install: the lists named *_packages in their defaults and vars."""
    found: list[str] = []
    for role in sorted((ROOT / "roles").iterdir()):
        for part in ("defaults", "vars"):
            path = role / part / "main.yml"
            if not path.is_file():
                continue
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            for key, value in data.items():
                if key.endswith("_packages") and isinstance(value, list):
                    found += [str(v) for v in value if str(v) not in found]
    if not found:
        raise BenchError("no *_packages lists found under roles/*/{defaults,vars}/main.yml")
    return found


# --- containers -----------------------------------------------------------------------------


def container_exists(name: str) -> bool:
    return run(["podman", "container", "exists", name], check=False).returncode == 0


def remove_container(name: str) -> None:
    if container_exists(name):
        run(["podman", "rm", "-f", "-t", "0", name])


def new_container(name: str, image: str) -> None:
    """A fresh controller like molecule's nosystemd platform: tini as PID 1, policy-rc.d 101."""
    remove_container(name)
    run(["podman", "run", "-d", "--name", name, "--hostname", name, image])


# --- ansible ----------------------------------------------------------------------------------


def write_inventory(workdir: Path, name: str, connection: dict[str, Any]) -> Path:
    inventory = {
        "all": {
            "children": {
                "bench": {
                    "hosts": {
                        CONVERGE: {
                            **connection,
                            "ansible_python_interpreter": "/usr/bin/python3",
                            "lab_credentials_dir": str(workdir / "credentials"),
                            "lab_address": "{{ ansible_facts['default_ipv4']['address'] }}",
                        }
                    }
                },
                **{
                    g: {"children": {"bench": None}}
                    for g in ("database", "memcached", "keystone", "glance")
                },
            }
        }
    }
    path = workdir / name
    path.write_text(
        "# Generated by scripts/bench.py: the bench-converge container, all groups.\n"
        + yaml.safe_dump(inventory, sort_keys=False),
        encoding="utf-8",
    )
    return path


def ansible_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_ROLES_PATH=str(ROOT / "roles"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        # Structured output for the bench runs only: the recap (stats), every task's
        # result per host and its start and end time, as one JSON document on stdout.
        ANSIBLE_STDOUT_CALLBACK=JSON_CALLBACK,
    )
    return env


def parse_ansible_json(data: dict[str, Any]) -> dict[str, Any]:
    """Recap totals, the tasks that reported changed, every task's time, from the output
    of the ansible.posix.json callback.

    A task's time runs from its start to its last host's result (the callback's
    ``task.duration``); a task that no host ran has no end and is left out. Tasks are
    listed slowest first.
    """
    recap = {
        host: {
            "ok": int(s["ok"]),
            "changed": int(s["changed"]),
            "unreachable": int(s["unreachable"]),
            "failed": int(s["failures"]),
        }
        for host, s in data["stats"].items()
    }
    changed_tasks: list[str] = []
    tasks: list[dict[str, Any]] = []
    for play in data["plays"]:
        for task in play["tasks"]:
            name = str(task["task"]["name"])
            if any(r.get("changed") for r in task["hosts"].values()) and name not in changed_tasks:
                changed_tasks.append(name)
            duration = task["task"].get("duration") or {}
            if "start" in duration and "end" in duration:
                seconds = dt.datetime.fromisoformat(duration["end"]) - dt.datetime.fromisoformat(
                    duration["start"]
                )
                tasks.append({"task": name, "seconds": round(seconds.total_seconds(), 2)})
    tasks.sort(key=lambda t: t["seconds"], reverse=True)
    return {
        "recap": recap,
        "ok": sum(h["ok"] for h in recap.values()),
        "changed": sum(h["changed"] for h in recap.values()),
        "failed": sum(h["failed"] + h["unreachable"] for h in recap.values()),
        "changed_tasks": changed_tasks,
        "tasks": tasks,
    }


def failure_lines(data: dict[str, Any]) -> list[str]:
    """'host: task: msg' of every failed or unreachable task result."""
    lines = []
    for play in data["plays"]:
        for task in play["tasks"]:
            for host, r in task["hosts"].items():
                if r.get("failed") or r.get("unreachable"):
                    lines.append(f"{host}: {task['task']['name']}: {r.get('msg', '(no msg)')}")
    return lines


def ansible_playbook(
    name: str, inventory: Path, playbook: Path, logdir: Path, *extra: str
) -> dict[str, Any]:
    """Run a playbook; its JSON output goes to NAME.json, its stderr to NAME.log."""
    output = logdir / f"{name}.json"
    logfile = logdir / f"{name}.log"
    argv = [str(BIN / "ansible-playbook"), "-i", str(inventory), str(playbook), *extra]
    log(f"{name}: {shlex.join(argv)}  (output: {output.relative_to(ROOT)})")
    load = loadavg()
    start = time.monotonic()
    with output.open("w", encoding="utf-8") as out, logfile.open("w", encoding="utf-8") as err:
        rc = subprocess.run(
            argv, check=False, stdout=out, stderr=err, env=ansible_env(), cwd=ROOT
        ).returncode
    seconds = time.monotonic() - start
    stderr_tail = "\n".join(logfile.read_text(encoding="utf-8").splitlines()[-20:])
    try:
        data = json.loads(output.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        raise BenchError(
            f"{name}: no JSON output (exit {rc}) in {output}; last lines of {logfile}:\n"
            f"{stderr_tail}"
        ) from None
    if rc != 0:
        failures = "\n".join(failure_lines(data)) or "(no failed task)"
        raise BenchError(
            f"{name} failed (exit {rc}); failed tasks in {output}:\n{failures}\n"
            f"last lines of {logfile}:\n{stderr_tail}"
        )
    return {
        "command": shlex.join(argv),
        "log": str(output.relative_to(ROOT)),
        "stderr": str(logfile.relative_to(ROOT)),
        "rc": rc,
        "seconds": round(seconds, 1),
        "loadavg_before": load,
        "loadavg_after": loadavg(),
        **parse_ansible_json(data),
    }


# --- phases -----------------------------------------------------------------------------------


def phase_fresh(workdir: Path, logdir: Path, inventory: Path, image: str) -> dict[str, Any]:
    packages = role_packages()
    # The baseline first, then the converge: both from the same image, no apt lists,
    # one after the other (running them side by side would have them share 2 cores).
    new_container(APT, image)
    logfile = logdir / "apt-baseline.log"
    script = (
        "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "
        + shlex.join(packages)
    )
    log(f"apt baseline in {APT}: {script}  (log: {logfile.relative_to(ROOT)})")
    load = loadavg()
    start = time.monotonic()
    with logfile.open("w", encoding="utf-8") as out:
        rc = run(["podman", "exec", APT, "sh", "-c", script], check=False, stdout=out).returncode
    apt_seconds = time.monotonic() - start
    if rc != 0:
        raise BenchError(f"apt baseline failed (exit {rc}); see {logfile}")
    apt = {
        "packages": packages,
        "command": script,
        "seconds": round(apt_seconds, 1),
        "loadavg_before": load,
        "loadavg_after": loadavg(),
        "log": str(logfile.relative_to(ROOT)),
    }
    remove_container(APT)

    new_container(CONVERGE, image)
    converge = ansible_playbook("converge-fresh", inventory, ROOT / "playbooks/site.yml", logdir)
    return {
        "apt": apt,
        "converge": converge,
        "ratio": round(converge["seconds"] / apt_seconds, 2),
    }


def noop_summary(
    floor: dict[str, Any], noops: list[dict[str, Any]], check: dict[str, Any]
) -> dict[str, Any]:
    """The no-op figures of one connection: median against the one-task floor, the
    largest changed count, the slowest tasks of the last run, the check-mode run."""
    median = statistics.median(r["seconds"] for r in noops)
    return {
        "floor": floor,
        "runs": noops,
        "seconds_median": round(median, 1),
        "changed_max": max(r["changed"] for r in noops),
        "task_count": len(noops[0]["tasks"]),
        "ratio_to_floor": round(median / floor["seconds"], 1),
        "slowest": noops[-1]["tasks"][:10],
        "check_mode": check,
    }


def phase_noop(workdir: Path, logdir: Path, inventory: Path, runs: int) -> dict[str, Any]:
    """No-op re-converges over podman exec (as molecule runs them) and over nsenter.

    The podman connection cannot pipeline: every module costs five `podman exec`
    (~0.3 s each here) and a `podman mount`. nsenter enters the same container's
    namespaces with a plain fork/exec, which is closer to what the all-in-one's local
    connection costs, so that row shows what the roles themselves cost.
    """
    if not container_exists(CONVERGE):
        raise BenchError(f"no {CONVERGE} container: run the fresh phase first")
    site = ROOT / "playbooks/site.yml"
    floor_book = floor_playbook(workdir)
    floor = ansible_playbook("floor", inventory, floor_book, logdir)
    noops = [
        ansible_playbook(f"converge-noop-{i + 1}", inventory, site, logdir) for i in range(runs)
    ]
    check = ansible_playbook("converge-check", inventory, site, logdir, "--check", "--diff")

    pid = run(["podman", "inspect", "-f", "{{.State.Pid}}", CONVERGE]).stdout.strip()
    ns_inventory = write_inventory(
        workdir,
        "inventory-nsenter.yml",
        {"ansible_connection": "community.docker.nsenter", "ansible_nsenter_pid": int(pid)},
    )
    ns_floor = ansible_playbook("floor-nsenter", ns_inventory, floor_book, logdir)
    ns_noops = [
        ansible_playbook(f"converge-noop-nsenter-{i + 1}", ns_inventory, site, logdir)
        for i in range(runs)
    ]
    ns_check = ansible_playbook(
        "converge-check-nsenter", ns_inventory, site, logdir, "--check", "--diff"
    )
    return {
        **noop_summary(floor, noops, check),
        "nsenter": noop_summary(ns_floor, ns_noops, ns_check),
    }


def floor_playbook(workdir: Path) -> Path:
    path = workdir / "floor.yml"
    path.write_text(
        "---\n# One task, no facts: what any playbook run on the host costs.\n"
        "- name: Floor\n  hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - name: Ping\n      ansible.builtin.ping:\n",
        encoding="utf-8",
    )
    return path


def aio_converged() -> str | None:
    """Why this host does not look converged, or None when it does (cheap: dpkg, files)."""
    proc = run(
        ["dpkg-query", "--show", "--showformat=${db:Status-Status}\n", "keystone", "glance-api"],
        check=False,
    )
    if proc.returncode != 0 or proc.stdout.split() != ["installed", "installed"]:
        return "keystone and glance-api are not both installed"
    for name in ("keystone_admin_password", "glance_db_password", "clouds.yaml"):
        if not (AIO_CREDENTIALS / name).is_file():
            return f"{AIO_CREDENTIALS / name} is missing"
    return None


def phase_aio(workdir: Path, logdir: Path, runs: int, converge: bool) -> dict[str, Any]:
    """No-op re-converges of this host's all-in-one over the local connection."""
    site = ROOT / "playbooks/site.yml"
    first: dict[str, Any] | None = None
    why = aio_converged()
    if why and not converge:
        raise BenchError(
            f"the aio phase measures a converged all-in-one, and this host is not one ({why}). "
            "Converge it first (`make converge`, which installs MariaDB, Keystone and Glance "
            "here), or pass --aio-converge to have the bench do it."
        )
    if converge:
        first = ansible_playbook("aio-converge", AIO_INVENTORY, site, logdir)
    floor = ansible_playbook("aio-floor", AIO_INVENTORY, floor_playbook(workdir), logdir)
    noops = [
        ansible_playbook(f"aio-noop-{i + 1}", AIO_INVENTORY, site, logdir) for i in range(runs)
    ]
    check = ansible_playbook("aio-check", AIO_INVENTORY, site, logdir, "--check", "--diff")
    return {"converge": first, **noop_summary(floor, noops, check)}


@contextlib.contextmanager
def cloud_session(workdir: Path) -> Iterator[tuple[str, str, Path]]:
    """Glance's endpoint and a token (openstacksdk, the generated clouds.yaml); a header file."""
    import openstack  # noqa: PLC0415 - the venv's SDK, only needed for these phases

    os.environ["OS_CLIENT_CONFIG_FILE"] = str(workdir / "credentials/clouds.yaml")
    conn = openstack.connect(cloud=CLOUD)
    token = str(conn.auth_token)
    endpoint = str(conn.endpoint_for("image")).rstrip("/")
    if not endpoint.endswith("/v2"):
        endpoint += "/v2"
    # The token goes to curl in a file (-H @FILE), not on its command line.
    with tempfile.TemporaryDirectory(prefix="bench-", dir=workdir) as tmp:
        header = Path(tmp) / "auth-header"
        header.touch(mode=0o600)
        header.write_text(f"X-Auth-Token: {token}\n", encoding="utf-8")
        yield endpoint, token, header
    conn.close()


def image_file(workdir: Path, mib: int) -> Path:
    """Random bytes (incompressible), kept between runs."""
    path = workdir / f"image-{mib}m.raw"
    if not path.is_file() or path.stat().st_size != mib * MIB:
        log(f"writing {path.relative_to(ROOT)} ({mib} MiB of random bytes)")
        run(["dd", "if=/dev/urandom", f"of={path}", "bs=1M", f"count={mib}", "status=none"])
    return path


def curl(header: Path, *args: str) -> dict[str, Any]:
    fmt = (
        '{"code": %{http_code}, "seconds": %{time_total}, '
        '"up": %{size_upload}, "down": %{size_download}}'
    )
    proc = run(["curl", "-sS", "-H", f"@{header}", "-w", fmt, *args])
    data: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return data


def curl_round(endpoint: str, header: Path, path: Path, size: int) -> dict[str, Any]:
    """Create an image record, PUT the file with curl, GET it back, delete the image."""
    name = f"bench-curl-{int(time.time())}"
    created = json.loads(
        run(
            [
                "curl",
                "-sS",
                "-f",
                "-H",
                f"@{header}",
                "-H",
                "Content-Type: application/json",
                "-X",
                "POST",
                f"{endpoint}/images",
                "-d",
                json.dumps({"name": name, "disk_format": "raw", "container_format": "bare"}),
            ]
        ).stdout
    )
    image = created["id"]
    try:
        # No "Expect: 100-continue" round trip (curl's default for a large PUT,
        # ~0.05 s here), which the verifier's HTTP client does not make either.
        put = curl(
            header,
            "-X",
            "PUT",
            "-H",
            "Expect:",
            "-H",
            "Content-Type: application/octet-stream",
            "-T",
            str(path),
            f"{endpoint}/images/{image}/file",
            "-o",
            "/dev/null",
        )
        get = curl(header, f"{endpoint}/images/{image}/file", "-o", "/dev/null")
        hashed = curl_hashed_get(header, f"{endpoint}/images/{image}/file")
    finally:
        run(
            ["curl", "-sS", "-H", f"@{header}", "-X", "DELETE", f"{endpoint}/images/{image}"],
            check=False,
        )
    if put["code"] != 204 or get["code"] != 200 or get["down"] != size:
        raise BenchError(f"curl round: PUT {put}, GET {get}")
    return {
        "upload_seconds": put["seconds"],
        "download_seconds": get["seconds"],
        "hashed_download_seconds": hashed["seconds"],
        "upload_mib_s": round(size / MIB / put["seconds"], 1),
        "download_mib_s": round(size / MIB / get["seconds"], 1),
        "hashed_download_mib_s": round(size / MIB / hashed["seconds"], 1),
    }


def curl_hashed_get(header: Path, url: str) -> dict[str, Any]:
    """GET with curl into md5sum and sha512sum at once: the work the verifier's download does.

    The verifier hashes what it downloads (md5 and sha512, in one pass); a baseline that
    only writes to /dev/null does less. bash tees curl's output into both, and waits for
    the md5sum behind the process substitution (`wait $!`, bash 5.1+) before the clock stops.
    """
    script = 'curl -sS -f -H "@$1" "$2" | tee >(md5sum >"$3.md5") | sha512sum >"$3.sha512"; wait $!'
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "sums"
        start = time.monotonic()
        run(["bash", "-o", "pipefail", "-c", script, "bash", str(header), url, str(out)])
        seconds = time.monotonic() - start
        md5 = Path(f"{out}.md5").read_text().split()[0]
        sha512 = Path(f"{out}.sha512").read_text().split()[0]
    if len(md5) != 32 or len(sha512) != 128:
        raise BenchError(f"curl | md5sum, sha512sum gave {md5!r}, {sha512!r}")
    return {"seconds": seconds, "md5": md5, "sha512": sha512}


def glance_verify(workdir: Path, logdir: Path, name: str, path: Path, skip: str) -> dict[str, Any]:
    """Run glance-verify; its step timings from --json, its peak RSS from wait4()."""
    report = logdir / f"{name}.json"
    argv = [
        str(BIN / "glance-verify"),
        "--os-cloud",
        CLOUD,
        "--image-file",
        str(path),
        "--disk-format",
        "raw",
        "--name-prefix",
        "bench-verify",
        "--skip",
        skip,
        "--json",
        str(report),
    ]
    env = dict(os.environ, OS_CLIENT_CONFIG_FILE=str(workdir / "credentials/clouds.yaml"))
    logfile = logdir / f"{name}.log"
    with logfile.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise BenchError(f"glance-verify exited {proc.returncode}; see {logfile}")
    data = json.loads(report.read_text(encoding="utf-8"))
    steps = {s["name"]: s["duration"] for s in data["steps"] if s["status"] == "pass"}
    size = path.stat().st_size
    result: dict[str, Any] = {
        "log": str(logfile.relative_to(ROOT)),
        "report": str(report.relative_to(ROOT)),
        "seconds_total": data["duration"],
        "steps": steps,
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),  # ru_maxrss: KiB on Linux
    }
    transfer = data.get("transfer") or {}
    for step in ("upload", "download"):
        if step not in steps:
            continue
        result[f"{step}_step_seconds"] = steps[step]
        result[f"{step}_step_mib_s"] = round(size / MIB / steps[step], 1)
        # The bare PUT/GET; a verifier without a transfer section: the step total.
        bare = (transfer.get(step) or {}).get("seconds")
        result[f"{step}_timed"] = "transfer" if bare else "step"
        result[f"{step}_seconds"] = bare or steps[step]
        result[f"{step}_mib_s"] = round(size / MIB / result[f"{step}_seconds"], 1)
    return result


def phase_transfer(workdir: Path, logdir: Path, repeat: int, mib: int) -> dict[str, Any]:
    path = image_file(workdir, mib)
    size = path.stat().st_size
    curls: list[dict[str, Any]] = []
    verifies: list[dict[str, Any]] = []
    load = loadavg()
    with cloud_session(workdir) as (endpoint, _token, header):
        # Alternate, so that a burst of load elsewhere hits both sides alike.
        for i in range(repeat):
            log(f"transfer {i + 1}/{repeat}: curl PUT/GET {mib} MiB to {endpoint}")
            curls.append(curl_round(endpoint, header, path, size))
            log(f"transfer {i + 1}/{repeat}: glance-verify with {mib} MiB")
            verifies.append(
                glance_verify(workdir, logdir, f"verify-{mib}m-{i + 1}", path, NOT_TIMED)
            )

    def med(rows: list[dict[str, Any]], key: str) -> float:
        return round(float(statistics.median(r[key] for r in rows)), 1)

    out = {
        "image_mib": mib,
        "endpoint": endpoint,
        "repeat": repeat,
        "loadavg_before": load,
        "loadavg_after": loadavg(),
        "curl": curls,
        "verify": verifies,
        "curl_upload_mib_s": med(curls, "upload_mib_s"),
        "curl_download_mib_s": med(curls, "download_mib_s"),
        "curl_hashed_download_mib_s": med(curls, "hashed_download_mib_s"),
        # Bare PUT/GET (see glance_verify()), the basis of the ratios.
        "verify_upload_mib_s": med(verifies, "upload_mib_s"),
        "verify_download_mib_s": med(verifies, "download_mib_s"),
        "verify_timed": sorted({v[f"{d}_timed"] for v in verifies for d in ("upload", "download")}),
        # Whole steps: the transfer plus the wait for active and the checks.
        "verify_upload_step_mib_s": med(verifies, "upload_step_mib_s"),
        "verify_download_step_mib_s": med(verifies, "download_step_mib_s"),
        "verify_peak_rss_mib_full_run": max(v["peak_rss_mib"] for v in verifies),
    }
    out["upload_ratio"] = round(out["verify_upload_mib_s"] / out["curl_upload_mib_s"], 2)
    out["download_ratio"] = round(out["verify_download_mib_s"] / out["curl_download_mib_s"], 2)
    out["hashed_download_ratio"] = round(
        out["verify_download_mib_s"] / out["curl_hashed_download_mib_s"], 2
    )
    out["upload_step_ratio"] = round(out["verify_upload_step_mib_s"] / out["curl_upload_mib_s"], 2)
    out["download_step_ratio"] = round(
        out["verify_download_step_mib_s"] / out["curl_download_mib_s"], 2
    )
    return out


def phase_memory(workdir: Path, logdir: Path, sizes: Sequence[int]) -> dict[str, Any]:
    """Peak RSS of runs that stop after the upload (later steps skipped), per image size."""
    skip = NOT_TIMED + ",download,delete"
    rows = {}
    for mib in sizes:
        log(f"memory: glance-verify upload only, {mib} MiB")
        r = glance_verify(workdir, logdir, f"verify-rss-{mib}m", image_file(workdir, mib), skip)
        rows[str(mib)] = r
    small, big = (rows[str(m)]["peak_rss_mib"] for m in (min(sizes), max(sizes)))
    return {"skip": skip, "runs": rows, "ratio": round(big / small, 2)}


# --- report -----------------------------------------------------------------------------------


def table(result: dict[str, Any]) -> str:
    rows: list[tuple[str, str, str, str, str, str]] = []
    fresh = result.get("fresh")
    if fresh:
        c, a = fresh["converge"], fresh["apt"]
        rows.append(
            (
                "fresh converge (site.yml)",
                f"{c['seconds']:.0f} s",
                f"apt-get install, {len(a['packages'])} pkgs",
                f"{a['seconds']:.0f} s",
                f"{fresh['ratio']:.2f}x",
                f"load {c['loadavg_before'][0]} / {a['loadavg_before'][0]}",
            )
        )
    noop = result.get("noop")
    aio = result.get("aio")
    # (label of the no-op row, of the check-mode row, the summary, the end of its note)
    connections: list[tuple[str, str, dict[str, Any], str]] = []
    if noop:
        connections += [
            ("podman", "podman", noop, f"{noop['task_count']} tasks"),
            ("nsenter", "nsenter", noop["nsenter"], "no podman exec per step"),
        ]
    if aio:
        connections.append(
            (
                "this host, local",
                "this host",
                aio,
                f"{aio['task_count']} tasks; load {aio['runs'][0]['loadavg_before'][0]}",
            )
        )
    for label, check_label, summary, note in connections:
        rows.append(
            (
                f"no-op re-converge, {label} (median of {len(summary['runs'])})",
                f"{summary['seconds_median']:.1f} s",
                "one-task playbook",
                f"{summary['floor']['seconds']:.1f} s",
                f"{summary['ratio_to_floor']:.1f}x",
                f"target <20 s; changed={summary['changed_max']}; {note}",
            )
        )
        rows.append(
            (
                f"check-mode converge, {check_label}",
                f"{summary['check_mode']['seconds']:.1f} s",
                "",
                "",
                "",
                f"changed={summary['check_mode']['changed']}",
            )
        )
    tr = result.get("transfer")
    if tr:
        m = tr["image_mib"]
        bare = "bare" if tr.get("verify_timed") == ["transfer"] else "step"
        rows.append(
            (
                f"glance-verify upload {m} MiB, {bare} PUT",
                f"{tr['verify_upload_mib_s']:.0f} MiB/s",
                "curl PUT",
                f"{tr['curl_upload_mib_s']:.0f} MiB/s",
                f"{tr['upload_ratio']:.2f}",
                f"target >=0.8; median of {tr['repeat']}",
            )
        )
        rows.append(
            (
                f"glance-verify download {m} MiB, {bare} GET",
                f"{tr['verify_download_mib_s']:.0f} MiB/s",
                "curl GET",
                f"{tr['curl_download_mib_s']:.0f} MiB/s",
                f"{tr['download_ratio']:.2f}",
                f"load {tr['loadavg_before'][0]}",
            )
        )
        rows.append(
            (
                f"glance-verify download {m} MiB, {bare} GET",
                f"{tr['verify_download_mib_s']:.0f} MiB/s",
                "curl GET | md5sum+sha512sum",
                f"{tr['curl_hashed_download_mib_s']:.0f} MiB/s",
                f"{tr['hashed_download_ratio']:.2f}",
                "both hash what they download",
            )
        )
        for key in ("upload", "download"):
            rows.append(
                (
                    f"  {key} step total (+ wait, checks)",
                    f"{tr[f'verify_{key}_step_mib_s']:.0f} MiB/s",
                    "same curl",
                    "",
                    f"{tr[f'{key}_step_ratio']:.2f}",
                    "",
                )
            )
    mem = result.get("memory")
    if mem:
        sizes = sorted(mem["runs"], key=int)
        small, big = mem["runs"][sizes[0]], mem["runs"][sizes[-1]]
        rows.append(
            (
                f"verifier peak RSS, {sizes[-1]} MiB upload",
                f"{big['peak_rss_mib']:.0f} MiB",
                f"same, {sizes[0]} MiB",
                f"{small['peak_rss_mib']:.0f} MiB",
                f"{mem['ratio']:.2f}",
                "target ~1.00 (size-independent)",
            )
        )
    head = ("figure", "value", "baseline", "value", "ratio", "note")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*head), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*r) for r in rows]
    for label, _, summary, _ in connections:
        lines += ["", f"slowest tasks of the no-op re-converge ({label}):"]
        lines += [f"  {t['seconds']:6.2f} s  {t['task']}" for t in summary["slowest"]]
        if summary["runs"][-1]["changed_tasks"]:
            lines.append("  changed: " + "; ".join(summary["runs"][-1]["changed_tasks"]))
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--phases",
        default=",".join(PHASES),
        help=f"comma-separated: {','.join(PHASES + OPT_IN_PHASES)} (default: {','.join(PHASES)})",
    )
    parser.add_argument(
        "--repeat", type=int, default=5, help="curl/verifier transfer rounds (median)"
    )
    parser.add_argument(
        "--noop-runs", type=int, default=3, help="no-op re-converges per connection (median)"
    )
    parser.add_argument(
        "--aio-runs", type=int, default=3, help="no-op re-converges of this host (median)"
    )
    parser.add_argument(
        "--aio-converge",
        action="store_true",
        help="aio phase: converge this host first (installs OpenStack here when it is not)",
    )
    parser.add_argument(
        "--release",
        choices=sorted(IMAGES),
        default="13",
        help="Debian release of the bench containers (12: Zed, 13: 2025.1; default 13)",
    )
    parser.add_argument("--image-mib", type=int, default=512)
    parser.add_argument("--small-mib", type=int, default=64)
    parser.add_argument("--keep", action="store_true", help="leave the bench-* containers")
    parser.add_argument("--json", default=str(ROOT / "reports/bench.json"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    phases = [p for p in args.phases.split(",") if p]
    unknown = set(phases) - set(PHASES + OPT_IN_PHASES)
    if unknown:
        parser.error(
            f"unknown phase(s) {sorted(unknown)}; choose from {','.join(PHASES + OPT_IN_PHASES)}"
        )

    image = IMAGES[args.release]
    os.environ.setdefault("CONTAINERS_CONF", str(ROOT / "molecule/containers.conf"))
    workdir = ROOT / ".cache/bench"
    logdir = ROOT / "reports/bench"
    workdir.mkdir(parents=True, exist_ok=True, mode=0o700)
    logdir.mkdir(parents=True, exist_ok=True)
    if "fresh" in phases:
        # New controller, new database: the previous run's passwords are of no use.
        run(["rm", "-rf", str(workdir / "credentials")])
    inventory = write_inventory(
        workdir, "inventory.yml", {"ansible_connection": "containers.podman.podman"}
    )

    git = run(["git", "rev-parse", "--short", "HEAD"], check=False).stdout.strip()
    result: dict[str, Any] = {
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "git": git,
        "image": image,
        "release": args.release,
        "loadavg_start": loadavg(),
    }
    rc = 0
    try:
        if "fresh" in phases:
            result["fresh"] = phase_fresh(workdir, logdir, inventory, image)
        if "noop" in phases:
            result["noop"] = phase_noop(workdir, logdir, inventory, args.noop_runs)
        if "transfer" in phases:
            result["transfer"] = phase_transfer(workdir, logdir, args.repeat, args.image_mib)
        if "memory" in phases:
            result["memory"] = phase_memory(workdir, logdir, (args.small_mib, args.image_mib))
        if "aio" in phases:
            result["aio"] = phase_aio(workdir, logdir, args.aio_runs, args.aio_converge)
    except BenchError as exc:
        log(f"FAILED: {exc}")
        result["error"] = str(exc)
        rc = 1
    finally:
        # The aio phase alone leaves the bench containers (a kept one) alone.
        if not args.keep and set(phases) & set(PHASES):
            for name in (APT, CONVERGE):
                remove_container(name)
    result["loadavg_end"] = loadavg()
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")

    print()
    print(
        f"glance-lab bench {result['started']}  git {git}  {result['cpus']} cpus  "
        f"load avg start {' '.join(map(str, result['loadavg_start']))}, "
        f"end {' '.join(map(str, result['loadavg_end']))}"
    )
    print(table(result))
    print(f"\nJSON: {args.json}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
