"""Help before the spend: ``POST /v1/prompts/optimize`` (a prompt rewritten into scene, motion, mood and
temporal arc for a model) and ``POST /v1/projects/{id}/shots/draft`` (a shot list proposed from the
project's brief, not saved). Both run the built-in rules, or the LLM at ``FRAMEGATE_PROMPT_LLM_URL``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from gateway.api.contract import documented
from gateway.api.deps import app_state, principal
from gateway.api.edge import read_json_object
from gateway.api.prompt_objects import PromptOptimization, ShotListDraft
from gateway.api.schemas import parse_model
from gateway.creative.projects import get_project_row
from gateway.engine.keys import Principal
from gateway.engine.prompting import (
    MAX_SHOTS,
    DraftRequest,
    LlmConfig,
    ModelTarget,
    PromptEngine,
    build_engine,
)
from gateway.errors import BadRequest, Conflict
from gateway.settings import Settings
from gateway.state import AppState
from router import ModelNotFound

__all__ = ["OptimizeRequest", "ShotDraftRequest", "prompt_engine", "router"]

router = APIRouter(prefix="/v1", tags=["creative"])
StateDep = Annotated[AppState, Depends(app_state)]
PrincipalDep = Annotated[Principal, Depends(principal)]


class OptimizeRequest(BaseModel):
    """``POST /v1/prompts/optimize``: the prompt, and the model it is for (omitted or ``auto``: none)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    prompt: str  # blank (after stripping) is missing_prompt, as on POST /v1/videos
    model: str | None = Field(default=None, min_length=1, max_length=64)


class ShotDraftRequest(BaseModel):
    """``POST /v1/projects/{id}/shots/draft``: how many shots, each how long, all on which model."""

    model_config = ConfigDict(extra="forbid", strict=True)

    shots: int | None = Field(default=None, ge=1, le=MAX_SHOTS)
    seconds: float | None = Field(default=None, gt=0, le=3600, allow_inf_nan=False)
    model: str | None = Field(default=None, min_length=1, max_length=64)


def prompt_engine(settings: Settings) -> PromptEngine:
    """The LLM engine when ``FRAMEGATE_PROMPT_LLM_URL`` is set (falling back to the rules), else the rules."""
    config = None
    if settings.prompt_llm_url:
        config = LlmConfig(
            settings.prompt_llm_url,
            settings.prompt_llm_model,
            settings.prompt_llm_api_key,
            settings.prompt_llm_timeout_seconds,
        )
    return build_engine(config, max_prompt_chars=settings.max_prompt_chars)


def served_models(state: AppState) -> dict[str, ModelTarget]:
    """Every model the gateway serves, once each, as prompt help sees it."""
    out: dict[str, ModelTarget] = {}
    for offer in state.offers:
        out.setdefault(offer.spec.id, ModelTarget.of(offer.spec))
    return out


def _named_model(state: AppState, model: str | None) -> ModelTarget | None:
    if model is None or model == "auto":
        return None
    found = served_models(state).get(model)
    if found is None:
        raise ModelNotFound(f"model {model!r} is not served here (GET /v1/models lists them)", param="model")
    return found


@router.post(
    "/prompts/optimize", **documented(returns=PromptOptimization, json_body=OptimizeRequest, errors=(413,))
)
async def optimize(request: Request, state: StateDep, who: PrincipalDep) -> dict[str, Any]:
    """The prompt rewritten into scene, motion (with the camera), mood and temporal arc in the model's
    style, every word the user wrote kept (for a closed-vocabulary model: every word it understands),
    only missing layers added. Nothing is generated or charged."""
    req = parse_model(OptimizeRequest, await read_json_object(request))
    prompt = req.prompt.strip()
    if not prompt:
        raise BadRequest("prompt is required and must not be empty", code="missing_prompt", param="prompt")
    limit = state.settings.max_prompt_chars
    if len(prompt) > limit:
        raise BadRequest(
            f"prompt is {len(prompt)} characters; the limit is {limit}",
            code="prompt_too_long",
            param="prompt",
        )
    target = _named_model(state, req.model)
    result = await prompt_engine(state.settings).optimize(prompt, target)
    return result.as_dict()


@router.post(
    "/projects/{project_id}/shots/draft",
    **documented(
        returns=ShotListDraft, json_body=ShotDraftRequest, body_required=False, errors=(404, 409, 413)
    ),
)
async def draft_shots(
    project_id: str, request: Request, state: StateDep, who: PrincipalDep
) -> dict[str, Any]:
    """A shot list proposed from the project's brief: each shot's prompt in layers, its length and a
    suggested model with the reason. Nothing is saved: post the shots you keep to
    ``/v1/projects/{id}/shots``. 409 ``missing_brief`` when the project has no brief."""
    req = parse_model(ShotDraftRequest, await read_json_object(request, empty_ok=True))

    def read() -> Any:
        with state.db.read() as conn:
            return get_project_row(conn, who.account_id, project_id)

    project = await state.db.run_read(read)
    if not (project.brief or "").strip():
        raise Conflict(
            "this project has no brief to draft shots from: create the project with a 'brief'",
            code="missing_brief",
            param="brief",
        )
    models = served_models(state)
    wanted = DraftRequest(
        project.brief, tuple(models.values()), req.shots, req.seconds, _named_model(state, req.model)
    )
    draft = await prompt_engine(state.settings).draft(wanted)
    return {
        "object": "shot_list.draft",
        "project_id": project.id,
        "saved": False,
        "engine": draft.engine,
        "shots": [shot.as_dict() for shot in draft.shots],
        "seconds": round(sum(shot.seconds for shot in draft.shots), 2),
        "warnings": draft.warnings,
    }
