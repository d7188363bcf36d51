"""Issue 8: failure paths on lab servers, each ending in the right failed state with a clear
``last_error``, then recovering by the documented verb.

* image checksum mismatch -> ``deploy failed``; fix the checksum, ``active`` again -> active
* BMC wrong password (IPMI and Redfish) -> stays ``enroll`` naming the BMC; fix it, ``manage``
* the agent never calls back (the firmware cannot reach the boot server) -> ``clean failed`` /
  ``deploy failed`` at the shortened callback timeout; fix it, ``manage``+``provide`` /
  ``deleted`` (cleaning) -> available
* disk too small for the image, or for the image plus the config drive -> ``deploy failed``;
  ``deleted`` (cleaning) -> available, then a deploy that fits -> active
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingot.lab.ports import free_port
from ingot.lab.runner import PASSWORD
from tests.e2e.lab_fixtures import MiB, Site, config_drive, lab_site, publish_image, read_table

CALLBACK_TIMEOUT = 10  # seconds; the production default is 1800
SHORT_TIMEOUTS = {
    "INGOT_CONDUCTOR__DEPLOY_CALLBACK_TIMEOUT": str(CALLBACK_TIMEOUT),
    "INGOT_CONDUCTOR__CLEAN_CALLBACK_TIMEOUT": str(CALLBACK_TIMEOUT),
}


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    with lab_site(tmp_path, nodes=1, bmc="ipmi", env=SHORT_TIMEOUTS) as running:
        yield running


def failed(site: Site, name: str, state: str, timeout: float = 90) -> str:
    """Wait for ``name`` to settle; it must be in ``state``; return its last_error."""
    node = site.wait([name], {state, "active", "available", "manageable"}, timeout)[name]
    assert node["provision_state"] == state, (node["provision_state"], node["last_error"])
    assert node["last_error"], f"{name} is {state} without a last_error"
    return str(node["last_error"])


def settle_ok(site: Site, name: str, state: str, timeout: float = 90) -> None:
    node = site.wait([name], {state, "deploy failed", "clean failed", "enroll"}, timeout)[name]
    assert (node["provision_state"], node["last_error"]) == (state, None)


def test_checksum_mismatch_fails_the_deploy_and_a_fixed_checksum_deploys(site: Site) -> None:
    image = publish_image(site.server, "img.raw")
    site.import_inventory("--manage", "--provide")
    site.set_image("node-0", image, checksum="0" * 64)
    site.set_state("node-0", "active", configdrive=config_drive("sum.example"))
    error = failed(site, "node-0", "deploy failed")
    assert "checksum mismatch" in error.lower() and image.sha256 in error and "0" * 64 in error
    assert site.node("node-0")["target_provision_state"] == "active"  # as in Ironic's table

    site.set_image("node-0", image)  # the right checksum
    site.set_state("node-0", "active", configdrive=config_drive("sum.example"))
    settle_ok(site, "node-0", "active")
    site.wait_booted("node-0", "sum.example")


def test_wrong_bmc_password_keeps_the_node_in_enroll_naming_the_bmc(tmp_path: Path) -> None:
    with lab_site(tmp_path, nodes=2, bmc="mixed", env=SHORT_TIMEOUTS) as site:
        inventory = json.loads(site.inventory.read_text())
        for entry in inventory["nodes"]:
            entry["pm_password"] = "not-the-password"
        wrong = tmp_path / "wrong-password.json"
        wrong.write_text(json.dumps(inventory))
        result = site.ingot("import", str(wrong), "--manage", check=False)
        assert result.returncode != 0
        for name, kind, field in (("node-0", "IPMI", "ipmi_password"),
                                  ("node-1", "Redfish", "redfish_password")):  # fmt: skip
            bmc = site.lab.bmc[name]
            address = f"127.0.0.1:{bmc['port']}" if kind == "IPMI" else bmc["address"]
            error = failed(site, name, "enroll")
            assert f"{kind} authentication to the BMC at {address} failed" in error, error
            assert field in error and "not-the-password" not in error
            site.patch(name, {"op": "replace", "path": f"/driver_info/{field}", "value": PASSWORD})
            site.set_state(name, "manage")
        for name in ("node-0", "node-1"):
            settle_ok(site, name, "manageable")


def test_agent_never_calls_back_during_cleaning(site: Site) -> None:
    site.import_inventory("--manage")
    server = site.lab.server("node-0")
    good, server.boot_url = server.boot_url, f"http://127.0.0.1:{free_port()}"  # answers nothing
    site.set_state("node-0", "provide")
    error = failed(site, "node-0", "clean failed")
    assert "Timeout reached while waiting for callback" in error
    assert f"clean_callback_timeout={CALLBACK_TIMEOUT}s" in error
    assert "the HTTP boot server is not answering" in server.serial_log.read_text()

    server.boot_url = good
    site.set_state("node-0", "manage")
    settle_ok(site, "node-0", "manageable")
    site.set_state("node-0", "provide")
    settle_ok(site, "node-0", "available")


def test_agent_never_calls_back_during_deploy(site: Site) -> None:
    image = publish_image(site.server, "img.raw")
    site.import_inventory("--manage", "--provide")
    site.set_image("node-0", image)
    server = site.lab.server("node-0")
    good, server.boot_url = server.boot_url, f"http://127.0.0.1:{free_port()}"
    site.set_state("node-0", "active", configdrive=config_drive("late.example"))
    error = failed(site, "node-0", "deploy failed")
    assert "Timeout reached while waiting for callback" in error
    assert f"deploy_callback_timeout={CALLBACK_TIMEOUT}s" in error

    server.boot_url = good
    site.set_state("node-0", "deleted")  # undeploy a failed deploy: cleaning, then available
    settle_ok(site, "node-0", "available")
    assert read_table(server.disk_path) == (None, [])


@pytest.mark.parametrize(
    ("disk_mib", "image_mib", "with_drive", "message"),
    [
        (64, 96, False, "use a bigger disk or a smaller image"),
        (64, 4, True, "no room for the"),  # the image fits, its 64 MiB config drive does not
    ],
    ids=["image-larger-than-disk", "no-room-for-config-drive"],
)
def test_disk_too_small(
    tmp_path: Path, disk_mib: int, image_mib: int, with_drive: bool, message: str
) -> None:
    with lab_site(tmp_path, nodes=1, disk_gb=disk_mib / 1024, env=SHORT_TIMEOUTS) as site:
        big = publish_image(site.server, "big.raw", size=image_mib * MiB)
        site.import_inventory("--manage", "--provide")
        site.set_image("node-0", big)
        drive = {"configdrive": config_drive("small.example")} if with_drive else {}
        site.set_state("node-0", "active", **drive)
        error = failed(site, "node-0", "deploy failed")
        assert message in error, error

        site.set_state("node-0", "deleted")
        settle_ok(site, "node-0", "available")
        small = publish_image(site.server, "small.raw", size=4 * MiB)
        site.set_image("node-0", small)
        site.set_state("node-0", "active")  # no config drive: this disk has no room for one
        settle_ok(site, "node-0", "active")
        table, parts = read_table(site.lab.server("node-0").disk_path)
        assert (table, [p["name"] for p in parts]) == ("gpt", ["root"])
