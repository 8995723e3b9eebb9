"""How glance-verify words an unexpected HTTP answer (glance_verify.cloud)."""

from __future__ import annotations

from glance_verify.cloud import status_text


class _Resp:
    def __init__(self, status_code: int, text: str, json_body: object = None) -> None:
        self.status_code, self.text, self._json = status_code, text, json_body

    def json(self) -> object:
        if self._json is None:
            raise ValueError("not JSON")
        return self._json


def test_status_text_says_the_status_once() -> None:
    page = (
        "<html><head><title>500 Internal Server Error</title></head><body>"
        "<h1>500 Internal Server Error</h1>The server has either erred or is incapable "
        "of performing the requested operation.<br /><br /></body></html>"
    )
    assert status_text("DELETE", "/images/X", _Resp(500, page)) == (
        "DELETE /v2/images/X: HTTP 500 Internal Server Error The server has either erred "
        "or is incapable of performing the requested operation."
    )
    quota = {"error": {"message": "Image exceeds the storage quota"}}
    assert status_text("PUT", "/images/X/file", _Resp(413, "{}", quota)) == (
        "PUT /v2/images/X/file: HTTP 413 Image exceeds the storage quota"
    )
