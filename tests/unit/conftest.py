"""Fixtures for the glance-verify unit tests: an in-memory Glance that behaves like the API.

FakeGlance mimics the parts of the Glance v2 API that the verifier uses closely enough
to run the whole lifecycle offline, and can be told to misbehave (tamper with stored
bytes, report a wrong hash, ignore deactivation) so that tests can prove that the
checks that must fail do fail.
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from glance_verify.cloud import TempUser
from glance_verify.db import DbUrl, ImageDatabase
from glance_verify.errors import CheckFailed
from glance_verify.options import Options
from glance_verify.steps import Context

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

    def view(self, project: str = ADMIN_PROJECT, admin: bool = True) -> FakeApi:
        return FakeApi(self, project, admin)


class FakeApi:
    """Duck-types glance_verify.cloud.GlanceApi for one user."""

    def __init__(self, glance: FakeGlance, project: str, admin: bool) -> None:
        self.g = glance
        self.project = project
        self.admin = admin

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
        return dict(image)

    def list_images(self, **query: Any) -> list[dict[str, Any]]:
        found = []
        for image in self.g.images.values():
            if "name" in query and image.get("name") != query["name"]:
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
        image = self._get(image_id)
        md5 = hashlib.md5(usedforsecurity=False)
        other = hashlib.new(self.g.hash_algo)
        kept = bytearray()
        for chunk in body:
            self.g.upload_consumed.append(len(chunk))
            md5.update(chunk)
            other.update(chunk)
            kept += chunk
        self.g.data[image_id] = bytes(kept)
        image.update(
            status="active",
            size=len(kept),
            checksum=md5.hexdigest(),
            os_hash_algo=self.g.hash_algo,
            os_hash_value=("0" * 128) if self.g.wrong_recorded_hash else other.hexdigest(),
        )
        if self.g.store_dir is not None:
            (self.g.store_dir / image_id).write_bytes(kept)

    @contextlib.contextmanager
    def download(self, image_id: str) -> Iterator[FakeResponse]:
        image = self._get(image_id)
        body = self.g.data[image_id]
        if self.g.tamper_download is not None:
            body = self.g.tamper_download(body)
        yield FakeResponse(body, {"Content-MD5": str(image["checksum"])})

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
        image = self.g.images.pop(image_id, None)
        if image is None:
            if missing_ok:
                return False
            raise CheckFailed("HTTP 404")
        self.g.data.pop(image_id, None)
        self.g.deleted_rows[image_id] = {**image, "status": "deleted", "deleted": 1}
        if self.g.store_dir is not None:
            (self.g.store_dir / image_id).unlink(missing_ok=True)
        return True

    def stores(self) -> list[str] | None:
        return None


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
