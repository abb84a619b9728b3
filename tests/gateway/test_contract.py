"""``/openapi.json`` tells the truth: Schemathesis generates requests (valid and invalid) for every operation
from the document and checks each answer against it: no server errors, only documented statuses and
content types, bodies that match their schemas, and invalid requests refused. SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from gateway import Settings, create_app

from ..fake_stripe import fake_stripe
from ..support import (
    FAKE_CONFIG,
    live_server,
    make_settings,
    postgres_available,
    postgres_database,
    require,
)

EXAMPLES = int(os.environ.get("FRAMEGATE_CONTRACT_EXAMPLES", "25"))
CHECKS = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
)
# Only the fake backend: generated requests must never start a real model on this CPU.
CONFIG = "builtin_models = false\n" + FAKE_CONFIG
PACKS = """
[[billing.packs]]
id = "starter"
credits = 100
price_cents = 500
"""


def _generation_schema() -> dict[str, Any]:
    """The served document, less its security requirements: every call sends a valid key (below), so
    generated "invalid Authorization header" cases would be overridden and then misjudged as accepted."""
    document = copy.deepcopy(create_app(Settings(data_dir=Path(tempfile.gettempdir()))).openapi())
    for operations in document["paths"].values():
        for operation in operations.values():
            operation.pop("security", None)
    return document


schema = schemathesis.openapi.from_dict(_generation_schema())


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, dict[str, str]]]:
    """A gateway on a loopback port and a key with credits, once per database for the whole module."""
    tmp = tmp_path_factory.mktemp(f"contract-{request.param}")
    models = tmp_path_factory.mktemp("contract-models")

    def serve(url: str) -> Iterator[tuple[str, dict[str, str]]]:
        with (
            fake_stripe() as (stripe_base, _),
            live_server(
                make_settings(
                    tmp,
                    url,
                    models,
                    config=CONFIG + PACKS,
                    stripe_secret_key="sk_test_contract",
                    stripe_webhook_secret="whsec_contract",
                    stripe_api_base=stripe_base,
                )
            ) as (base, app),
        ):
            import billing
            from gateway.engine.keys import create_key

            with app.state.fg.db.write() as conn:
                account = billing.ensure_account(conn, "contract")
                billing.grant(conn, account, billing.millicredits(1000))
                key = create_key(conn, account).secret
            yield base, {"Authorization": f"Bearer {key}"}

    if request.param == "sqlite":
        yield from serve(f"sqlite:///{tmp / 'db.sqlite'}")
        return
    require(postgres_available(), "PostgreSQL is not reachable on 127.0.0.1:5432")
    with postgres_database() as url:
        yield from serve(url)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_every_operation_keeps_its_contract(case: Any, served: tuple[str, dict[str, str]]) -> None:
    base, headers = served
    case.call_and_validate(base_url=base, headers=headers, checks=CHECKS)


def test_the_document_describes_bodies_objects_and_errors() -> None:
    document = create_app(Settings(data_dir=Path(tempfile.gettempdir()))).openapi()
    create = document["paths"]["/v1/videos"]["post"]
    assert set(create["requestBody"]["content"]) == {"application/json", "multipart/form-data"}
    form = create["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]
    assert form["input_reference"] == {"type": "string", "format": "binary"}
    schemas = document["components"]["schemas"]
    assert {"VideoCreate", "Video", "ErrorResponse", "ShotCreate", "ProjectCreate"} <= set(schemas)
    assert "HTTPValidationError" not in schemas
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "422" not in responses, (method, path)
            error = responses["400"]["content"]["application/json"]["schema"]
            assert error == {"$ref": "#/components/schemas/ErrorResponse"}, (method, path)
            assert responses["200"]["content"], (method, path)
    usage = document["paths"]["/v1/usage"]["get"]["responses"]["200"]["content"]
    assert set(usage) == {"application/json", "text/csv"}
    poll = document["paths"]["/v1/videos/{video_id}"]["get"]
    assert {"If-None-Match", "Prefer"} <= {p["name"] for p in poll["parameters"] if p["in"] == "header"}
    assert "preference-applied" in poll["responses"]["200"]["headers"]
    for status in ("200", "304"):
        assert {"ETag", "openai-poll-after-ms"} <= set(poll["responses"][status]["headers"]), status
    created = {p["name"] for p in create["parameters"] if p["in"] == "header"}
    assert {"Idempotency-Key", "Prefer"} <= created
    assert {"openai-poll-after-ms", "idempotent-replayed"} <= set(create["responses"]["200"]["headers"])
    for path in (
        "/v1/projects",
        "/v1/shots/{shot_id}/takes",
        "/v1/videos/{video_id}/remix",
        "/v1/billing/checkout",
    ):
        headers = {
            p["name"] for p in document["paths"][path]["post"].get("parameters", ()) if p["in"] == "header"
        }
        assert "Idempotency-Key" in headers, path
        assert "idempotent-replayed" in document["paths"][path]["post"]["responses"]["200"]["headers"], path


def test_the_document_is_valid_openapi() -> None:
    """Client generators and validators take the document as it is: it must be valid OpenAPI."""
    from openapi_spec_validator import validate

    validate(create_app(Settings(data_dir=Path(tempfile.gettempdir()))).openapi())
