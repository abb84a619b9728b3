"""The LLM prompt engine: any OpenAI-compatible chat-completions endpoint (vLLM, llama.cpp, Ollama, a hosted
API), asked for strict JSON, its answer checked. The rule-based result is computed first; an LLM that
fails, is slow, answers too much, answers malformed JSON or an answer that breaks the rules (drops the
user's words, names a model the gateway does not serve) yields that result with an ``llm_fallback``
warning. Prompt help never fails because the LLM did.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any

import anyio
import httpx

from .answers import LlmFailure, checked_draft, checked_optimization, draft_messages, optimize_messages
from .types import DraftRequest, ModelTarget, Optimization, PromptEngine, ShotDraft

__all__ = ["LlmConfig", "LlmEngine", "LlmFailure"]

log = logging.getLogger("framegate.prompts")

MAX_RESPONSE_BYTES = 256 * 1024


@dataclass(frozen=True)
class LlmConfig:
    """Where the chat model is: ``url`` is the API base (``http://127.0.0.1:8000/v1``; a URL that already
    ends in ``/chat/completions`` is used as it is)."""

    url: str
    model: str = "default"
    api_key: str | None = None
    timeout_seconds: float = 10.0
    max_response_bytes: int = MAX_RESPONSE_BYTES

    @property
    def endpoint(self) -> str:
        base = self.url.rstrip("/")
        return base if base.endswith("/chat/completions") else base + "/chat/completions"


_FENCE = re.compile(r"^```[a-zA-Z]*\s*(.*?)\s*```$", re.DOTALL)


def parse_chat_answer(raw: bytes) -> dict[str, Any]:
    """The JSON object in a chat completion's first message (a Markdown code fence around it is allowed)."""
    try:
        data = json.loads(raw)
        content = data["choices"][0]["message"]["content"]
    except (ValueError, RecursionError, KeyError, IndexError, TypeError):
        raise LlmFailure("answered something that is not a chat completion") from None
    if not isinstance(content, str):
        raise LlmFailure("answered a message without text")
    text = content.strip()
    fenced = _FENCE.match(text)
    try:
        answer = json.loads(fenced.group(1) if fenced else text)
    except (ValueError, RecursionError):
        raise LlmFailure("answered malformed JSON") from None
    if not isinstance(answer, dict):
        raise LlmFailure("answered JSON that is not an object")
    try:  # lone surrogates ("\ud800" escapes) cannot be stored or sent back as UTF-8
        json.dumps(answer, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise LlmFailure("answered text that is not valid Unicode") from None
    return answer


class LlmEngine:
    """:class:`~gateway.engine.prompting.types.PromptEngine` over a chat-completions endpoint, with
    ``fallback`` (the rules) for every answer it cannot use. ``transport``: for tests."""

    name = "llm"

    def __init__(
        self,
        config: LlmConfig,
        fallback: PromptEngine,
        *,
        max_prompt_chars: int = 4000,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = config
        self.fallback = fallback
        self.max_prompt_chars = max_prompt_chars
        self._transport = transport

    async def optimize(self, prompt: str, target: ModelTarget | None) -> Optimization:
        base = await self.fallback.optimize(prompt, target)
        if target is not None and target.style == "vocabulary":
            return base  # a closed vocabulary is written exactly by the rules
        try:
            answer = await self.chat(optimize_messages(prompt, target, base))
            return checked_optimization(answer, prompt, target, base, self.max_prompt_chars)
        except LlmFailure as exc:
            base.warnings.append(self._fell_back(exc))
            return base

    async def draft(self, request: DraftRequest) -> ShotDraft:
        base = await self.fallback.draft(request)
        try:
            answer = await self.chat(draft_messages(request, self.max_prompt_chars))
            return checked_draft(answer, request, self.max_prompt_chars)
        except LlmFailure as exc:
            base.warnings.append(self._fell_back(exc))
            return base

    def _fell_back(self, exc: LlmFailure) -> dict[str, Any]:
        log.warning("prompt LLM at %s: %s; answering the rule-based result", self.config.endpoint, exc.reason)
        return {
            "code": "llm_fallback",
            "message": f"the prompt model {exc.reason}: this is the built-in rule-based result",
        }

    async def chat(self, messages: list[dict[str, str]]) -> dict[str, Any]:
        """The JSON object the model answers ``messages`` with; :class:`LlmFailure` otherwise."""
        body = {
            "model": self.config.model,
            "messages": messages,
            "temperature": 0.2,
            "response_format": {"type": "json_object"},
        }
        headers = {"accept": "application/json"}
        if self.config.api_key:
            headers["authorization"] = f"Bearer {self.config.api_key}"
        try:
            with anyio.fail_after(self.config.timeout_seconds):
                raw = await self._post(body, headers)
        except TimeoutError:
            raise LlmFailure(f"did not answer within {self.config.timeout_seconds:g} s") from None
        return parse_chat_answer(raw)

    async def _post(self, body: dict[str, Any], headers: dict[str, str]) -> bytes:
        limit = self.config.max_response_bytes
        try:
            async with (
                httpx.AsyncClient(
                    timeout=self.config.timeout_seconds,
                    transport=self._transport,
                    trust_env=False,
                    follow_redirects=False,
                ) as client,
                client.stream(
                    "POST",
                    self.config.endpoint,
                    json=body,
                    # Uncompressed only: the size limit must bound what is decoded, on this loop.
                    headers={**headers, "accept-encoding": "identity"},
                ) as response,
            ):
                if response.status_code != 200:
                    raise LlmFailure(f"answered HTTP {response.status_code}")
                if response.headers.get("content-encoding", "identity").strip().lower() != "identity":
                    raise LlmFailure("answered a compressed body (identity was asked for)")
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > limit:
                    raise LlmFailure(f"answered more than {limit} bytes")
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():  # identity: nothing is decoded
                    size += len(chunk)
                    if size > limit:
                        raise LlmFailure(f"answered more than {limit} bytes")
                    chunks.append(chunk)
                return b"".join(chunks)
        except httpx.TimeoutException:
            raise LlmFailure(f"did not answer within {self.config.timeout_seconds:g} s") from None
        except httpx.HTTPError as exc:
            raise LlmFailure(f"could not be reached ({type(exc).__name__})") from None
