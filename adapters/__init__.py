"""Backends behind one ``Adapter`` protocol: in-process diffusers (``LocalAdapter``), another node
(``RemoteAdapter``), a fake; ``adapters.ray_serve.RayAdapter`` for Ray Serve pools (optional extra)."""

from .base import (
    Adapter,
    Artifact,
    BackendHealth,
    CancelEvent,
    GenerationRequest,
    JobCancel,
    JobJournal,
    MemoryJournal,
    ProgressCallback,
    is_detached,
)
from .errors import AdapterError, Cancelled, JobFailed, PermanentError, TransientError
from .fake import FakeAdapter, FakeBehaviour, fake_model_spec
from .local import LocalAdapter
from .registry import adapter_types, create_adapter, register_adapter_type
from .remote import RemoteAdapter

__all__ = [
    "Adapter",
    "AdapterError",
    "Artifact",
    "BackendHealth",
    "CancelEvent",
    "Cancelled",
    "FakeAdapter",
    "FakeBehaviour",
    "GenerationRequest",
    "JobCancel",
    "JobFailed",
    "JobJournal",
    "LocalAdapter",
    "MemoryJournal",
    "PermanentError",
    "ProgressCallback",
    "RemoteAdapter",
    "TransientError",
    "adapter_types",
    "create_adapter",
    "fake_model_spec",
    "is_detached",
    "register_adapter_type",
]
