"""Integration tests run against the real broker and Redis that ./scripts/test starts."""

from __future__ import annotations

import uuid

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration/" in item.nodeid:
            item.add_marker(pytest.mark.integration)


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> str:
    """A name no earlier run used: for topics, app ids and consumer groups."""
    return f"t-{request.node.name[:40].replace('[', '-').strip(']')}-{uuid.uuid4().hex[:8]}"
