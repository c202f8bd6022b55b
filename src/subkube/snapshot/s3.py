"""S3 (or any S3-compatible store) through boto3; every failure is one line.

boto3 blocks: callers in an event loop run these methods with asyncio.to_thread.
"""

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions as bx
from boto3.exceptions import S3UploadFailedError
from botocore.config import Config as BotoConfig

from subkube.errors import SubkubeError
from subkube.snapshot.urls import Location, S3Settings, endpoint_of, region_of

_MISSING = ("NoSuchKey", "404", "NotFound")
_REFUSED = (
    "AccessDenied",
    "403",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidToken",
    "ExpiredToken",
)


class S3:
    def __init__(self, settings: S3Settings) -> None:
        if bool(settings.access_key) != bool(settings.secret_key):
            raise SubkubeError("S3 credentials need both an access key and a secret key")
        self.endpoint = endpoint_of(settings, os.environ)
        try:
            session = boto3.Session(
                aws_access_key_id=settings.access_key or None,
                aws_secret_access_key=settings.secret_key or None,
                profile_name=settings.profile or None,
            )
        except bx.ProfileNotFound as exc:
            raise SubkubeError(
                f"{exc}: name a profile of ~/.aws/config or unset AWS_PROFILE"
            ) from exc
        try:
            credentials = session.get_credentials()
        except bx.BotoCoreError as exc:
            raise SubkubeError(f"reading S3 credentials failed ({exc})") from exc
        if credentials is None:
            raise SubkubeError(
                "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or "
                "AWS_PROFILE), or give an access key and secret key"
            )
        # Custom endpoints (MinIO, versitygw, Ceph …) serve buckets as paths, rarely as
        # host names; few retries and short connect timeouts make an unreachable endpoint
        # one quick line instead of a minute of silence.
        config = BotoConfig(
            connect_timeout=5,
            read_timeout=60,
            retries={"max_attempts": 3, "mode": "standard"},
            **({"s3": {"addressing_style": "path"}} if self.endpoint else {}),
        )
        self.region = region_of(settings, os.environ, session.region_name)
        try:
            self.client: Any = session.client(
                "s3", endpoint_url=self.endpoint or None, region_name=self.region, config=config
            )
        except ValueError as exc:
            raise SubkubeError(f"S3 endpoint {self.endpoint!r} is not a URL ({exc})") from exc

    @property
    def where(self) -> str:
        return self.endpoint or "AWS S3"

    @contextlib.contextmanager
    def _errors(self, what: str, loc: Location) -> Iterator[None]:
        try:
            yield
        except S3UploadFailedError as exc:
            # boto3's managed upload wraps the ClientError it met in a message string.
            cause = exc.__context__
            if isinstance(cause, bx.ClientError):
                raise self._client_error(what, loc, cause) from exc
            raise SubkubeError(f"{what} {loc} failed ({exc})") from exc
        except bx.ClientError as exc:
            raise self._client_error(what, loc, exc) from exc
        except (bx.EndpointConnectionError, bx.ConnectTimeoutError, bx.ReadTimeoutError) as exc:
            raise SubkubeError(f"cannot reach the S3 endpoint {self.where} ({exc})") from exc
        except bx.NoCredentialsError as exc:
            raise SubkubeError(f"no S3 credentials for {loc} ({exc})") from exc
        except bx.BotoCoreError as exc:
            raise SubkubeError(f"{what} {loc} failed ({exc})") from exc

    def _client_error(self, what: str, loc: Location, exc: bx.ClientError) -> SubkubeError:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        message = error.get("Message") or code
        if code == "NoSuchBucket" or (code in _MISSING and not self._bucket_exists(loc.bucket)):
            return SubkubeError(f"bucket {loc.bucket} does not exist at {self.where}")
        if code in _MISSING:
            return SubkubeError(f"no snapshot at {loc}")
        if code in _REFUSED:
            return SubkubeError(f"S3 at {self.where} refused to {what} {loc} ({code}: {message})")
        if code == "400":
            # A HEAD request's error has no body; a region other than the server's is the
            # usual cause (S3-compatible servers rarely redirect as AWS does).
            return SubkubeError(
                f"{what} {loc} at {self.where} failed (400 Bad Request); is {self.region} the "
                "region of the bucket? (AWS_REGION, or the region option)"
            )
        return SubkubeError(f"{what} {loc} at {self.where} failed ({code}: {message})")

    def _bucket_exists(self, bucket: str) -> bool:
        """Whether a 404 meant the bucket (a HEAD request has no body to say which)."""
        try:
            self.client.head_bucket(Bucket=bucket)
        except bx.ClientError as exc:
            return str(exc.response.get("Error", {}).get("Code")) not in ("404", "NoSuchBucket")
        except bx.BotoCoreError:
            return True
        return True

    def upload(self, src: Path, loc: Location) -> None:
        with self._errors("upload to", loc):
            self.client.upload_file(str(src), loc.bucket, loc.path)

    def download(self, loc: Location, dest: Path) -> None:
        with self._errors("download", loc):
            self.client.download_file(loc.bucket, loc.path, str(dest))

    def list_keys(self, prefix: Location) -> list[str]:
        """Keys directly under PREFIX (not in deeper "directories")."""
        keys: list[str] = []
        with self._errors("list", prefix):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=prefix.bucket, Prefix=prefix.path, Delimiter="/"
            )
            for page in pages:
                keys += [obj["Key"] for obj in page.get("Contents", [])]
        return keys

    def delete(self, loc: Location) -> None:
        with self._errors("delete", loc):
            self.client.delete_object(Bucket=loc.bucket, Key=loc.path)
