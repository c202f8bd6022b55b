"""Where snapshots go: file:// and s3:// URLs, and the S3 settings to reach a bucket."""

import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

from subkube.errors import SubkubeError

DEFAULT_REGION = "us-east-1"
_USAGE = "use file:///path/name.tar.gz or s3://bucket/key (a trailing / names a directory)"


@dataclass(frozen=True)
class Location:
    scheme: Literal["file", "s3"]
    # file: an absolute path; s3: the object key (no leading /).
    path: str
    bucket: str = ""

    @property
    def is_prefix(self) -> bool:
        """A directory or key prefix, where snapshots get names of their own."""
        return self.path == "" or self.path.endswith("/")

    def child(self, name: str) -> "Location":
        return replace(self, path=self.path + name)

    def __str__(self) -> str:
        if self.scheme == "file":
            return f"file://{self.path}"
        return f"s3://{self.bucket}/{self.path}"


def parse(url: str) -> Location:
    """A snapshot URL; anything else is one line saying what is accepted."""
    parts = urllib.parse.urlsplit(url)
    if parts.query or parts.fragment:
        raise SubkubeError(f"snapshot URL {url!r} has a query or fragment; {_USAGE}")
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise SubkubeError(
                f"{url!r} is not a local path: file URLs have three slashes and an absolute "
                "path, file:///dir/name.tar.gz"
            )
        path = urllib.parse.unquote(parts.path)
        if path == "/":
            raise SubkubeError(f"{url!r} names the root directory; pick a directory for snapshots")
        return Location("file", path)
    if parts.scheme == "s3":
        if not parts.netloc:
            raise SubkubeError(f"{url!r} names no bucket; {_USAGE}")
        return Location("s3", urllib.parse.unquote(parts.path.removeprefix("/")), parts.netloc)
    shown = f"scheme {parts.scheme}://" if parts.scheme else "no scheme"
    raise SubkubeError(f"snapshot URL {url!r} has {shown}; {_USAGE}")


@dataclass(frozen=True)
class S3Settings:
    """What the user gave explicitly; anything empty comes from the environment and the AWS
    config files as the AWS CLI reads them."""

    endpoint: str = ""
    region: str = ""
    access_key: str = ""
    secret_key: str = ""
    profile: str = ""


def endpoint_of(settings: S3Settings, env: Mapping[str, str]) -> str:
    """The S3 endpoint: explicit, else AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL (unless
    AWS_IGNORE_CONFIGURED_ENDPOINT_URLS); "" means AWS's own (or the profile's)."""
    if settings.endpoint:
        return settings.endpoint
    if env.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() == "true":
        return ""
    return env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or ""


def region_of(settings: S3Settings, env: Mapping[str, str], profile_region: str | None) -> str:
    """Explicit, else AWS_REGION, else AWS_DEFAULT_REGION, else the profile's, else us-east-1
    (the AWS CLI v2's order; S3-compatible servers mostly accept any region)."""
    return (
        settings.region
        or env.get("AWS_REGION")
        or env.get("AWS_DEFAULT_REGION")
        or profile_region
        or DEFAULT_REGION
    )
