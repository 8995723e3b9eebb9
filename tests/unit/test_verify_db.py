"""DB URL parsing and password masking; the progress bar."""

from __future__ import annotations

import io

import pytest

from glance_verify.db import mask_url, parse_db_url
from glance_verify.errors import ConfigError
from glance_verify.progress import ProgressBar, human_bytes, render


def test_parse_db_url_like_glance_api_conf() -> None:
    url = parse_db_url("mysql+pymysql://glance:p%40ss%2Fword@controller/glance")
    assert (url.user, url.password, url.host, url.port, url.database) == (
        "glance",
        "p@ss/word",
        "controller",
        3306,
        "glance",
    )


def test_parse_db_url_port_and_plain_mysql() -> None:
    url = parse_db_url("mysql://glance:x@127.0.0.1:3307/glance?charset=utf8")
    assert (url.host, url.port, url.database) == ("127.0.0.1", 3307, "glance")


def test_password_never_in_repr_or_str() -> None:
    url = parse_db_url("mysql+pymysql://glance:TopSecret@db/glance")
    assert "TopSecret" not in repr(url)
    assert "TopSecret" not in str(url)
    assert str(url) == "mysql+pymysql://glance:***@db:3306/glance"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://glance:x@db/glance",
        "mysql+pymysql://db/glance",
        "mysql+pymysql://glance:x@db/",
        "mysql+pymysql://glance:x@db:99999/glance",
        "mysql+pymysql://glance:x@db/a/b",
    ],
)
def test_parse_db_url_rejects(url: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_db_url(url)
    assert ":x@" not in str(exc.value)


def test_mask_url() -> None:
    text = "cannot use mysql+pymysql://glance:Se:cr3t@db/glance or http://u:p@h/"
    assert mask_url(text) == "cannot use mysql+pymysql://glance:***@db/glance or http://u:***@h/"
    assert mask_url("http://h:5000/v3") == "http://h:5000/v3"


def test_progress_bar_silent_when_not_a_tty() -> None:
    stream = io.StringIO()
    bar = ProgressBar("upload", 100, stream=stream)
    bar(50)
    bar(50)
    bar.close()
    assert stream.getvalue() == ""
    assert bar.done == 100


def test_progress_bar_draws_when_enabled() -> None:
    stream = io.StringIO()
    with ProgressBar("upload", 2 * 1024 * 1024, stream=stream, enabled=True) as bar:
        bar(2 * 1024 * 1024)
    text = stream.getvalue()
    assert "100%" in text and "2.0 MiB/2.0 MiB" in text
    assert text.endswith("\r\033[K")


def test_render_and_human_bytes() -> None:
    assert human_bytes(512) == "512 B"
    assert human_bytes(1536) == "1.5 KiB"
    line = render("upload", 50, 100, 1.0)
    assert "[" + "#" * 15 + "-" * 15 + "]" in line and " 50%" in line
