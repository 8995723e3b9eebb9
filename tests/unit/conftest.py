"""Fixtures for the glance-verify unit tests: an in-memory Glance that behaves like the API.

FakeGlance mimics the parts of the Glance v2 API that the verifier uses closely enough
to run the whole lifecycle offline, and can be told to misbehave (tamper with stored
bytes, report a wrong hash, ignore deactivation) so that tests can prove that the
checks that must fail do fail.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import threading
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Iterator, Sized
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from openstack.config import loader as openstack_loader

from glance_verify.cloud import TempUser
from glance_verify.context import Context
from glance_verify.db import DbUrl, ImageDatabase
from glance_verify.errors import CheckFailed
from glance_verify.imports import ImportFilters
from glance_verify.options import Backend, Options

ADMIN_PROJECT = "admin-project"


@dataclass
class FakeResponse:
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    chunk_reads: list[int] = field(default_factory=list)

    def iter_content(self, chunk_size: int) -> Iterator[bytes]:
        for i in range(0, len(self.body), chunk_size):
            self.chunk_reads.append(chunk_size)
            yield self.body[i : i + chunk_size]


@dataclass
class FakeGlance:
    images: dict[str, dict[str, Any]] = field(default_factory=dict)
    data: dict[str, bytes] = field(default_factory=dict)
    members: dict[tuple[str, str], str] = field(default_factory=dict)
    deleted_rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    store_dir: Path | None = None
    hash_algo: str = "sha512"
    # Misbehaviours, for tampered-data tests.
    tamper_download: Callable[[bytes], bytes] | None = None
    wrong_recorded_hash: bool = False
    deactivation_ignored: bool = False
    shared_hidden_from_members: bool = False
    upload_consumed: list[int] = field(default_factory=list)
    # Multi-store (enabled_backends): backend name -> its directory; the default one.
    backends: dict[str, Path] = field(default_factory=dict)
    default_backend: str | None = None
    show_locations: bool = True
    wrong_stores: str | None = None
    # user_storage_quota in bytes (None: no quota); misbehaviour: a refused upload's file stays.
    quota: int | None = None
    quota_leaves_file: bool = False
    # The text of a quota refusal (another 413, e.g. image_size_cap, to test the reason).
    quota_message: str = "HTTP 413 Image exceeds the storage quota"
    # Keystone unified limits (use_keystone_limits): resource -> limit; None: off.
    # Like Zed, uploads are refused (413, before storing) only once usage > limit.
    keystone_limits: dict[str, int] | None = None
    limits_never_refuse: bool = False
    # Image cache: which listing paths answer, the entries, hits; misbehaviours.
    cache_paths: tuple[str, ...] = ()
    cache: dict[str, dict[str, Any]] = field(default_factory=dict)
    cache_dir: Path | None = None
    cache_never_fills: bool = False
    cache_never_hits: bool = False
    cache_on_upload: bool = False  # like a prefetcher that already cached it
    # http store: locations allowed (show_multiple_locations), the statuses a PATCH passes.
    locations_allowed: bool = True
    location_statuses: tuple[str, ...] = ("active",)
    http_fetch: Callable[[str], bytes] | None = None
    requests: list[tuple[str, str]] = field(default_factory=list)
    # Image import: the methods offered, the staging area, the web-download filters (like
    # Debian's Zed: loopback refused unless allowed), fetching a URL; misbehaviours.
    import_methods: tuple[str, ...] = ("glance-direct", "web-download", "copy-image")
    staging_dir: Path | None = None
    import_filters: ImportFilters = field(default_factory=ImportFilters)
    filters_ignored: bool = False
    import_task_fails: bool = False
    # Seconds after the import call that the staged file goes (0: at once, as the
    # image turns active; None: never).
    staged_kept_for: float | None = 0.0
    staged: dict[str, bytes] = field(default_factory=dict)
    tasks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    copy_corrupts: bool = False
    copy_never_lands: bool = False
    # Looks (GETs) after an import turns active that its task still holds the image's
    # os_glance_import_task lock (None: never let go); a DELETE meanwhile answers 500,
    # as Zed's did once in molecule-default.
    import_lock_looks: int | None = 0

    def view(self, project: str = ADMIN_PROJECT, admin: bool = True) -> FakeApi:
        return FakeApi(self, project, admin)


class FakeApi:
    """Duck-types glance_verify.cloud.GlanceApi for one user."""

    def __init__(self, glance: FakeGlance, project: str, admin: bool) -> None:
        self.g = glance
        self.project = project
        self.admin = admin

    def versions(self) -> list[dict[str, Any]]:
        return [{"id": "v2.14", "status": "SUPPORTED"}, {"id": "v2.15", "status": "CURRENT"}]

    # --- visibility rules (simplified Glance policy) ---
    def _visible(self, image: dict[str, Any]) -> bool:
        if self.admin or image["owner"] == self.project or image["visibility"] == "public":
            return True
        return image["visibility"] == "shared" and self.g.members.get(
            (image["id"], self.project)
        ) in ("accepted", "pending")

    def _get(self, image_id: str) -> dict[str, Any]:
        image = self.g.images.get(image_id)
        if image is None or not self._visible(image):
            raise CheckFailed(f"HTTP 404 for {image_id}")
        return image

    def create_image(self, **attrs: Any) -> dict[str, Any]:
        image_id = str(uuid.uuid4())
        image = {
            "id": image_id,
            "status": "queued",
            "checksum": None,
            "os_hash_algo": None,
            "os_hash_value": None,
            "size": None,
            "owner": self.project,
            **attrs,
        }
        self.g.images[image_id] = image
        return dict(image)

    def get_image(self, image_id: str) -> dict[str, Any] | None:
        image = self.g.images.get(image_id)
        if image is None or not self._visible(image):
            return None
        if image.get("_next_statuses"):
            image["status"] = image["_next_statuses"].pop(0)
        elif "_lock_looks" in image:
            looks = image["_lock_looks"]
            if looks is not None and looks <= 0:
                del image["_lock_looks"], image["os_glance_import_task"]
            elif looks is not None:
                image["_lock_looks"] = looks - 1
        if image.get("_copied_to") and not self.g.copy_never_lands:
            # Seen copying once, then the stores are there.
            if image.pop("_copy_seen", False):
                image["stores"] = ",".join([image["stores"], *image.pop("_copied_to")])
                image["os_glance_importing_to_stores"] = ""
            else:
                image["_copy_seen"] = True
        return dict(image)

    def list_images(self, **query: Any) -> list[dict[str, Any]]:
        found = []
        for image in self.g.images.values():
            if "name" in query and image.get("name") != query["name"]:
                continue
            if "owner" in query and image.get("owner") != query["owner"]:
                continue
            if not (
                self.admin
                or image["owner"] == self.project
                or image["visibility"] == "public"
                or (
                    self.g.members.get((image["id"], self.project)) == "accepted"
                    and not self.g.shared_hidden_from_members
                )
            ):
                continue
            found.append(dict(image))
        return found

    def update_image(self, image_id: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
        image = self._get(image_id)
        for op in ops:
            image[op["path"].lstrip("/")] = op["value"]
        return dict(image)

    def set_attributes(self, image_id: str, **attrs: Any) -> dict[str, Any]:
        return self.update_image(
            image_id, [{"op": "replace", "path": f"/{k}", "value": v} for k, v in attrs.items()]
        )

    def upload(self, image_id: str, body: Iterable[bytes], store: str | None = None) -> None:
        status, text = self.try_upload(image_id, body, store)
        if status != 204:
            raise CheckFailed(text)

    def _store_dir(self, store: str | None) -> Path | None:
        if self.g.backends:
            return self.g.backends[store or str(self.g.default_backend)]
        return self.g.store_dir

    def _usage(self, owner: str) -> int:
        return sum(
            int(i["size"] or 0)
            for i in self.g.images.values()
            if i["owner"] == owner and i["status"] == "active"
        )

    def _limit_usage(self, owner: str) -> dict[str, int]:
        mine = [i for i in self.g.images.values() if i["owner"] == owner]
        return {
            "image_size_total": self._usage(owner) // (1024 * 1024),
            "image_stage_total": 0,
            "image_count_total": len(mine),
            "image_count_uploading": sum(i["status"] in ("saving", "uploading") for i in mine),
        }

    def _over_keystone_limit(self, owner: str) -> bool:
        limits = self.g.keystone_limits
        if limits is None or self.g.limits_never_refuse:
            return False
        return self._limit_usage(owner)["image_size_total"] > limits["image_size_total"]

    def usage(self) -> dict[str, Any]:
        limits = self.g.keystone_limits
        if limits is None:
            return {"usage": {}}
        used = self._limit_usage(self.project)
        return {"usage": {k: {"limit": v, "usage": used[k]} for k, v in limits.items()}}

    def try_upload(
        self, image_id: str, body: Iterable[bytes], store: str | None = None
    ) -> tuple[int, str]:
        """Like Glance Zed: 400 for an unknown store; over the quota, 413 before reading a
        declared length, or after storing (and removing) chunked data, left in saving."""
        image = self._get(image_id)
        self.g.requests.append(("PUT", f"/images/{image_id}/file"))
        if self.g.backends and store is not None and store not in self.g.backends:
            return 400, f"PUT /v2/images/{image_id}/file: HTTP 400 Unknown scheme {store}"
        if self._over_keystone_limit(image["owner"]):
            for chunk in body:  # refused before the data is read; the client sent it all
                self.g.upload_consumed.append(len(chunk))
            return 413, f"PUT /v2/images/{image_id}/file: HTTP 413 Limit exceeded"
        # Like Zed: user_storage_quota has no effect with use_keystone_limits.
        legacy = None if self.g.keystone_limits is not None else self.g.quota
        remaining = None if legacy is None else legacy - self._usage(image["owner"])
        refused = f"PUT /v2/images/{image_id}/file: {self.g.quota_message}"
        declared = len(body) if isinstance(body, Sized) else None
        if remaining is not None and declared is not None and declared > remaining:
            for chunk in body:  # the client sends it all; the server discards it
                self.g.upload_consumed.append(len(chunk))
            return 413, refused
        md5 = hashlib.md5(usedforsecurity=False)
        other = hashlib.new(self.g.hash_algo)
        kept = bytearray()
        for chunk in body:
            self.g.upload_consumed.append(len(chunk))
            md5.update(chunk)
            other.update(chunk)
            kept += chunk
        directory = self._store_dir(store)
        if remaining is not None and len(kept) > remaining:
            image["status"] = "saving"  # Zed cannot restore an image it already set active
            if self.g.quota_leaves_file and directory is not None:
                (directory / image_id).write_bytes(kept)
            return 413, refused
        self.g.data[image_id] = bytes(kept)
        image.update(
            status="active",
            size=len(kept),
            checksum=md5.hexdigest(),
            os_hash_algo=self.g.hash_algo,
            os_hash_value=("0" * 128) if self.g.wrong_recorded_hash else other.hexdigest(),
        )
        if directory is not None:
            (directory / image_id).write_bytes(kept)
        if self.g.cache_on_upload:
            self._cache_download(image_id, len(kept))
        if self.g.backends:
            name = store or str(self.g.default_backend)
            image["stores"] = self.g.wrong_stores or name
            if self.g.show_locations:
                url = f"file://{directory}/{image_id}"
                image["locations"] = [{"url": url, "metadata": {"store": name}}]
        return 204, ""

    def import_methods(self) -> list[str]:
        return list(self.g.import_methods)

    def stage(self, image_id: str, body: Iterable[bytes]) -> None:
        image = self._get(image_id)
        data = b"".join(body)
        self.g.staged[image_id] = data
        if self.g.staging_dir is not None:
            (self.g.staging_dir / image_id).write_bytes(data)
        image["status"] = "uploading"

    def _imported(self, image: dict[str, Any], data: bytes) -> None:
        """Like Glance: importing, then active with the data's size and hashes."""
        self.g.data[image["id"]] = data
        image.update(
            status="importing",
            _next_statuses=["importing", "active"],
            size=len(data),
            checksum=hashlib.md5(data, usedforsecurity=False).hexdigest(),
            os_hash_algo=self.g.hash_algo,
            os_hash_value=hashlib.new(self.g.hash_algo, data).hexdigest(),
            os_glance_import_task="task-1",
            _lock_looks=self.g.import_lock_looks,
        )
        if self.g.store_dir is not None:
            (self.g.store_dir / image["id"]).write_bytes(data)

    def try_import(
        self, image_id: str, method: dict[str, Any], stores: list[str] | None = None
    ) -> tuple[int, str]:
        image = self._get(image_id)
        path = f"POST /v2/images/{image_id}/import"
        name = method.get("name")
        if name not in self.g.import_methods:
            return 400, f"{path}: HTTP 400 Import method {name} is not enabled"
        if name == "copy-image":
            return self._copy(image, stores or [])
        if name == "glance-direct":
            data = self.g.staged.pop(image_id)
            kept = self.g.staged_kept_for
            if self.g.staging_dir is not None and kept is not None:
                staged = self.g.staging_dir / image_id
                if kept:
                    threading.Timer(kept, staged.unlink).start()
                else:
                    staged.unlink()
            self._imported(image, data)
            return 202, ""
        uri = str(method.get("uri"))
        if self.g.import_filters.refusal(uri) and not self.g.filters_ignored:
            return 400, f"{path}: HTTP 400 URI for web-download does not pass filtering: {uri}"
        if self.g.import_task_fails:
            if self.g.filters_ignored:  # it tries the URL, which answers 404
                with contextlib.suppress(OSError):
                    fetch_url(uri)
            image.update(status="importing", _next_statuses=["queued"])
            image["os_glance_failed_import"] = ""
            self.g.tasks[image_id] = [
                {"id": "task-1", "status": "failure", "message": "Failed to fetch: refused"}
            ]
            return 202, ""
        self._imported(image, fetch_url(uri))
        return 202, ""

    def _copy(self, image: dict[str, Any], stores: list[str]) -> tuple[int, str]:
        """Like Glance: the image stays active, the copy is importing to its stores (one
        look), then they join ``stores``; its data written there (``copy_corrupts``:
        not the same bytes)."""
        if image["status"] != "active" or not set(stores) <= set(self.g.backends):
            return 409, f"POST /v2/images/{image['id']}/import: HTTP 409 cannot copy"
        data = self.g.data[image["id"]]
        for store in stores:
            written = data[:-1] + b"!" if self.g.copy_corrupts else data
            (self.g.backends[store] / image["id"]).write_bytes(written)
        image["os_glance_importing_to_stores"] = ",".join(stores)
        image["_copied_to"] = stores
        return 202, ""

    def image_tasks(self, image_id: str) -> list[dict[str, Any]]:
        return list(self.g.tasks.get(image_id, []))

    @contextlib.contextmanager
    def download(self, image_id: str) -> Iterator[FakeResponse]:
        image = self._get(image_id)
        body = self.g.data[image_id]
        if self.g.tamper_download is not None:
            body = self.g.tamper_download(body)
        yield FakeResponse(body, {"Content-MD5": str(image["checksum"])})
        self._cache_download(image_id, len(body))

    def _cache_download(self, image_id: str, size: int) -> None:
        """The cache filter: the first full download fills the cache, later ones are hits."""
        if not self.g.cache_paths or self.g.cache_never_fills:
            return
        entry = self.g.cache.get(image_id)
        if entry is None:
            self.g.cache[image_id] = {"image_id": image_id, "hits": 0, "size": size}
            if self.g.cache_dir is not None:
                (self.g.cache_dir / image_id).write_bytes(self.g.data[image_id])
        elif not self.g.cache_never_hits:
            entry["hits"] += 1

    def cached_images(self, path: str) -> list[dict[str, Any]] | None:
        if path not in self.g.cache_paths:
            return None
        return [dict(e) for e in self.g.cache.values()]

    def uncache_image(self, path: str, image_id: str) -> None:
        if path not in self.g.cache_paths:
            raise CheckFailed(f"DELETE /v2{path}/{image_id}: HTTP 404")
        self.g.requests.append(("DELETE", f"{path}/{image_id}"))
        self.g.cache.pop(image_id, None)
        if self.g.cache_dir is not None:
            (self.g.cache_dir / image_id).unlink(missing_ok=True)

    def add_location(self, image_id: str, url: str) -> dict[str, Any]:
        image = self._get(image_id)
        if not self.g.locations_allowed:
            raise CheckFailed(
                f"PATCH /v2/images/{image_id}: HTTP 403 It's not allowed to add locations "
                "if locations are invisible."
            )
        if self.g.http_fetch is None:
            raise CheckFailed(f"PATCH /v2/images/{image_id}: HTTP 400 Invalid location")
        data = self.g.http_fetch(url)
        self.g.data[image_id] = data
        statuses = list(self.g.location_statuses)
        image.update(status=statuses.pop(0), size=len(data))
        image["_next_statuses"] = statuses
        image["locations"] = [{"url": url, "metadata": {}}]
        return dict(image)

    def download_status(self, image_id: str) -> int:
        image = self.g.images.get(image_id)
        if image is None or not self._visible(image):
            return 404
        if image["status"] == "deactivated" and not self.admin and not self.g.deactivation_ignored:
            return 403
        return 200

    def deactivate(self, image_id: str) -> None:
        self._get(image_id)["status"] = "deactivated"

    def reactivate(self, image_id: str) -> None:
        self._get(image_id)["status"] = "active"

    def add_member(self, image_id: str, project_id: str) -> dict[str, Any]:
        if self._get(image_id)["visibility"] != "shared":
            raise CheckFailed("HTTP 403 only shared images have members")
        self.g.members[(image_id, project_id)] = "pending"
        return {"member_id": project_id, "status": "pending"}

    def set_member_status(self, image_id: str, project_id: str, status: str) -> dict[str, Any]:
        assert project_id == self.project
        self.g.members[(image_id, project_id)] = status
        return {"member_id": project_id, "status": status}

    def get_member(self, image_id: str, project_id: str) -> dict[str, Any] | None:
        image = self.g.images.get(image_id)
        status = self.g.members.get((image_id, project_id))
        if image is None or image["visibility"] != "shared" or status is None:
            return None
        return {"member_id": project_id, "status": status}

    def delete_member(self, image_id: str, project_id: str, missing_ok: bool = False) -> None:
        # Like Glance: members can only be managed while the image is shared.
        if self._get(image_id)["visibility"] != "shared":
            raise CheckFailed("HTTP 403 Not allowed to delete members for image")
        if self.g.members.pop((image_id, project_id), None) is None and not missing_ok:
            raise CheckFailed("HTTP 404")

    def delete_image(self, image_id: str, missing_ok: bool = False) -> bool:
        if "os_glance_import_task" in self.g.images.get(image_id, {}):
            raise CheckFailed(f"DELETE /v2/images/{image_id}: HTTP 500 Internal Server Error")
        image = self.g.images.pop(image_id, None)
        if image is None:
            if missing_ok:
                return False
            raise CheckFailed("HTTP 404")
        self.g.data.pop(image_id, None)
        self.g.deleted_rows[image_id] = {**image, "status": "deleted", "deleted": 1}
        for directory in (self.g.store_dir, *self.g.backends.values()):
            if directory is not None:
                (directory / image_id).unlink(missing_ok=True)
        self.g.cache.pop(image_id, None)  # the cache filter drops it on DELETE
        return True

    def stores(self) -> list[str] | None:
        info = self.store_info()
        return None if info is None else [s["id"] for s in info]

    def store_info(self, detail: bool = False) -> list[dict[str, Any]] | None:
        if not self.g.backends:
            return None
        stores: list[dict[str, Any]] = []
        for name, directory in self.g.backends.items():
            store: dict[str, Any] = {"id": name}
            if name == self.g.default_backend:
                store["default"] = "true"
            if detail:
                store.update(type="file", properties={"data_dir": str(directory)})
            stores.append(store)
        return stores


