"""Tokenizers built in memory, so that tiny pipelines never touch the Hugging Face Hub."""

from __future__ import annotations

from typing import Any

# Words the shipped prompts use, plus single letters so any text still tokenizes.
_WORDS = """
a an the of on in at to and with is moving move moves drifting slowly quickly fast slow still
left right up down upward downward background red green blue yellow white orange purple black
gray grey dark circle square triangle ball box shape small big large cat dog sky sea city
forest night day camera dolly pan tracking shot light sun rain
""".split()  # noqa: SIM905


def tiny_t5_tokenizer(model_max_length: int = 64) -> Any:
    """A T5 unigram tokenizer over a small fixed vocabulary (transformers >= 5 takes it as an argument)."""
    from transformers import T5TokenizerFast  # type: ignore[attr-defined]

    vocab: list[tuple[str, float]] = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    vocab += [("\u2581" + word, -2.0) for word in dict.fromkeys(_WORDS)]
    vocab += [("\u2581", -8.0)]
    vocab += [(ch, -10.0) for ch in "abcdefghijklmnopqrstuvwxyz0123456789.,'-!?"]
    return T5TokenizerFast(vocab=vocab, extra_ids=0, model_max_length=model_max_length)
