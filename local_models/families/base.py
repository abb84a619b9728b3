"""The contract every model family module fulfils."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from PIL import Image

    from ..catalog import CatalogEntry
    from ..spec import GenerationParams, Mode, ModelSpec


@runtime_checkable
class Family(Protocol):
    """One family of video diffusion models (Wan, LTX, ...), self-contained in one module.

    A family states its input rules and defaults once (:meth:`spec`), knows which diffusers
    pipeline serves each mode (:meth:`load`) and turns resolved parameters into that
    pipeline's call arguments (:meth:`call_kwargs`), reading checkpoint-dependent values from
    the loaded pipeline rather than hard-coding one release's numbers.
    """

    name: str

    def spec(self, entry: CatalogEntry) -> ModelSpec:
        """Rules and defaults of the model ``entry`` describes (catalog overrides applied)."""
        ...

    def load(self, path: Path, mode: Mode, *, device: str, dtype: Any) -> Any:
        """Load the folder's pipeline from a local directory, never from the network.

        ``mode`` is the mode first asked for; the loaded pipeline serves every mode of the
        checkpoint through :meth:`for_mode`, so one model is resident once.
        """
        ...

    def for_mode(self, pipe: Any, mode: Mode) -> Any:
        """The pipeline that runs ``mode`` on ``pipe``'s loaded components (no second copy)."""
        ...

    def sample_rate(self, pipe: Any) -> int | None:
        """The audio sample rate of a model that generates sound, else ``None``."""
        ...

    def call_kwargs(
        self, pipe: Any, params: GenerationParams, prompt: str, image: Image.Image | None
    ) -> dict[str, Any]:
        """Keyword arguments for ``pipe(...)`` that run exactly ``params``."""
        ...

    def build_tiny(self, path: Path, *, seed: int = 0) -> None:
        """Save this family's built-in tiny random-weight pipeline to ``path`` (offline); raises
        :class:`~local_models.errors.WeightsNotFound` when the family has none to build."""
        ...

    def progress_total(self, params: GenerationParams) -> int:
        """How many step callbacks a run of ``params`` makes (progress goes from 0 to this)."""
        ...

    def run_notes(self, params: GenerationParams) -> dict[str, Any]:
        """Facts about how ``params`` was run that the job should record (e.g. upsampling)."""
        ...

    def packaged_weights(self, name: str) -> Path | None:
        """Weights shipped inside the package for built-in ``name``, if this family ships any."""
        ...
