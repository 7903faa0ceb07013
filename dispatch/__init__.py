"""sanshe: community-service call centre backend."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sanshe-dispatch")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0"
