"""Tokenizer and text encoder for the shapes models.

The tokenizer is a word-level ``tokenizers`` model built in memory and saved with
``save_pretrained`` (no Hub). The encoder reads the token ids as a bag of concepts and returns one
embedding per attribute slot (colour, shape, motion, speed, background, size): word order and
filler words cannot change its output, and a slot the prompt leaves open gets that slot's
"unspecified" embedding, which is also what classifier-free guidance uses as the empty prompt.
"""

from __future__ import annotations

from typing import Any, cast

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

from .vocab import BACKGROUNDS, COLOURS, MOTIONS, SHAPES, SIZES, SLOTS, SPEEDS, concept_words

__all__ = ["ShapesTextEncoder", "build_tokenizer", "concept_table", "token_concepts"]

MAX_TOKENS = 32


def concept_table() -> list[str]:
    """Every concept as ``"slot:value"``, in a fixed order (the encoder's embedding rows)."""
    values = {
        "colour": list(COLOURS),
        "shape": list(SHAPES),
        "motion": list(MOTIONS),
        "speed": list(SPEEDS),
        "background": list(BACKGROUNDS),
        "size": list(SIZES),
    }
    return [f"{slot}:{v}" for slot in SLOTS for v in values[slot]]


def build_tokenizer() -> Any:
    """A lower-casing word-level tokenizer over the vocabulary; unknown words become ``[UNK]``."""
    from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    words = sorted(set(concept_words()) | {"darkblue"})
    vocab = {"[PAD]": 0, "[UNK]": 1} | {w: i + 2 for i, w in enumerate(words)}
    tok = Tokenizer(WordLevel(vocab=vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Lowercase(),
            normalizers.Replace("grey", "gray"),
            normalizers.Replace(
                Regex(r"\b(?:not|never|isn't|doesn't)\s+(?:moving|move|moves)\b"), "motionless"
            ),
            normalizers.Replace(Regex(r"dark\s+blue"), "darkblue"),
            normalizers.Replace(Regex(r"[^a-z]+"), " "),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]", model_max_length=MAX_TOKENS
    )


def token_concepts(tokenizer: Any) -> list[int]:
    """For each token id, the index of its concept in :func:`concept_table` (-1: none)."""
    table = {c: i for i, c in enumerate(concept_table())}
    words = concept_words() | {"darkblue": "background:dark blue"}
    out = [-1] * len(tokenizer)
    for word, idx in tokenizer.get_vocab().items():
        if word in words:
            out[idx] = table[words[word]]
    return out


class ShapesTextEncoder(ModelMixin, ConfigMixin):  # type: ignore[misc]
    """Token ids -> (B, slots, dim) slot embeddings."""

    @register_to_config  # type: ignore[untyped-decorator]
    def __init__(self, token_concepts: list[int], concepts: list[str], dim: int = 64) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        slots = list(SLOTS)
        concept_slot = [slots.index(c.split(":", 1)[0]) for c in concepts]
        tc = torch.tensor(token_concepts, dtype=torch.long)
        self.register_buffer("token_concept", tc, persistent=False)
        self.register_buffer(
            "token_slot",
            torch.tensor([concept_slot[c] if c >= 0 else -1 for c in token_concepts], dtype=torch.long),
            persistent=False,
        )
        # Rows: the concepts, then one "unspecified" row per slot.
        self.embed = nn.Embedding(len(concepts) + len(slots), dim)
        nn.init.normal_(self.embed.weight, std=1.0)
        self.num_concepts = len(concepts)
        self.num_slots = len(slots)

    def concept_ids(self, input_ids: torch.Tensor, drop: torch.Tensor | None = None) -> torch.Tensor:
        """(B, L) token ids -> (B, slots) concept rows; the first word naming a slot wins.

        ``drop`` (B, slots) bool replaces slots with "unspecified" (training and the empty prompt).
        """
        concept = self.token_concept[input_ids]
        slot = self.token_slot[input_ids]
        b, length = input_ids.shape
        position = torch.arange(length, device=input_ids.device).expand(b, length)
        out = torch.empty(b, self.num_slots, dtype=torch.long, device=input_ids.device)
        for s in range(self.num_slots):
            hits = slot == s
            first = torch.where(hits, position, length).argmin(dim=1)
            found = hits.any(dim=1)
            picked = concept.gather(1, first[:, None])[:, 0]
            out[:, s] = torch.where(found, picked, self.num_concepts + s)
        if drop is not None:
            unspecified = self.num_concepts + torch.arange(self.num_slots, device=input_ids.device)
            out = torch.where(drop, unspecified.expand_as(out), out)
        return out

    def forward(self, input_ids: torch.Tensor, drop: torch.Tensor | None = None) -> torch.Tensor:
        return cast(torch.Tensor, self.embed(self.concept_ids(input_ids, drop)))

    def empty(self, batch: int, device: torch.device | str | None = None) -> torch.Tensor:
        """Slot embeddings of the empty prompt (every slot unspecified)."""
        rows = self.num_concepts + torch.arange(self.num_slots, device=device or self.embed.weight.device)
        return cast(torch.Tensor, self.embed(rows).expand(batch, -1, -1))
