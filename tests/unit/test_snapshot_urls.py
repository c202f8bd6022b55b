"""Snapshot URLs, S3 settings from the environment, archive names and retention: pure."""

import datetime as dt
import subprocess
import sys

import pytest

from subkube.errors import SubkubeError
from subkube.snapshot.retention import archive_name, to_prune
from subkube.snapshot.urls import Location, S3Settings, endpoint_of, parse, region_of


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("file:///backups/vc.tar.gz", Location("file", "/backups/vc.tar.gz")),
        ("file://localhost/backups/", Location("file", "/backups/")),
        ("file:///with%20space/a.tar.gz", Location("file", "/with space/a.tar.gz")),
        ("s3://bucket/team/vc.tar.gz", Location("s3", "team/vc.tar.gz", "bucket")),
        ("s3://bucket", Location("s3", "", "bucket")),
        ("s3://bucket/", Location("s3", "", "bucket")),
        ("s3://bucket/prefix/", Location("s3", "prefix/", "bucket")),
    ],
)
def test_snapshot_urls_parse(url: str, expected: Location) -> None:
    assert parse(url) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("/backups/vc.tar.gz", "has no scheme; use file:///path/name.tar.gz or s3://bucket/key"),
        ("gs://bucket/key", "has scheme gs://; use file:///"),
        ("https://example.com/x.tar.gz", "has scheme https://"),
        ("file://backups/vc.tar.gz", "is not a local path: file URLs have three slashes"),
        ("file:///", "names the root directory"),
        ("s3:///key", "names no bucket"),
        ("s3://bucket/key?versionId=1", "has a query or fragment"),
    ],
)
def test_bad_snapshot_urls_are_one_line(url: str, message: str) -> None:
    with pytest.raises(SubkubeError) as info:
        parse(url)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_locations_name_children_and_print_as_urls() -> None:
    assert parse("s3://b/p/").is_prefix
    assert parse("s3://b").is_prefix
    assert not parse("s3://b/p/x.tar.gz").is_prefix
    assert str(parse("s3://b/p/").child("x.tar.gz")) == "s3://b/p/x.tar.gz"
    assert str(parse("s3://b").child("x.tar.gz")) == "s3://b/x.tar.gz"
    assert str(parse("file:///d/").child("x.tar.gz")) == "file:///d/x.tar.gz"


def test_endpoint_comes_from_flags_then_the_aws_cli_variables() -> None:
    env = {"AWS_ENDPOINT_URL": "http://all:1", "AWS_ENDPOINT_URL_S3": "http://s3:2"}
    assert endpoint_of(S3Settings(endpoint="http://flag:3"), env) == "http://flag:3"
    assert endpoint_of(S3Settings(), env) == "http://s3:2"
    assert endpoint_of(S3Settings(), {"AWS_ENDPOINT_URL": "http://all:1"}) == "http://all:1"
    assert endpoint_of(S3Settings(), {}) == ""
    ignored = {**env, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}
    assert endpoint_of(S3Settings(), ignored) == ""


def test_region_follows_the_aws_cli_order_and_defaults_to_us_east_1() -> None:
    env = {"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-central-1"}
    assert region_of(S3Settings(region="ap-south-1"), env, "x") == "ap-south-1"
    assert region_of(S3Settings(), env, "x") == "eu-west-1"
    assert region_of(S3Settings(), {"AWS_DEFAULT_REGION": "eu-central-1"}, "x") == "eu-central-1"
    assert region_of(S3Settings(), {}, "sa-east-1") == "sa-east-1"
    assert region_of(S3Settings(), {}, None) == "us-east-1"


def test_archive_names_carry_vcluster_namespace_and_utc_time() -> None:
    when = dt.datetime(2026, 3, 4, 5, 6, 7, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert archive_name("vc1", "team-a", when) == "vc1.team-a.20260304T030607Z.tar.gz"


def test_retention_prunes_only_this_vclusters_oldest() -> None:
    names = [
        "vc1.team-a.20260101T000000Z.tar.gz",
        "vc1.team-a.20260103T000000Z.tar.gz",
        "vc1.team-a.20260102T000000Z.tar.gz",
        "vc1.team-a.20260104T000000Z.tar.gz",
        # Another vcluster of the same name elsewhere, another vcluster, hand-made files.
        "vc1.team-b.20250101T000000Z.tar.gz",
        "vc10.team-a.20250101T000000Z.tar.gz",
        "vc1.team-a.manual.tar.gz",
        "notes.txt",
    ]
    assert to_prune(names, "vc1", "team-a", 2) == [
        "vc1.team-a.20260101T000000Z.tar.gz",
        "vc1.team-a.20260102T000000Z.tar.gz",
    ]
    assert to_prune(names, "vc1", "team-a", 4) == []
    assert to_prune(names, "vc1", "team-a", 10) == []


def test_boto3_is_imported_only_once_an_s3_destination_is_made() -> None:
    code = (
        "import sys, subkube.cli, subkube.runner.daemon\n"
        "from subkube.snapshot.transfer import Destination\n"
        "from subkube.snapshot.urls import S3Settings, parse\n"
        "before = 'boto3' in sys.modules\n"
        "Destination(parse('file:///tmp/x.tar.gz'))\n"
        "local = 'boto3' in sys.modules\n"
        "Destination(parse('s3://b/x.tar.gz'), S3Settings(access_key='a', secret_key='s'))\n"
        "print(before, local, 'boto3' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "True"]
