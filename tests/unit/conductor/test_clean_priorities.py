"""[deploy] erase_devices_priority / erase_devices_metadata_priority shape automated cleaning."""

from __future__ import annotations

from typing import Any

from ingot.conductor import clean
from ingot.conductor.task import load_task


def test_erase_priorities_come_from_settings(app_services: Any, client: Any) -> None:
    services, conductor, _app = app_services
    r = client.post("/v1/nodes", json={"driver": "fake-hardware", "name": "c1",
                                       "deploy_interface": "direct"})  # fmt: skip
    assert r.status_code == 201, r.text
    task = load_task(conductor, "c1", lock=False)
    names = [s["step"] for s in clean.plan(task, None)]
    assert names == ["erase_devices_metadata", "erase_devices"]
    services.settings.deploy.erase_devices_priority = 0
    assert [s["step"] for s in clean.plan(task, None)] == ["erase_devices_metadata"]
    services.settings.deploy.erase_devices_metadata_priority = 0
    assert clean.plan(task, None) == []
