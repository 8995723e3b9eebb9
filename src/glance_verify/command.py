"""What glance-verify and glance-ledger share on the command line: the exit codes, the
parser that turns usage errors into ConfigError, the cloud options (openstacksdk's own
``--os-*`` options, as the openstack client has them), the rule for name prefixes, and
the one place that turns the verifier's errors into exit codes and messages."""

from __future__ import annotations

import argparse
import os
import re
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from glance_verify.cloud import sdk_config_errors
from glance_verify.console import Console
from glance_verify.db import mask_url
from glance_verify.errors import CloudUnreachable, ConfigError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3

#: Names the tools create start with this: 1 to 40 letters, digits, '.', '_', '-'.
NAME_PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
#: The namespace attribute that lists the SDK's option destinations (see cloud_options).
_CLOUD_DESTS = "cloud_option_dests"

AUTH_HELP = """\
authentication: --os-cloud NAME (clouds.yaml, found as openstack tools find it,
  or named by OS_CLIENT_CONFIG_FILE), else the OS_* environment variables
  (OS_CLOUD, or OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME, ...),
  and the openstack client's options: --os-auth-url, --os-username, ...,
  --os-region-name, --os-interface, --os-cacert, --insecure."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are ConfigError (exit 2, one message).

    Its options may replace the SDK's of the same name (``--timeout``): the command's
    own, registered after the SDK's, win (conflict_handler ``resolve``).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("conflict_handler", "resolve")
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise ConfigError(f"{message} (see --help)")


def add_cloud_options(
    parser: argparse.ArgumentParser, argv: Sequence[str], *, own_timeout: bool = False
) -> None:
    """openstacksdk's options (``--os-cloud``, ``--os-auth-url``, ..., ``--os-region-name``,
    ``--os-interface``, ``--os-cacert``, ``--insecure``), and ``--debug``.

    Registered by the SDK itself (``OpenStackConfig.register_argparse_arguments``), which
    reads ``argv`` ahead for ``--os-auth-type`` to offer that auth plugin's options. It
    is not given clouds.yaml or the environment here: those are read once, when
    connecting, so that parsing never fails on them. An option not given is left out of
    the namespace (not set to the SDK's default), so that it does not hide clouds.yaml's
    value. With ``own_timeout`` the command has a ``--timeout`` of its own (registered
    after this call, it replaces the SDK's).
    """
    import openstack.config  # noqa: PLC0415 - the SDK is slow to import; only when needed

    before = {id(action) for action in parser._actions}
    # The read-ahead builds a throw-away CloudRegion, whose deprecation notes (about
    # features this tool does not use) would only clutter the output.
    with sdk_config_errors(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        openstack.config.OpenStackConfig(
            load_yaml_config=False, load_envvars=False
        ).register_argparse_arguments(parser, _without_cloud(argv), ["image"])
    dests = set()
    for action in parser._actions:
        if id(action) not in before and action.dest != "help":
            action.default = argparse.SUPPRESS
            dests.add(action.dest)
    if own_timeout:
        dests.discard("timeout")
    parser.set_defaults(**{_CLOUD_DESTS: tuple(sorted(dests))})
    parser.add_argument("--debug", action="store_true", help="log the SDK's HTTP requests")


def _without_cloud(argv: Sequence[str]) -> list[str]:
    """``argv`` less ``--os-cloud NAME``: the SDK's read-ahead would look the cloud up (and
    fail on an unknown one) while the parser is being built; connect does that."""
    out: list[str] = []
    skip_next = False
    for arg in argv:
        if skip_next:
            skip_next = False
        elif arg == "--os-cloud":
            skip_next = True
        elif not arg.startswith("--os-cloud="):
            out.append(arg)
    return out


def cloud_options(args: argparse.Namespace) -> argparse.Namespace:
    """The SDK's options as given on the command line, for ``cloud.connect``."""
    dests = getattr(args, _CLOUD_DESTS, ())
    return argparse.Namespace(**{d: getattr(args, d) for d in dests if hasattr(args, d)})


def cloud_name(args: argparse.Namespace) -> str | None:
    """The cloud the run talks to, for the reports: --os-cloud, else $OS_CLOUD."""
    name = getattr(args, "os_cloud", None) or os.environ.get("OS_CLOUD")
    return str(name) if name else None


def check_name_prefix(flag: str, prefix: str) -> str:
    """The prefix of every name a run creates, checked; ConfigError naming ``flag``."""
    if not NAME_PREFIX.match(prefix):
        raise ConfigError(f"{flag} {prefix!r}: use up to 40 letters, digits, '.', '_', '-'")
    return prefix


def check_timeout(seconds: float) -> float:
    if seconds <= 0:
        raise ConfigError("--timeout must be a positive number of seconds")
    return seconds


def run_command(
    console: Console, run: Callable[[Console], int], *, interrupted: str = "interrupted"
) -> int:
    """Run a command's body; ConfigError exits 2, CloudUnreachable 3, Ctrl-C 1, each with
    one masked message on stderr."""
    try:
        return run(console)
    except ConfigError as exc:
        return fail(console, str(exc), EXIT_USAGE)
    except CloudUnreachable as exc:
        return fail(console, str(exc), EXIT_UNREACHABLE)
    except KeyboardInterrupt:
        return fail(console, interrupted, EXIT_FAILED)


def fail(console: Console, message: str, code: int) -> int:
    console.error(mask_url(message))
    return code


def default_argv(argv: Sequence[str] | None) -> list[str]:
    return list(sys.argv[1:] if argv is None else argv)
