"""A module-wide in-process API for test modules whose tests do not disturb each other."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ingot.settings import load_settings
from tests.conftest import LATEST


@pytest.fixture(scope="module")
def shared_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One app + conductor per module (starting one costs ~0.3 s); tests use unique names."""
    from fastapi.testclient import TestClient

    from ingot.app_runtime import all_in_one

    settings = load_settings(
        default={"state_dir": tmp_path_factory.mktemp("api") / "state"},
        conductor={"sync_power_state_interval": 0, "check_provision_state_interval": 0},
    )
    with (
        all_in_one(settings) as (_services, _conductor, app),
        TestClient(app, headers=LATEST) as test_client,
    ):
        yield test_client
