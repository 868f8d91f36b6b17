"""The sandbox's rules for S3: each a documented refusal of the API, checked before moto.

ecsfleet reads its configuration with GetObject (with If-None-Match); tests put the documents
there with CreateBucket and PutObject.
"""

from __future__ import annotations

import re
from typing import Any

from .base import Call, Refusal, Rule, param, rule

_API = "https://docs.aws.amazon.com/AmazonS3/latest/API/"
_GET = _API + "API_GetObject.html"
_CREATE = _API + "API_CreateBucket.html"
_NAMING = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html"

_BUCKET_OPS = ("GetObject", "PutObject", "DeleteObject", "ListObjects", "ListObjectsV2", "GetObjectTagging",
               "PutObjectTagging", "GetBucketVersioning", "PutBucketVersioning", "DeleteBucket")
_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_IP_ADDRESS = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}")
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
_LEGACY_REGION = "us-east-1"  # the one region where CreateBucket takes no LocationConstraint


def _buckets(call: Call) -> Any:
    """moto's buckets of the account."""
    return call.world.moto("s3").buckets


@rule("bucket_must_exist", "s3", _BUCKET_OPS,
      "The bucket an object or bucket operation names must exist (404 NoSuchBucket).", _GET)
def _bucket_must_exist(call: Call) -> Refusal | None:
    if param(call, "Bucket") in _buckets(call):
        return None
    return Refusal("NoSuchBucket", "The specified bucket does not exist", 404)


@rule("key_must_exist", "s3", "GetObject",
      "GetObject of a key the bucket does not hold is refused (404 NoSuchKey) when the caller may "
      "list the bucket.", _GET)
def _key_must_exist(call: Call) -> Refusal | None:
    bucket = _buckets(call).get(param(call, "Bucket"))
    if bucket is None or param(call, "VersionId") or param(call, "Key") in bucket.keys:
        return None  # a version, or a delete marker, is moto's to answer
    return Refusal("NoSuchKey", "The specified key does not exist.", 404)


@rule("bucket_name_rules", "s3", "CreateBucket",
      "A bucket name has 3 to 63 characters: lower-case letters, digits, dots and hyphens, starting "
      "and ending with a letter or digit; no two adjacent dots; not an IP address; none of S3's "
      "reserved prefixes and suffixes.", _NAMING)
def _bucket_name(call: Call) -> Refusal | None:
    name = str(param(call, "Bucket", default=""))
    if _NAME.fullmatch(name) and ".." not in name and not _IP_ADDRESS.fullmatch(name) \
            and not name.startswith(_RESERVED_PREFIXES) and not name.endswith(_RESERVED_SUFFIXES):
        return None
    return Refusal("InvalidBucketName", "The specified bucket is not valid.")


def _region_of(constraint: str) -> str:
    return "eu-west-1" if constraint == "EU" else constraint  # EU: the legacy name of Ireland


@rule("bucket_location_matches_the_region", "s3", "CreateBucket",
      "Outside us-east-1, CreateBucket names the endpoint's region as its LocationConstraint.", _CREATE)
def _location_matches(call: Call) -> Refusal | None:
    constraint = str(param(call, "CreateBucketConfiguration", "LocationConstraint", default=""))
    region = call.world.region
    if not constraint and region != _LEGACY_REGION:
        return Refusal("IllegalLocationConstraintException", "The unspecified location constraint is incompatible "
                       "for the region specific endpoint this request was sent to.")
    if constraint and _region_of(constraint) != region:
        return Refusal("IllegalLocationConstraintException", f"The {constraint} location constraint is "
                       "incompatible for the region specific endpoint this request was sent to.")
    return None


@rule("bucket_already_owned_by_you", "s3", "CreateBucket",
      "Creating a bucket the account already owns is refused (409 BucketAlreadyOwnedByYou), except "
      "in us-east-1, which answers 200 and changes nothing.", _CREATE)
def _already_owned(call: Call) -> Refusal | None:
    if call.world.region == _LEGACY_REGION or param(call, "Bucket") not in _buckets(call):
        return None
    return Refusal("BucketAlreadyOwnedByYou",
                   "Your previous request to create the named bucket succeeded and you already own it.", 409)


RULES: tuple[Rule, ...] = (
    _bucket_name,
    _location_matches,
    _already_owned,
    _bucket_must_exist,
    _key_must_exist,
)

# What the sandbox deliberately does not emulate for this service, and why (docs/sandbox-fidelity.md).
GAPS: tuple[str, ...] = (
    "Bucket names are global on AWS (BucketAlreadyExists when another account holds one); the sandbox "
    "has one account, so only BucketAlreadyOwnedByYou can arise.",
    "Without s3:ListBucket, AWS answers a missing key with 403 AccessDenied instead of 404 NoSuchKey; "
    "the sandbox does not evaluate IAM policies, so it always answers NoSuchKey.",
    "HEAD requests (HeadObject, HeadBucket) carry no error body; their 404s are moto's.",
)
