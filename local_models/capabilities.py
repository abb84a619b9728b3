"""What a model will not honour in a request, said before the spend (light: no torch, numpy or ffmpeg).

A model publishes what it understands: a closed vocabulary (the shapes models), the size it renders at
before upsampling (``extras["native_size"]``), the longest clip it was trained on
(``extras["trained_frames"]``). A request that asks for more gets warnings, which the gateway returns
with the job (or, in ``block`` mode, refuses the request with)."""

from __future__ import annotations

from dataclasses import dataclass

from .spec import GenerationParams, ModelSpec, parse_size

__all__ = ["CapabilityWarning", "capability_warnings"]


@dataclass(frozen=True)
class CapabilityWarning:
    """``code``: ``ignored_terms``, ``upsampled`` or ``beyond_trained_length``; ``terms``: the words."""

    code: str
    message: str
    param: str
    terms: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"code": self.code, "message": self.message, "param": self.param}
        if self.terms:
            out["terms"] = list(self.terms)
        return out


def capability_warnings(
    spec: ModelSpec, prompt: str, params: GenerationParams, *, size_asked: bool = True
) -> list[CapabilityWarning]:
    """Every way ``spec`` would not honour this request, in the order: prompt, size, length. A size the
    caller did not ask for (the model's own default) is not warned about."""
    out: list[CapabilityWarning] = []
    if spec.prompt_check == "shapes":
        from .shapes.vocab import ignored_terms

        terms = ignored_terms(prompt)
        if terms:
            listed = ", ".join(repr(t) for t in terms)
            message = (
                f"{spec.id!r} cannot draw {listed}: it knows shapes, colours, sizes, motions, speeds and "
                "three backgrounds (see the README's vocabulary); those words will be ignored"
            )
            out.append(CapabilityWarning("ignored_terms", message, "prompt", tuple(terms)))
    native = spec.extras.get("native_size")
    if isinstance(native, str) and size_asked:
        width, height = parse_size(native)
        if params.width * params.height > width * height:
            message = (
                f"{spec.id!r} renders at {native} and upsamples to {params.size}: "
                "no detail is added beyond its native size"
            )
            out.append(CapabilityWarning("upsampled", message, "size"))
    trained = spec.extras.get("trained_frames")
    if isinstance(trained, int) and params.frames > trained:
        message = (
            f"{spec.id!r} was trained on clips of up to {trained} frames; {params.frames} frames "
            "may drift, repeat or lose the subject"
        )
        out.append(CapabilityWarning("beyond_trained_length", message, "seconds"))
    return out
