"""S3 rules of the sandbox: each refused call answers AWS's error code and changes nothing."""

from __future__ import annotations

from ecsfleet.sandbox import Sandbox
from rules_support import refused


def _buckets(sb: Sandbox) -> list[str]:
    return [b["Name"] for b in sb.client("s3").list_buckets()["Buckets"]]


def test_bucket_must_exist(sb: Sandbox) -> None:
    s3 = sb.client("s3")
    error = refused(s3.get_object, "NoSuchBucket", 404, Bucket="ops", Key="lbsync.yml")
    assert error["Message"] == "The specified bucket does not exist"
    refused(s3.put_object, "NoSuchBucket", 404, Bucket="ops", Key="lbsync.yml", Body=b"x")
    s3.create_bucket(Bucket="ops")
    s3.put_object(Bucket="ops", Key="lbsync.yml", Body=b"x")


def test_key_must_exist(sb: Sandbox) -> None:
    s3 = sb.client("s3")
    s3.create_bucket(Bucket="ops")
    error = refused(s3.get_object, "NoSuchKey", 404, Bucket="ops", Key="lbsync.yml")
    assert error["Message"] == "The specified key does not exist."
    s3.put_object(Bucket="ops", Key="lbsync.yml", Body=b"x")
    assert s3.get_object(Bucket="ops", Key="lbsync.yml")["Body"].read() == b"x"


def test_bucket_name_rules(sb: Sandbox) -> None:
    s3 = sb.client("s3")
    for name in ("Ops", "ops_config", "ab", "o" * 64, "-ops", "ops-", "ops..config", "192.168.1.1",
                 "xn--ops", "ops-s3alias"):
        refused(s3.create_bucket, "InvalidBucketName", 400, Bucket=name)
    assert _buckets(sb) == []
    s3.create_bucket(Bucket="ops.config-1")


def test_bucket_location_matches_the_region(sb: Sandbox) -> None:
    s3 = sb.client("s3", region_name="eu-west-1")
    refused(s3.create_bucket, "IllegalLocationConstraintException", 400, Bucket="ops")
    refused(s3.create_bucket, "IllegalLocationConstraintException", 400, Bucket="ops",
            CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    assert _buckets(sb) == []
    s3.create_bucket(Bucket="ops", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})


def test_bucket_already_owned_by_you(sb: Sandbox) -> None:
    s3 = sb.client("s3", region_name="eu-west-1")
    config = {"LocationConstraint": "eu-west-1"}
    s3.create_bucket(Bucket="ops", CreateBucketConfiguration=config)
    refused(s3.create_bucket, "BucketAlreadyOwnedByYou", 409, Bucket="ops", CreateBucketConfiguration=config)
    sb.client("s3").create_bucket(Bucket="legacy")
    sb.client("s3").create_bucket(Bucket="legacy")  # us-east-1 answers 200 and changes nothing
    assert sorted(_buckets(sb)) == ["legacy", "ops"]
