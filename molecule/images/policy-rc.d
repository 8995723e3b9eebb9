#!/bin/sh
# Mirror of the Debian 12 lab machines: installing a package never starts its
# daemon, so the roles must start (and enable) their services themselves.
exit 101
