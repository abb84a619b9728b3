"""Where finished clips live. ``ArtifactStore`` is the extension point; local disk is the default."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Protocol

__all__ = ["VARIANTS", "ArtifactStore", "LocalDiskStore"]

# variant -> (file name, media type)
VARIANTS: dict[str, tuple[str, str]] = {
    "video": ("video.mp4", "video/mp4"),
    "thumbnail": ("thumbnail.webp", "image/webp"),
    "spritesheet": ("spritesheet.jpg", "image/jpeg"),
    "metadata": ("metadata.json", "application/json"),
}


class ArtifactStore(Protocol):
    def scratch_dir(self, job_id: str) -> Path:
        """An empty local directory an adapter may write a job's files into."""
        ...

    def put(self, job_id: str, files: dict[str, Path]) -> None:
        """Keep ``files`` (variant -> local path) as the job's artifacts."""
        ...

    def local_path(self, job_id: str, variant: str) -> Path | None:
        """A local file for ``variant``, or None if there is none."""
        ...

    def save_input(self, job_id: str, data: bytes, suffix: str) -> Path:
        """Keep a request's input image; the returned path is what the job row records."""
        ...

    def input_file(self, stored: str) -> Path:
        """A local copy of an input that :meth:`save_input` kept (fetched if this host lacks it)."""
        ...

    def delete(self, job_id: str) -> None: ...

    def delete_scratch(self, job_id: str) -> None: ...

    def cut_path(self, cut_id: str) -> Path:
        """Where to write an assembled cut (a project's winning takes joined)."""
        ...

    def publish_cut(self, cut_id: str) -> None:
        """Keep the cut written at :meth:`cut_path` for every gateway process."""
        ...

    def cut_file(self, cut_id: str) -> Path | None:
        """A local copy of an assembled cut, or None if there is none."""
        ...


class LocalDiskStore:
    """``<root>/<job_id>/video.mp4`` and friends; inputs under ``<root>/inputs``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "inputs").mkdir(parents=True, exist_ok=True)
        (root / ".scratch").mkdir(parents=True, exist_ok=True)

    def scratch_dir(self, job_id: str) -> Path:
        path = self.root / ".scratch" / job_id
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        return path

    def put(self, job_id: str, files: dict[str, Path]) -> None:
        target = self.root / job_id
        target.mkdir(parents=True, exist_ok=True)
        for variant, source in files.items():
            name, _ = VARIANTS[variant]
            if source.resolve() != (target / name).resolve():
                shutil.move(str(source), target / name)
        shutil.rmtree(self.root / ".scratch" / job_id, ignore_errors=True)

    def local_path(self, job_id: str, variant: str) -> Path | None:
        name, _ = VARIANTS[variant]
        path = self.root / job_id / name
        return path if path.is_file() else None

    def save_input(self, job_id: str, data: bytes, suffix: str) -> Path:
        path = self.root / "inputs" / f"{job_id}{suffix}"
        path.write_bytes(data)
        return path

    def delete(self, job_id: str) -> None:
        shutil.rmtree(self.root / job_id, ignore_errors=True)
        shutil.rmtree(self.root / ".scratch" / job_id, ignore_errors=True)
        for path in (self.root / "inputs").glob(f"{job_id}.*"):
            path.unlink(missing_ok=True)

    def delete_scratch(self, job_id: str) -> None:
        shutil.rmtree(self.root / ".scratch" / job_id, ignore_errors=True)

    def input_file(self, stored: str) -> Path:
        return Path(stored)

    def cut_path(self, cut_id: str) -> Path:
        (self.root / "cuts").mkdir(exist_ok=True)
        return self.root / "cuts" / f"{cut_id}.mp4"

    def publish_cut(self, cut_id: str) -> None:
        return None  # already where every process on this disk reads it

    def cut_file(self, cut_id: str) -> Path | None:
        path = self.cut_path(cut_id)
        return path if path.is_file() else None
