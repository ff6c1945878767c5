"""The two bucket rules Coffer's S3 bucket needs, and the aws-cli commands
that set them by hand on a store whose API does not (docs/storage.md).

- CORS: browsers PUT upload parts straight to presigned URLs of the store and
  read each part's ``ETag``; the viewer fetches presigned GETs. Allowed for
  the portal's own origin (PORTAL_PUBLIC_URL) only.
- Lifecycle: ``AbortIncompleteMultipartUpload`` under the upload prefix, the
  second line of defence behind the upload sweep. Its age is the upload
  session's lifetime rounded up to days, plus a day, so it never aborts an
  upload a live session may still complete.
"""

from __future__ import annotations

import json
import math
import shlex
from urllib.parse import urlsplit

from django.conf import settings

CORS_RULE_ID = "coffer-browser"
LIFECYCLE_RULE_ID = "coffer-abort-stale-multipart"
# Upload sessions stage their objects here (portal.files.services.common.new_blob_key).
UPLOAD_PREFIX = "blobs/"


def portal_origin() -> str:
    """The scheme://host[:port] browsers load the portal from."""
    parts = urlsplit(settings.PUBLIC_URL)
    return f"{parts.scheme}://{parts.netloc}"


def abort_after_days() -> int:
    return math.ceil(settings.UPLOAD_SESSION_HOURS / 24) + 1


def cors_rule() -> dict:
    return {"ID": CORS_RULE_ID, "AllowedOrigins": [portal_origin()], "AllowedMethods": ["GET", "HEAD", "PUT"],
            "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 3600}


def lifecycle_rule() -> dict:
    return {"ID": LIFECYCLE_RULE_ID, "Status": "Enabled", "Filter": {"Prefix": UPLOAD_PREFIX},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": abort_after_days()}}


def _aws(endpoint_url: str | None, *words: str) -> str:
    endpoint = ["--endpoint-url", endpoint_url] if endpoint_url else []
    return shlex.join(["aws", *endpoint, "s3api", *words])


def cors_command(endpoint_url: str | None, bucket: str) -> str:
    """The aws-cli command that sets the CORS rule (it replaces the bucket's CORS configuration)."""
    return _aws(endpoint_url, "put-bucket-cors", "--bucket", bucket,
                "--cors-configuration", json.dumps({"CORSRules": [cors_rule()]}))


def lifecycle_command(endpoint_url: str | None, bucket: str) -> str:
    """The aws-cli command that sets the lifecycle rule (it replaces the bucket's lifecycle rules)."""
    return _aws(endpoint_url, "put-bucket-lifecycle-configuration", "--bucket", bucket,
                "--lifecycle-configuration", json.dumps({"Rules": [lifecycle_rule()]}))
