"""The S3 backend: SeaweedFS in development, any S3-compatible store in production.

We talk to S3 through one boto3 client. django-storages' S3Storage is built
around Django's ``Storage`` API (names, ``save``/``open``) and offers nothing
for ranges, presigned part URLs or multipart completion, so it would only add
a layer between us and the calls we need.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import BinaryIO

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionError as BotoConnectionError
from botocore.exceptions import HTTPClientError, IncompleteReadError, NoCredentialsError
from botocore.parsers import DEFAULT_TIMESTAMP_PARSER
from django.utils.translation import gettext

from portal.core.errors import InvalidInput, PortalError, StorageUnavailable
from portal.storage import native
from portal.storage.base import (
    ObjectInfo, ObjectNotFound, ObjectStore, ObjectStream, Part, UploadNotFound, check_parts_complete,
    content_disposition, presign_lifetime, validate_key, validate_part_list, validate_part_number,
    validate_put_size, validate_window,
)

# Errors that mean "the store did not answer (in time)", also while streaming a body.
NETWORK_ERRORS = (BotoConnectionError, HTTPClientError, IncompleteReadError)
_NOT_FOUND = {"NoSuchKey", "NotFound", "404"}
_BAD_PARTS = {"InvalidPart", "InvalidPartOrder", "EntityTooSmall"}
_DENIED = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken"}
# Big enough to keep requests few, small enough that buffering a
# non-seekable stream (max_concurrency chunks) stays cheap.
_TRANSFER = TransferConfig(multipart_threshold=16 * 1024**2, multipart_chunksize=8 * 1024**2,
                           max_concurrency=4)


_CLIENT_LOCK = threading.Lock()


def _timestamp(value: str) -> datetime:
    """A time in an S3 answer. Listings give ISO 8601 ("2026-12-03T19:00:42.000Z"), which datetime
    parses over a hundred times faster than botocore's dateutil (a third of listing 20,000 objects' CPU);
    anything else (an HTTP date in a header, a time without its zone) as botocore would."""
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return DEFAULT_TIMESTAMP_PARSER(value)
    return parsed if parsed.tzinfo is not None else DEFAULT_TIMESTAMP_PARSER(value)


class _CountingReader:
    """Counts what upload_fileobj reads. Exposing only ``read`` also makes
    s3transfer stream the body instead of seeking around in it."""

    def __init__(self, fileobj: BinaryIO):
        self._fileobj = fileobj
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self._fileobj.read(size)
        self.count += len(data)
        return data


def _read_up_to(fileobj: BinaryIO, most: int) -> bytes:
    """Up to ``most`` bytes (fewer only at the end of the stream)."""
    chunks, got = [], 0
    while got < most:
        chunk = fileobj.read(most - got)
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


class _Prefixed:
    """``head`` (already read), then the rest of ``fileobj``."""

    def __init__(self, head: bytes, fileobj: BinaryIO):
        self._head, self._fileobj = memoryview(head), fileobj

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size is None or size < 0:
                data, self._head = bytes(self._head) + self._fileobj.read(), memoryview(b"")
                return data
            data, self._head = bytes(self._head[:size]), self._head[size:]
            return data
        return self._fileobj.read(size)


def _error_code(exc: ClientError) -> tuple[str, int]:
    return (exc.response.get("Error", {}).get("Code", ""),
            exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


class S3ObjectStore(ObjectStore):
    def __init__(self, endpoint_url: str, bucket: str, region: str, access_key: str, secret_key: str,
                 addressing_style: str = "path", *, connect_timeout: float = 3, read_timeout: float = 30,
                 attempts: int = 2, storage_class: str = ""):
        self.endpoint_url = endpoint_url or None  # None: AWS itself
        self.bucket = bucket
        self._credentials = {"aws_access_key_id": access_key or None,
                             "aws_secret_access_key": secret_key or None}
        # Short timeouts and one retry (``attempts`` counts the first try): an
        # outage should surface in seconds, not minutes.
        self._config = Config(
            region_name=region, signature_version="s3v4", s3={"addressing_style": addressing_style},
            connect_timeout=connect_timeout, read_timeout=read_timeout,
            retries={"mode": "standard", "total_max_attempts": attempts},
            # Newer botocore adds CRC checksums that several S3-compatible stores reject.
            request_checksum_calculation="when_required", response_checksum_validation="when_required",
            # Every call's parameters are built here, never taken raw from a client; checking them
            # again costs ~15 % of a small object's CPU (imports copy tens of thousands).
            parameter_validation=False,
        )
        self._client = None
        self._client_pid = None
        # Every object this store writes gets it (a colder tier sharing a bucket: STANDARD_IA, GLACIER_IR...).
        self._class = {"StorageClass": storage_class} if storage_class else {}
        # Whole-object PUTs and GETs (the bulk of an import's work) go through the native client, at a
        # quarter of botocore's CPU per request. Without explicit keys (an instance role, a profile) only
        # boto3 knows where to find credentials, so it does everything.
        self._native = native.NativeS3(
            endpoint_url=self.endpoint_url, bucket=bucket, region=region, access_key=access_key,
            secret_key=secret_key, addressing_style=addressing_style, connect_timeout=connect_timeout,
            read_timeout=read_timeout, attempts=attempts, storage_class=storage_class,
        ) if access_key and secret_key else None

    def __repr__(self) -> str:
        return f"S3ObjectStore({self.endpoint_url or 'AWS'!r}, bucket={self.bucket!r})"

    @property
    def client(self):
        # A client's connection pool must not cross a fork (gunicorn, Celery prefork). One client
        # per process, shared by its threads (boto3 clients are thread-safe; making one takes ~50 ms).
        if self._client_pid != os.getpid():
            with _CLIENT_LOCK:
                if self._client_pid != os.getpid():
                    session = boto3.session.Session()  # boto3's default session is not thread-safe
                    session._session.get_component("response_parser_factory").set_parser_defaults(
                        timestamp_parser=_timestamp)
                    self._client = session.client("s3", endpoint_url=self.endpoint_url, config=self._config,
                                                  **self._credentials)
                    self._client_pid = os.getpid()
        return self._client

    @contextmanager
    def _errors(self, key: str | None = None):
        try:
            yield
        except ClientError as exc:
            raise self._translate(exc, key) from exc
        except NoCredentialsError as exc:
            raise StorageUnavailable(gettext("No S3 credentials are configured; set PORTAL_S3_ACCESS_KEY and "
                                     "PORTAL_S3_SECRET_KEY.")) from exc
        except NETWORK_ERRORS as exc:
            raise StorageUnavailable(gettext("The object store at %(value)s is not answering (%(exc)s). Try again in a moment.") % {"value": self.endpoint_url or 'AWS', "exc": exc}) from exc

    def _translate(self, exc: ClientError, key: str | None) -> PortalError:
        code, status = _error_code(exc)
        message = exc.response.get("Error", {}).get("Message") or code
        if code == "NoSuchUpload":
            return UploadNotFound(gettext("That upload does not exist (finished, aborted or never started)."))
        if code == "NoSuchBucket":
            return self._bucket_missing()
        if code in _NOT_FOUND or status == 404:
            return ObjectNotFound(gettext("No object %(key)r.") % {"key": key})
        if code == "InvalidRange" or status == 416:
            return InvalidInput(gettext("The range starts past the end of %(key)r.") % {"key": key}, code="range_not_satisfiable")
        if code in _BAD_PARTS:
            return InvalidInput(gettext("The object store refused the part list: %(message)s") % {"message": message}, code="invalid_part")
        if code in _DENIED or status == 403:
            return StorageUnavailable(gettext("The object store refused our credentials (%(code)s); check PORTAL_S3_ACCESS_KEY / PORTAL_S3_SECRET_KEY.") % {"code": code}, detail={"s3_code": code})
        # 5xx, throttling and anything else unexpected: the caller can only retry later.
        return StorageUnavailable(gettext("The object store answered %(status)s %(code)s: %(message)s. Try again in a moment.") % {"status": status, "code": code, "message": message}, detail={"s3_code": code})

    def _bucket_missing(self) -> StorageUnavailable:
        return StorageUnavailable(gettext("The bucket %(bucket)r does not exist; run `manage.py storage_init` or fix PORTAL_S3_BUCKET.") % {"bucket": self.bucket})

    # --- objects ---------------------------------------------------------------------
    def put(self, key: str, fileobj: BinaryIO, *, content_type: str | None = None) -> int:
        validate_key(key)
        extra = {**self._class, **({"ContentType": content_type} if content_type else {})}
        head = _read_up_to(fileobj, _TRANSFER.multipart_threshold)
        if len(head) < _TRANSFER.multipart_threshold and self._native_usable():
            self._native.put(key, head, content_type=content_type)  # all of it: one PUT
            return len(head)
        with self._errors(key):
            if len(head) < _TRANSFER.multipart_threshold:  # all of it: one PUT, no transfer machinery
                self.client.put_object(Bucket=self.bucket, Key=key, Body=head, **extra)
                return len(head)
            body = _CountingReader(_Prefixed(head, fileobj))
            # Managed transfer: multipart above the threshold, aborted on failure.
            self.client.upload_fileobj(body, self.bucket, key, ExtraArgs=extra, Config=_TRANSFER)
        return body.count

    def open(self, key: str, *, start: int = 0, end: int | None = None) -> ObjectStream:
        validate_key(key)
        validate_window(start, end)
        if self._native_usable():
            return self._open_native(key, start, end)
        return self._open_boto3(key, start, end)

    def _native_usable(self) -> bool:
        return self._native is not None and native.usable()

    def open_foreign(self, key: str) -> ObjectStream:
        """All of ``key`` as a bucket Coffer does not own has it (an import's source): taken as it
        is, names Coffer would refuse included."""
        if self._native_usable() and native.plain_key(key):
            return self._open_native(key, 0, None)
        return self._open_boto3(key, 0, None)  # "a//b", "/a", "./a": boto3 sends any key as it is

    def _open_native(self, key: str, start: int, end: int | None) -> ObjectStream:
        reader, length, total, etag, modified = self._native.get(key, start=start, end=end)
        return ObjectStream(reader, length=length, total_size=total, etag=etag, modified=modified,
                            errors=native.NETWORK_ERRORS)

    def _open_boto3(self, key: str, start: int, end: int | None) -> ObjectStream:
        request = {"Bucket": self.bucket, "Key": key}
        if start or end is not None:
            request["Range"] = f"bytes={start}-{'' if end is None else end}"
        with self._errors(key):
            response = self.client.get_object(**request)
        length = response["ContentLength"]
        total = int(response.get("ContentRange", "").rpartition("/")[2] or length)
        return ObjectStream(response["Body"], length=length, total_size=total, etag=response.get("ETag", ""),
                            modified=response.get("LastModified"), errors=NETWORK_ERRORS)

    def stat(self, key: str) -> ObjectInfo:
        validate_key(key)
        with self._errors(key):
            head = self.client.head_object(Bucket=self.bucket, Key=key)
        return ObjectInfo(key=key, size=head["ContentLength"], modified=head["LastModified"])

    def exists(self, key: str) -> bool:
        try:
            self.stat(key)
        except ObjectNotFound:
            return False
        return True

    def delete(self, key: str) -> None:
        validate_key(key)
        with self._errors(key):
            self.client.delete_object(Bucket=self.bucket, Key=key)

    def copy(self, source: str, target: str) -> int:
        validate_key(source)
        with self._errors(source):
            self.client.copy_object(Bucket=self.bucket, Key=validate_key(target),
                                    CopySource={"Bucket": self.bucket, "Key": source}, **self._class)
        return self.size(target)

    def presign_get(self, key: str, *, filename: str, content_type: str = "application/octet-stream",
                    inline: bool = False, expires: int | None = None) -> str:
        params = {"Bucket": self.bucket, "Key": validate_key(key), "ResponseContentType": content_type,
                  "ResponseContentDisposition": content_disposition(filename, inline=inline)}
        with self._errors(key):
            return self.client.generate_presigned_url("get_object", Params=params,
                                                      ExpiresIn=presign_lifetime(expires))

    def presign_put(self, key: str, *, size: int, expires: int | None = None, create_only: bool = False) -> str:
        # ContentLength is signed: a body of any other size is refused by the store. So is
        # If-None-Match (SigV4 signs it): a PUT without it fails, one when the key exists gets 412.
        params = {"Bucket": self.bucket, "Key": validate_key(key), "ContentLength": validate_put_size(size)}
        if create_only:
            params["IfNoneMatch"] = "*"
        with self._errors(key):
            return self.client.generate_presigned_url("put_object", Params=params,
                                                      ExpiresIn=presign_lifetime(expires))

    def iter_objects(self, prefix: str = "") -> Iterator[ObjectInfo]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        with self._errors():
            for page in pages:
                for item in page.get("Contents", []):
                    yield ObjectInfo(key=item["Key"], size=item["Size"], modified=item["LastModified"])

    def iter_unfinished_uploads(self, prefix: str = "") -> Iterator[tuple[str, str, datetime]]:
        pages = self.client.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket, Prefix=prefix)
        with self._errors():
            for page in pages:
                for item in page.get("Uploads", []):
                    yield item["Key"], item["UploadId"], item["Initiated"]

    def _bucket_exists(self) -> bool:
        with self._errors():
            try:
                self.client.head_bucket(Bucket=self.bucket)
            except ClientError as exc:
                if _error_code(exc)[1] == 404:  # HEAD answers carry no error code, only the status
                    return False
                raise
        return True

    def check(self) -> None:
        if not self._bucket_exists():
            raise self._bucket_missing()

    def ensure_bucket(self) -> None:
        if self._bucket_exists():
            return
        region = self._config.region_name
        extra = {} if region in (None, "us-east-1") else {
            "CreateBucketConfiguration": {"LocationConstraint": region}}
        with self._errors():
            try:
                self.client.create_bucket(Bucket=self.bucket, **extra)
            except ClientError as exc:
                if _error_code(exc)[0] != "BucketAlreadyOwnedByYou":  # a concurrent ensure_bucket won
                    raise

    # --- multipart ---------------------------------------------------------------------
    def multipart_start(self, key: str, *, content_type: str | None = None, part_size: int | None = None) -> str:
        extra = {**self._class, **({"ContentType": content_type} if content_type else {})}
        with self._errors(key):
            upload = self.client.create_multipart_upload(Bucket=self.bucket, Key=validate_key(key), **extra)
        return upload["UploadId"]

    def multipart_part_url(self, key: str, upload_id: str, part_number: int, *,
                           expires: int | None = None) -> str:
        params = {"Bucket": self.bucket, "Key": validate_key(key), "UploadId": upload_id,
                  "PartNumber": validate_part_number(part_number)}
        with self._errors(key):
            return self.client.generate_presigned_url("upload_part", Params=params,
                                                      ExpiresIn=presign_lifetime(expires))

    def _uploaded_parts(self, key: str, upload_id: str) -> list[tuple[datetime, Part]]:
        pages = self.client.get_paginator("list_parts").paginate(
            Bucket=self.bucket, Key=validate_key(key), UploadId=upload_id)
        with self._errors(key):
            items = [item for page in pages for item in page.get("Parts", [])]
        return [(item["LastModified"], Part(number=item["PartNumber"], size=item["Size"], etag=item["ETag"]))
                for item in items]

    def multipart_list_parts(self, key: str, upload_id: str) -> list[Part]:
        # SeaweedFS keeps and lists every upload of a re-sent part (in no useful
        # order, timestamps in whole seconds); S3 keeps only the last one.
        latest: dict[int, tuple[datetime, Part]] = {}
        for modified, part in self._uploaded_parts(key, upload_id):
            if part.number not in latest or latest[part.number][0] <= modified:
                latest[part.number] = (modified, part)
        return [latest[number][1] for number in sorted(latest)]

    def multipart_list_part_uploads(self, key: str, upload_id: str) -> list[Part]:
        return [part for _, part in self._uploaded_parts(key, upload_id)]

    def multipart_complete(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> int:
        wanted = validate_part_list(parts)
        # Checking first gives the same clear errors as the local store (S3 says only "InvalidPart")
        # and enforces the 5 MiB minimum on stores that do not. Any listed upload of a part counts:
        # the caller's ETag says which one it means, and SeaweedFS completes with exactly that one.
        size = check_parts_complete(wanted, [part for _, part in self._uploaded_parts(key, upload_id)])
        listing = [{"PartNumber": number, "ETag": etag} for number, etag in wanted]
        with self._errors(key):
            self.client.complete_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                                  MultipartUpload={"Parts": listing})
        return size

    def multipart_abort(self, key: str, upload_id: str) -> None:
        try:
            with self._errors(key):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=validate_key(key),
                                                   UploadId=upload_id)
        except UploadNotFound:
            pass

    # --- bucket rules (manage.py storage_init; portal.storage.bucket_rules) ------------------------
    # What a store answers a bucket-configuration call it does not implement with.
    _NO_BUCKET_RULES = {"NotImplemented", "XNotImplemented", "MethodNotAllowed", "InvalidRequest"}

    def cors_rule_set(self, rule: dict) -> bool:
        """Add ``rule`` to the bucket's CORS rules (replacing one with its ID,
        keeping the others); False when the store does not support it."""
        return self._rule_merge(
            lambda: self.client.get_bucket_cors(Bucket=self.bucket).get("CORSRules", []),
            lambda rules: self.client.put_bucket_cors(Bucket=self.bucket, CORSConfiguration={"CORSRules": rules}),
            rule, missing="NoSuchCORSConfiguration")

    def lifecycle_rule_set(self, rule: dict) -> bool:
        """Add ``rule`` to the bucket's lifecycle rules (replacing one with its
        ID, keeping the others); False when the store does not support it."""
        return self._rule_merge(
            lambda: self.client.get_bucket_lifecycle_configuration(Bucket=self.bucket).get("Rules", []),
            lambda rules: self.client.put_bucket_lifecycle_configuration(
                Bucket=self.bucket, LifecycleConfiguration={"Rules": rules}),
            rule, missing="NoSuchLifecycleConfiguration")

    def _rule_merge(self, read, write, rule: dict, *, missing: str) -> bool:
        with self._errors():
            try:
                try:
                    rules = read()
                except ClientError as exc:
                    if _error_code(exc)[0] != missing:
                        raise
                    rules = []
                write([kept for kept in rules if kept.get("ID") != rule["ID"]] + [rule])
            except ClientError as exc:
                code, status = _error_code(exc)
                if code in self._NO_BUCKET_RULES or status in (405, 501):
                    return False
                raise
        return True

    # Codes a store without Object Lock answers put-object-legal-hold with (AWS: no lock configuration on
    # the bucket; others: not implemented); anything else is an error of its own.
    _NO_OBJECT_LOCK = {"InvalidRequest", "NotImplemented", "ObjectLockConfigurationNotFoundError",
                       "MethodNotAllowed", "InvalidBucketState", "AccessDenied", "XNotImplemented"}

    def legal_hold_set(self, key: str, on: bool) -> bool:
        validate_key(key)
        with self._errors(key):
            try:
                self.client.put_object_legal_hold(Bucket=self.bucket, Key=key,
                                                  LegalHold={"Status": "ON" if on else "OFF"})
            except ClientError as exc:
                code, status = _error_code(exc)
                if code in self._NO_OBJECT_LOCK or status in (400, 405, 501):
                    return False
                raise
        return True