class FakeDatabase(ImageDatabase):
    def __init__(self, glance: FakeGlance) -> None:
        super().__init__(DbUrl("glance", "secret", "db", 3306, "glance"))
        self.glance = glance

    def image_row(self, image_id: str) -> dict[str, Any] | None:
        return self.glance.deleted_rows.get(image_id)


class FakeContext(Context):
    """A Context whose temporary users are fake projects of the fake Glance."""

    glance: FakeGlance
    created_users: list[str]

    def domain_id(self) -> str:
        return "default"

    def temp_user(self, suffix: str) -> TempUser:
        name = f"{self.run_id}-{suffix}"
        self.created_users.append(name)
        self.cleanup.push(f"delete project {name}", lambda: self.created_users.remove(name))
        api: Any = self.glance.view(project=f"project-{suffix}", admin=False)
        return TempUser(name, f"project-{suffix}", f"user-{suffix}", "pw", api)


@pytest.fixture
def no_ambient_cloud(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests must not pick up the developer's or CI's cloud settings."""
    for name in ("OS_CLOUD", "OS_CLIENT_CONFIG_FILE", "GLANCE_VERIFY_DB_URL"):
        monkeypatch.delenv(name, raising=False)
    for name in ("OS_AUTH_URL", "OS_USERNAME", "OS_PASSWORD", "OS_PROJECT_NAME", "OS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    # openstacksdk also reads ./clouds.yaml and ~/.config/openstack/clouds.yaml.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / ".config"))
    # ... from paths it computed when it was imported (a host with an all-in-one
    # has /root/.config/openstack/clouds.yaml): search this test's directory only.
    for name in ("CONFIG_FILES", "SECURE_FILES", "VENDOR_FILES"):
        files = [str(tmp_path / Path(path).name) for path in getattr(openstack_loader, name)]
        monkeypatch.setattr(openstack_loader, name, files)


@pytest.fixture
def image_file(tmp_path: Path) -> Path:
    """A 3.5 MiB file of pseudo-random bytes (so chunks differ and digests are not trivial)."""
    path = tmp_path / "image.qcow2"
    block = hashlib.sha512(b"glance-verify").digest()
    with path.open("wb") as out:
        for i in range(3 * 1024 * 16 + 512):  # 64-byte blocks
            out.write(hashlib.sha512(block + i.to_bytes(4, "big")).digest())
    return path


@pytest.fixture
def fake_glance() -> FakeGlance:
    return FakeGlance()


@pytest.fixture
def make_context(
    fake_glance: FakeGlance, image_file: Path, tmp_path: Path
) -> Callable[..., FakeContext]:
    def make(**overrides: Any) -> FakeContext:
        defaults: dict[str, Any] = {
            "image_file": str(image_file),
            "cache_dir": tmp_path / "cache",
        }
        opts = Options(**{**defaults, **overrides})
        api: Any = fake_glance.view()
        ctx = FakeContext(opts, admin=None, api=api, run_id="glance-verify-test")
        ctx.glance = fake_glance
        ctx.created_users = []
        return ctx

    return make


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def web_root(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A real http server on 127.0.0.1 serving a directory: (the directory, its base URL)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def fetch_url(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 - a test server
        data: bytes = resp.read()
        return data


@pytest.fixture
def storage_lab(
    fake_glance: FakeGlance, tmp_path: Path, web_root: tuple[Path, str], image_file: Path
) -> dict[str, Any]:
    """The fake Glance with every storage-lab feature on (two file backends, a quota, the
    image cache, the http store); returns the options that turn on their checks."""
    backends = {name: tmp_path / f"backend-{name}" for name in ("fast", "slow")}
    for directory in backends.values():
        directory.mkdir()
    cache = tmp_path / "image-cache"
    cache.mkdir()
    root, base = web_root
    (root / "served.img").write_bytes(image_file.read_bytes()[:1_500_000])
    fake_glance.backends = backends
    fake_glance.default_backend = "fast"
    fake_glance.quota = 8 * 1024 * 1024
    fake_glance.cache_paths = ("/cache", "/cached_images")
    fake_glance.cache_dir = cache
    fake_glance.http_fetch = fetch_url
    staging = tmp_path / "staging"
    staging.mkdir()
    fake_glance.staging_dir = staging
    port = free_port()
    filters = ImportFilters(allowed_hosts=("127.0.0.1",), allowed_ports=(80, 443, port))
    fake_glance.import_filters = filters
    return {
        "backends": tuple(Backend(n, PurePosixPath(str(d))) for n, d in backends.items()),
        "default_backend": "fast",
        "local_stores": True,
        "quota": fake_glance.quota,
        "quota_text": "8MB",
        "image_cache": True,
        "image_cache_dir": cache,
        "http_url": f"{base}/served.img",
        "import_methods": fake_glance.import_methods,
        "import_filters": filters,
        "serve_address": "127.0.0.1",
        "serve_port": port,
        "staging_path": staging,
        "timeout": 0.2,
    }


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (nor, usually, the next one)."""
    import socket  # noqa: PLC0415

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
