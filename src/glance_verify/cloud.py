"""The cloud edge: connecting (openstacksdk), Glance's v2 REST API, temporary Keystone users,
and polling an image until it settles.

Image calls go through the SDK's image proxy as plain REST (the proxy brings auth,
catalog and version discovery) so that each check sees exactly what the API answers:
status codes, and the fields of the v2 image JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import html
import logging
import os
import re
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from glance_verify.compare import mismatch
from glance_verify.errors import CheckFailed, CloudUnreachable, ConfigError
from glance_verify.hashing import DOWNLOAD_CHUNK_SIZE, Digests, ProgressCallback, hash_chunks

PATCH_CONTENT_TYPE = "application/openstack-images-v2.1-json-patch"
#: Socket timeout for API calls, seconds (a read that stalls this long fails the call).
API_TIMEOUT = 300
#: A request that sends image data is sent once: no retry on a broken connection and
#: none on a retriable status. The SDK retries an image request answered 503 up to five
#: times (image_status_code_retries), but the first try has consumed the body: the
#: retry sent an empty one, with Content-Length 0, and Glance made an active, empty
#: image of it (the load balancer answered 503 for a node being stopped; failover.yml).
SEND_BODY_ONCE: dict[str, Any] = {"connect_retries": 0, "status_code_retries": 0}


def quiet_sdk_logging(debug: bool = False) -> None:
    """Keep the SDK's warnings (e.g. version discovery notes) off the report unless --debug."""
    if debug:
        import openstack  # noqa: PLC0415

        openstack.enable_logging(debug=True)
        return
    for name in ("openstack", "keystoneauth", "keystoneauth1", "urllib3", "stevedore"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def check_client_config_file(environ: Mapping[str, str] | None = None) -> None:
    """A clouds.yaml named by OS_CLIENT_CONFIG_FILE must exist, be readable and be YAML.

    The SDK silently skips a missing file and then reports an unknown cloud, which hides
    the real mistake.
    """
    env = os.environ if environ is None else environ
    name = env.get("OS_CLIENT_CONFIG_FILE")
    if not name:
        return
    path = Path(name)
    try:
        with path.open(encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except FileNotFoundError:
        raise ConfigError(f"OS_CLIENT_CONFIG_FILE={name}: no such file") from None
    except PermissionError:
        raise ConfigError(f"OS_CLIENT_CONFIG_FILE={name}: not readable") from None
    except IsADirectoryError:
        raise ConfigError(f"OS_CLIENT_CONFIG_FILE={name}: is a directory") from None
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        where = f" (line {line + 1})" if line is not None else ""
        raise ConfigError(f"OS_CLIENT_CONFIG_FILE={name}: not valid YAML{where}") from None
    if not isinstance(data, dict) or not isinstance(data.get("clouds"), dict):
        raise ConfigError(f"OS_CLIENT_CONFIG_FILE={name}: no 'clouds:' mapping")


@contextlib.contextmanager
def sdk_config_errors() -> Iterator[None]:
    """The SDK's complaints about the cloud configuration, as ConfigError."""
    import keystoneauth1.exceptions as ksa  # noqa: PLC0415
    import openstack.exceptions as sdk_exc  # noqa: PLC0415

    check_client_config_file()
    try:
        yield
    except sdk_exc.ConfigException as exc:
        raise ConfigError(f"cloud configuration: {exc}") from None
    except ksa.auth_plugins.MissingRequiredOptions as exc:
        raise ConfigError(
            f"no usable credentials ({exc}); pass --os-cloud NAME with a clouds.yaml, "
            "or set OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME, ..."
        ) from None
    except yaml.YAMLError:
        raise ConfigError("clouds.yaml: not valid YAML") from None
    except (ksa.ClientException, sdk_exc.SDKException) as exc:
        raise ConfigError(f"cloud configuration: {exc}") from None


def cloud_region(options: argparse.Namespace | None, *, api_timeout: int = API_TIMEOUT) -> Any:
    """The SDK's CloudRegion: clouds.yaml and OS_* variables, overridden by the command
    line's ``--os-*`` options (``command.cloud_options``), as the openstack client does."""
    import openstack.config  # noqa: PLC0415

    with sdk_config_errors():
        config = openstack.config.OpenStackConfig()
        return config.get_one(argparse=options, api_timeout=api_timeout)


def connect(options: argparse.Namespace | None, *, api_timeout: int = API_TIMEOUT) -> Any:
    """An authenticated openstacksdk Connection, or ConfigError / CloudUnreachable."""
    import keystoneauth1.exceptions as ksa  # noqa: PLC0415
    import openstack.connection  # noqa: PLC0415
    import openstack.exceptions as sdk_exc  # noqa: PLC0415

    region = cloud_region(options, api_timeout=api_timeout)
    with sdk_config_errors():
        conn = openstack.connection.Connection(config=region)

    try:
        conn.authorize()
    except sdk_exc.SDKException as exc:
        raise CloudUnreachable(f"Keystone: {_one_line(str(exc))}") from None
    except ksa.ClientException as exc:
        raise CloudUnreachable(f"Keystone: {_one_line(str(exc))}") from None

    try:
        resp = conn.image.get("/images", params={"limit": 1}, raise_exc=False)
    except (ksa.ClientException, sdk_exc.SDKException) as exc:
        raise CloudUnreachable(f"Glance: {_one_line(str(exc))}") from None
    if resp.status_code != 200:
        raise CloudUnreachable(f"Glance: GET /v2/images answered HTTP {resp.status_code}")
    return conn


def _one_line(text: str, limit: int = 300) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def response_text(resp: Any) -> str:
    """The useful part of an error body (Glance answers JSON or a small HTML page)."""
    try:
        body = resp.text
    except Exception:  # noqa: BLE001 - a body we cannot read is just not shown
        return ""
    with contextlib.suppress(ValueError):
        data = resp.json()
        if isinstance(data, dict):
            err = data.get("error") or data
            if isinstance(err, dict) and "message" in err:
                return _one_line(str(err["message"]))
    body = re.sub(r"<title>.*?</title>", " ", body, flags=re.S | re.I)
    return _one_line(html.unescape(re.sub(r"<[^>]+>", " ", body)))


def status_text(method: str, path: str, resp: Any) -> str:
    """``PUT /v2/images/ID/file: HTTP 413 Image exceeds the storage quota: ...``."""
    detail = response_text(resp)
    # Glance's HTML error pages repeat the status in their heading ("500 Internal
    # Server Error"): said once.
    detail = detail.removeprefix(f"{resp.status_code} ")
    return f"{method} /v2{path}: HTTP {resp.status_code}" + (f" {detail}" if detail else "")


class GlanceApi:
    """Glance image API v2 calls as one user. Unexpected HTTP status -> CheckFailed."""

    def __init__(self, conn: Any, endpoint: str | None = None) -> None:
        """``endpoint``: talk to this Image API URL (e.g. one glance-api node's
        ``http://10.0.0.21:9292/v2``) with the same token, instead of the catalog's."""
        self._image = conn.image
        self._endpoint = endpoint.rstrip("/") if endpoint else None

    def _request(self, path: str, method: str, **kwargs: Any) -> Any:
        if self._endpoint is None:
            return self._image.request(path, method, **kwargs)
        import keystoneauth1.exceptions as ksa  # noqa: PLC0415

        # An absolute URL: keystoneauth sends it there, with the token, past the catalog.
        url = f"{self._endpoint}{path}"
        try:
            return self._image.request(url, method, **kwargs)
        except ksa.ConnectionError as exc:
            raise CheckFailed(f"{method} {url}: no answer: {_one_line(str(exc))}") from None

    def _call(self, method: str, path: str, expect: Iterable[int], **kwargs: Any) -> Any:
        kwargs.setdefault("raise_exc", False)
        resp = self._request(path, method, **kwargs)
        if resp.status_code not in tuple(expect):
            where = f" at {self._endpoint}" if self._endpoint else ""
            raise CheckFailed(status_text(method, path, resp) + where)
        return resp

    def header(self, path: str, name: str) -> str | None:
        """GET ``path`` (expecting 200): the value of the response header ``name``, if any."""
        value = self._call("GET", path, (200,)).headers.get(name)
        return None if value is None else str(value)

    def versions(self) -> list[dict[str, Any]]:
        """The API versions Glance serves (``GET /versions`` at the endpoint's root)."""
        root = str(self._image.get_endpoint()).rstrip("/")
        root = root[: -len("/v2")] if root.endswith("/v2") else root
        resp = self._image.request(f"{root}/versions", "GET", raise_exc=False)
        if resp.status_code not in (200, 300):
            raise CheckFailed(f"GET {root}/versions: HTTP {resp.status_code} {response_text(resp)}")
        versions: list[dict[str, Any]] = resp.json().get("versions", [])
        return versions

    def create_image(self, **attrs: Any) -> dict[str, Any]:
        image: dict[str, Any] = self._call("POST", "/images", (201,), json=attrs).json()
        return image

    def get_image(self, image_id: str) -> dict[str, Any] | None:
        resp = self._call("GET", f"/images/{image_id}", (200, 404))
        if resp.status_code == 404:
            return None
        image: dict[str, Any] = resp.json()
        return image

    def list_images(self, **query: Any) -> list[dict[str, Any]]:
        """Every image visible to this user matching ``query``, following pagination."""
        params = dict(query)
        params.setdefault("limit", 100)
        found: list[dict[str, Any]] = []
        while True:
            page = self._call("GET", "/images", (200,), params=params).json()
            images = page.get("images", [])
            found.extend(images)
            if not images or "next" not in page:
                return found
            params["marker"] = images[-1]["id"]

    def update_image(self, image_id: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
        headers = {"Content-Type": PATCH_CONTENT_TYPE}
        resp = self._call("PATCH", f"/images/{image_id}", (200,), json=ops, headers=headers)
        image: dict[str, Any] = resp.json()
        return image

    def set_attributes(self, image_id: str, **attrs: Any) -> dict[str, Any]:
        ops = [{"op": "replace", "path": f"/{k}", "value": v} for k, v in attrs.items()]
        return self.update_image(image_id, ops)

    def upload(self, image_id: str, body: Iterable[bytes], store: str | None = None) -> None:
        """PUT the image data. ``body`` is streamed (send it with a len() for Content-Length)."""
        status, text = self.try_upload(image_id, body, store)
        if status != 204:
            raise CheckFailed(text)

    def try_upload(
        self, image_id: str, body: Iterable[bytes], store: str | None = None
    ) -> tuple[int, str]:
        """PUT the image data and return (HTTP status, a line saying what came back).

        Status 0: no answer, the connection broke while sending. A body with a len() is
        sent with a Content-Length, any other iterable in chunked transfer encoding.
        """
        import keystoneauth1.exceptions as ksa  # noqa: PLC0415

        headers = {"Content-Type": "application/octet-stream"}
        if store:
            headers["X-Image-Meta-Store"] = store
        path = f"/images/{image_id}/file"
        try:
            resp = self._image.request(
                path, "PUT", data=body, headers=headers, raise_exc=False, **SEND_BODY_ONCE
            )
        except ksa.ConnectionError as exc:
            return 0, f"PUT /v2{path}: no answer, the connection broke: {_one_line(str(exc))}"
        return int(resp.status_code), status_text("PUT", path, resp)

    @contextlib.contextmanager
    def download(self, image_id: str) -> Iterator[Any]:
        """The streamed response of GET /file (status 200), closed on exit."""
        resp = self._call("GET", f"/images/{image_id}/file", (200,), stream=True)
        try:
            yield resp
        finally:
            resp.close()

    def download_status(self, image_id: str) -> int:
        """Try to download: only the HTTP status matters, at most one chunk is read."""
        resp = self._request(f"/images/{image_id}/file", "GET", raise_exc=False, stream=True)
        try:
            if resp.status_code == 200:
                next(resp.iter_content(64 * 1024), b"")
            return int(resp.status_code)
        finally:
            resp.close()

    def deactivate(self, image_id: str) -> None:
        self._call("POST", f"/images/{image_id}/actions/deactivate", (204,))

    def reactivate(self, image_id: str) -> None:
        self._call("POST", f"/images/{image_id}/actions/reactivate", (204,))

    def add_member(self, image_id: str, project_id: str) -> dict[str, Any]:
        member: dict[str, Any] = self._call(
            "POST", f"/images/{image_id}/members", (200,), json={"member": project_id}
        ).json()
        return member

    def set_member_status(self, image_id: str, project_id: str, status: str) -> dict[str, Any]:
        member: dict[str, Any] = self._call(
            "PUT", f"/images/{image_id}/members/{project_id}", (200,), json={"status": status}
        ).json()
        return member

    def get_member(self, image_id: str, project_id: str) -> dict[str, Any] | None:
        """The membership, or None (no such member, or the image is not shared any more)."""
        resp = self._call("GET", f"/images/{image_id}/members/{project_id}", (200, 403, 404))
        if resp.status_code != 200:
            return None
        member: dict[str, Any] = resp.json()
        return member

    def delete_member(self, image_id: str, project_id: str, missing_ok: bool = False) -> None:
        expect = (204, 404) if missing_ok else (204,)
        self._call("DELETE", f"/images/{image_id}/members/{project_id}", expect)

    def delete_image(self, image_id: str, missing_ok: bool = False) -> bool:
        """Delete; True if this call deleted it, False if it was already gone (missing_ok)."""
        expect = (204, 404) if missing_ok else (204,)
        return bool(self._call("DELETE", f"/images/{image_id}", expect).status_code == 204)

    def import_methods(self) -> list[str]:
        """``GET /v2/info/import``: the import methods Glance offers."""
        info = self._call("GET", "/info/import", (200,)).json()
        methods = (info.get("import-methods") or {}).get("value") or []
        return [str(m) for m in methods]

    def stage(self, image_id: str, body: Iterable[bytes]) -> None:
        """``PUT /v2/images/ID/stage``: the data into the staging area (glance-direct)."""
        headers = {"Content-Type": "application/octet-stream"}
        self._call(
            "PUT", f"/images/{image_id}/stage", (204,), data=body, headers=headers,
            **SEND_BODY_ONCE,
        )  # fmt: skip

    def try_import(
        self, image_id: str, method: dict[str, Any], stores: list[str] | None = None
    ) -> tuple[int, str]:
        """``POST /v2/images/ID/import`` with ``{"method": method}`` (and ``"stores"``, the
        stores to import or copy to): (HTTP status, a line saying what came back). Glance
        answers 202 when it takes the import on."""
        path = f"/images/{image_id}/import"
        body: dict[str, Any] = {"method": method}
        if stores is not None:
            body["stores"] = stores
        resp = self._image.request(path, "POST", json=body, raise_exc=False)
        return int(resp.status_code), status_text("POST", path, resp)

    def metadef_namespaces(self, **query: Any) -> list[dict[str, Any]]:
        """Every metadata definitions namespace this user sees (``GET
        /v2/metadefs/namespaces``, following pagination; ``query``: e.g. resource_types)."""
        params = {"limit": 100, **query}
        found: list[dict[str, Any]] = []
        while True:
            page = self._call("GET", "/metadefs/namespaces", (200,), params=params).json()
            namespaces = page.get("namespaces", [])
            found.extend(namespaces)
            if not namespaces or "next" not in page:
                return found
            params["marker"] = namespaces[-1]["namespace"]

    def metadef_namespace(self, name: str) -> dict[str, Any] | None:
        """One namespace with its resource type associations, properties and objects;
        None if Glance answers 404."""
        resp = self._call("GET", f"/metadefs/namespaces/{name}", (200, 404))
        if resp.status_code == 404:
            return None
        namespace: dict[str, Any] = resp.json()
        return namespace

    def create_metadef_namespace(self, **attrs: Any) -> dict[str, Any]:
        namespace: dict[str, Any] = self._call(
            "POST", "/metadefs/namespaces", (201,), json=attrs
        ).json()
        return namespace

    def add_metadef_property(self, namespace: str, **attrs: Any) -> dict[str, Any]:
        path = f"/metadefs/namespaces/{namespace}/properties"
        prop: dict[str, Any] = self._call("POST", path, (201,), json=attrs).json()
        return prop

    def associate_metadef_resource_type(self, namespace: str, **attrs: Any) -> dict[str, Any]:
        path = f"/metadefs/namespaces/{namespace}/resource_types"
        assoc: dict[str, Any] = self._call("POST", path, (201,), json=attrs).json()
        return assoc

    def delete_metadef_namespace(self, name: str, missing_ok: bool = False) -> None:
        self._call("DELETE", f"/metadefs/namespaces/{name}", (204, 404) if missing_ok else (204,))

    def image_tasks(self, image_id: str) -> list[dict[str, Any]]:
        """``GET /v2/images/ID/tasks`` (Image API 2.12+): the image's import tasks."""
        resp = self._call("GET", f"/images/{image_id}/tasks", (200, 404))
        if resp.status_code == 404:
            return []
        tasks: list[dict[str, Any]] = resp.json().get("tasks", [])
        return tasks

    def usage(self) -> dict[str, Any]:
        """GET /v2/info/usage: the project's unified limits and usage (Glance Yoga+)."""
        resp = self._image.request("/info/usage", "GET", raise_exc=False)
        if resp.status_code == 404:
            raise CheckFailed(
                "GET /v2/info/usage: 404, this Glance has no usage API (it came in Yoga)"
            )
        if resp.status_code != 200:
            raise CheckFailed(status_text("GET", "/info/usage", resp))
        answer: dict[str, Any] = resp.json()
        return answer

    def stores(self) -> list[str] | None:
        """Store ids of a multi-store Glance, or None when multiple stores are not enabled."""
        info = self.store_info()
        return None if info is None else [str(s["id"]) for s in info]

    def store_info(self, detail: bool = False) -> list[dict[str, Any]] | None:
        """``GET /v2/info/stores`` (or ``/detail``, admin only): one dict per store, e.g.
        ``{"id": "fast", "default": "true", "type": "file", "properties": {"data_dir": ..}}``.

        None when Glance has no enabled_backends (it answers 404).
        """
        path = "/info/stores/detail" if detail else "/info/stores"
        resp = self._call("GET", path, (200, 404))
        if resp.status_code == 404:
            return None
        stores: list[dict[str, Any]] = resp.json().get("stores", [])
        return stores

    def add_location(self, image_id: str, url: str) -> dict[str, Any]:
        """Append a location (JSON patch ``add /locations/-``); Glance's answer is the image."""
        value = {"url": url, "metadata": {}}
        return self.update_image(image_id, [{"op": "add", "path": "/locations/-", "value": value}])

    def cached_images(self, path: str) -> list[dict[str, Any]] | None:
        """The cache listing at ``/cache`` (Image API 2.14+) or ``/cached_images`` (the
        cachemanage middleware): its ``cached_images`` records; None if Glance answers 404."""
        resp = self._call("GET", path, (200, 404))
        if resp.status_code == 404:
            return None
        images: list[dict[str, Any]] = resp.json().get("cached_images", [])
        return images

    def uncache_image(self, path: str, image_id: str) -> None:
        """Remove an image from the cache: 204 on ``/cache/ID``, 200 on ``/cached_images/ID``."""
        self._call("DELETE", f"{path}/{image_id}", (200, 204))


def hash_download(
    api: GlanceApi, image_id: str, algo: str, progress: ProgressCallback | None = None
) -> tuple[Digests, str | None]:
    """Stream GET /file through the hashers: its digests, and its Content-MD5 header.

    glance-verify's steps and glance-ledger's check both download this way.
    """
    with api.download(image_id) as resp:
        chunks = resp.iter_content(DOWNLOAD_CHUNK_SIZE)
        got = hash_chunks(chunks, algo, progress=progress)
        return got, resp.headers.get("Content-MD5")


@dataclass
class TempUser:
    """A temporary project with one user holding a role on it."""

    name: str
    project_id: str
    user_id: str
    password: str = field(repr=False)
    #: Glance as this user.
    api: GlanceApi = field(repr=False)


def admin_domain_id(admin: Any) -> str:
    """The domain of the admin's project: temporary projects and users go there."""
    project = admin.identity.get_project(admin.current_project_id)
    return str(project.domain_id)


def user_connection(admin: Any, *, user_id: str, password: str, project_id: str) -> Any:
    """A Connection as another (password) user, with every other setting of the admin's."""
    import openstack.config  # noqa: PLC0415
    import openstack.connection  # noqa: PLC0415

    params = copy.deepcopy(admin.config.config)
    params.pop("profile", None)
    # The admin's cloud name (from --os-cloud) would make get_one look it up in a
    # clouds.yaml this config does not load: the settings are all here already.
    params.pop("cloud", None)
    auth_url = params.get("auth", {}).get("auth_url") or admin.session.auth.auth_url
    params["auth_type"] = "password"
    params["auth"] = {
        "auth_url": auth_url,
        "user_id": user_id,
        "password": password,
        "project_id": project_id,
    }
    config = openstack.config.OpenStackConfig(load_yaml_config=False, load_envvars=False)
    region = config.get_one(**params)
    return openstack.connection.Connection(config=region)


def create_temp_user(
    admin: Any,
    name: str,
    domain_id: str,
    role: str,
    push_cleanup: Any,
    on_password: Any = None,
) -> TempUser:
    """Project ``name`` + user ``name`` with ``role`` on it; undo registered at each step.

    ``on_password`` (optional) gets the generated password before it is first sent.
    """
    import openstack.exceptions as sdk_exc  # noqa: PLC0415

    identity = admin.identity
    try:
        role_obj = identity.find_role(role, ignore_missing=False)
    except sdk_exc.NotFoundException:
        raise ConfigError(f"--member-role {role}: Keystone has no such role") from None
    project = identity.create_project(
        name=name, domain_id=domain_id, description="temporary, made by glance-verify"
    )
    push_cleanup(
        f"delete project {name}",
        lambda: identity.delete_project(project.id, ignore_missing=True),
    )
    password = secrets.token_urlsafe(24)
    if on_password is not None:
        on_password(password)
    user = identity.create_user(
        name=name, domain_id=domain_id, password=password, default_project_id=project.id
    )
    push_cleanup(
        f"delete user {name}",
        lambda: identity.delete_user(user.id, ignore_missing=True),
    )
    identity.assign_project_role_to_user(project.id, user.id, role_obj.id)
    conn = user_connection(admin, user_id=user.id, password=password, project_id=project.id)
    return TempUser(name, str(project.id), str(user.id), password, GlanceApi(conn))


#: States an image passes through on its way to active.
TRANSIENT = frozenset({"queued", "saving", "importing", "uploading"})
POLL_INTERVAL = 0.5
T = TypeVar("T")


def wait_for_status(api: GlanceApi, image_id: str, want: str, timeout: float) -> dict[str, Any]:
    """Poll until the image leaves the transient states; CheckFailed unless it reaches ``want``."""
    deadline = time.monotonic() + timeout
    while True:
        image = api.get_image(image_id)
        if image is None:
            raise CheckFailed(f"image {image_id} disappeared (GET answers 404)")
        status = image.get("status")
        if status == want:
            return image
        if status not in TRANSIENT:
            raise CheckFailed(mismatch("status", want, status))
        if time.monotonic() >= deadline:
            raise CheckFailed(f"status still {status} after {timeout:g}s (--timeout)")
        time.sleep(POLL_INTERVAL)


def poll(fetch: Callable[[], T], done: Callable[[T], bool], wait: float) -> tuple[bool, T]:
    """Call ``fetch`` until ``done`` holds for its value or ``wait`` seconds have passed."""
    deadline = time.monotonic() + wait
    while True:
        value = fetch()
        if done(value):
            return True, value
        if time.monotonic() >= deadline:
            return False, value
        time.sleep(POLL_INTERVAL)
