"""glance-verify: prove that an OpenStack Glance install works, end to end."""

__version__ = "0.1.0"
