"""``S3Store``: artifacts in an S3-compatible bucket, with a local read-through cache.

Selected by ``FRAMEGATE_ARTIFACTS_URL=s3://bucket/prefix`` (``FRAMEGATE_S3_ENDPOINT_URL`` for
MinIO, Ceph, R2 and the like; credentials come the usual boto3 way: ``AWS_ACCESS_KEY_ID`` ...).
Every gateway process and worker node that shares the bucket sees every clip, input image and
cut; each keeps the files it has used under its own ``DATA_DIR/artifacts`` as a cache.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from gateway.engine.artifacts import VARIANTS, LocalDiskStore

__all__ = ["S3Store"]


class S3Store:
    """An :class:`~gateway.engine.artifacts.ArtifactStore` on S3: written locally first, then uploaded."""

    def __init__(
        self, url: str, cache_root: Path, *, endpoint_url: str | None = None, client: Any = None
    ) -> None:
        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise ValueError(f"artifacts URL must look like s3://bucket/prefix, got {url!r}")
        self.bucket = parsed.netloc
        self.prefix = parsed.path.strip("/")
        self.cache = LocalDiskStore(cache_root)
        if client is None:
            import boto3

            client = boto3.client("s3", endpoint_url=endpoint_url)
        self.s3 = client

    def _key(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)

    def _download(self, key: str, path: Path) -> bool:
        from botocore.exceptions import ClientError

        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_name(path.name + ".part")
        try:
            self.s3.download_file(self.bucket, key, str(part))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                part.unlink(missing_ok=True)
                return False
            raise
        part.replace(path)
        return True

    def scratch_dir(self, job_id: str) -> Path:
        return self.cache.scratch_dir(job_id)

    def put(self, job_id: str, files: dict[str, Path]) -> None:
        self.cache.put(job_id, files)
        for variant in files:
            name, media_type = VARIANTS[variant]
            self.s3.upload_file(
                str(self.cache.root / job_id / name),
                self.bucket,
                self._key(job_id, name),
                ExtraArgs={"ContentType": media_type},
            )

    def local_path(self, job_id: str, variant: str) -> Path | None:
        cached = self.cache.local_path(job_id, variant)
        if cached is not None:
            return cached
        name, _ = VARIANTS[variant]
        path = self.cache.root / job_id / name
        return path if self._download(self._key(job_id, name), path) else None

    def save_input(self, job_id: str, data: bytes, suffix: str) -> Path:
        path = self.cache.save_input(job_id, data, suffix)
        self.s3.put_object(Bucket=self.bucket, Key=self._key("inputs", path.name), Body=data)
        return path

    def input_file(self, stored: str) -> Path:
        path = Path(stored)
        if not path.is_file():
            local = self.cache.root / "inputs" / path.name
            if local.is_file() or self._download(self._key("inputs", path.name), local):
                return local
        return path

    def delete(self, job_id: str) -> None:
        self.cache.delete(job_id)
        listed = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=self._key(job_id) + "/")
        keys = [{"Key": item["Key"]} for item in listed.get("Contents", [])]
        listed = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=self._key("inputs", job_id) + ".")
        keys += [{"Key": item["Key"]} for item in listed.get("Contents", [])]
        if keys:
            self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": keys})

    def delete_scratch(self, job_id: str) -> None:
        self.cache.delete_scratch(job_id)

    def cut_path(self, cut_id: str) -> Path:
        return self.cache.cut_path(cut_id)

    def publish_cut(self, cut_id: str) -> None:
        self.s3.upload_file(
            str(self.cache.cut_path(cut_id)),
            self.bucket,
            self._key("cuts", f"{cut_id}.mp4"),
            ExtraArgs={"ContentType": "video/mp4"},
        )

    def cut_file(self, cut_id: str) -> Path | None:
        path = self.cache.cut_path(cut_id)
        if path.is_file() or self._download(self._key("cuts", f"{cut_id}.mp4"), path):
            return path
        return None
