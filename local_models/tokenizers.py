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


def _chars() -> list[str]:
    return list(
        dict.fromkeys("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,'-!?:;()\"/<>_")
    )


def tiny_clip_tokenizer(model_max_length: int = 77) -> Any:
    """A byte-level CLIP BPE tokenizer without merges: every character is one token (514 ids)."""
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import CLIPTokenizer

    alphabet = sorted(ByteLevel.alphabet())
    vocab: dict[str, int] = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for suffix in ("", "</w>"):
        for ch in alphabet:
            vocab.setdefault(ch + suffix, len(vocab))
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=model_max_length)


def tiny_llama_tokenizer(model_max_length: int = 256) -> Any:
    """A Llama (metaspace BPE, byte fallback) tokenizer over single characters."""
    from transformers import LlamaTokenizer

    vocab: dict[str, int] = {"<unk>": 0, "<s>": 1, "</s>": 2, "<pad>": 3, "\u2581": 4}
    for ch in _chars():
        vocab.setdefault(ch, len(vocab))
    for byte in range(256):
        vocab.setdefault(f"<0x{byte:02X}>", len(vocab))
    tokenizer = LlamaTokenizer(vocab=vocab, merges=[], pad_token="<pad>")
    tokenizer.model_max_length = model_max_length
    return tokenizer


def tiny_gemma_tokenizer(model_max_length: int = 256) -> Any:
    """A Gemma tokenizer over single characters."""
    from transformers import GemmaTokenizer

    vocab: dict[str, int] = {"<pad>": 0, "<eos>": 1, "<bos>": 2, "<unk>": 3, "<mask>": 4, "\u2581": 5}
    for ch in _chars():
        vocab.setdefault(ch, len(vocab))
    tokenizer = GemmaTokenizer(vocab=vocab, merges=[])
    tokenizer.model_max_length = model_max_length
    return tokenizer


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


def tiny_clip_text(hidden_size: int, *, seed: int = 0, projection_dim: int = 32) -> tuple[Any, Any]:
    """A tiny CLIP text encoder of ``hidden_size`` with its character-level tokenizer."""
    import torch
    from transformers import CLIPTextConfig, CLIPTextModel

    tokenizer = tiny_clip_tokenizer()
    torch.manual_seed(seed)
    encoder = CLIPTextModel(
        CLIPTextConfig(
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
            hidden_size=hidden_size,
            intermediate_size=37,
            num_attention_heads=4,
            num_hidden_layers=2,
            vocab_size=len(tokenizer),
            projection_dim=projection_dim,
        )
    )
    return tokenizer, encoder
