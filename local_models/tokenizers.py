"""The in-memory T5 tokenizer and tiny text encoder of the shipped ``wan-tiny`` (never touches the Hub).

The test builds' other tiny tokenizers live with them, in ``tests/fixtures/tiny_models``.
"""

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


def tiny_t5(model_max_length: int = 64, *, seed: int = 0, umt5: bool = False) -> tuple[Any, Any]:
    """A tiny T5 (or UMT5, as Wan uses) text encoder of width 32 with its in-memory tokenizer."""
    import torch
    from transformers import T5Config, T5EncoderModel, UMT5Config, UMT5EncoderModel

    tokenizer = tiny_t5_tokenizer(model_max_length=model_max_length)
    dims: dict[str, Any] = {
        "vocab_size": len(tokenizer),
        "d_model": 32,
        "d_ff": 37,
        "d_kv": 8,
        "num_layers": 2,
        "num_heads": 4,
    }
    torch.manual_seed(seed)
    if umt5:
        return tokenizer, UMT5EncoderModel(UMT5Config(**dims, relative_attention_num_buckets=8))
    return tokenizer, T5EncoderModel(T5Config(**dims))
