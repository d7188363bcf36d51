"""Issue 8, must show: 20 lab servers deploy concurrently in one test without failure.

Enrolled from the lab's inventory with ``ingot import --manage --provide`` (cleaning through
the agent on all 20 at once), then 20 deploys with config drives requested back to back, so
the conductor, the boot server and 20 agents all work at the same time.
"""

from __future__ import annotations

import time
from pathlib import Path

from tests.e2e.lab_fixtures import config_drive, lab_site, publish_image, read_table

NODES = 20


def test_twenty_servers_deploy_concurrently(tmp_path: Path) -> None:
    # Small sparse disks (config drive 64 MiB + a 4 MiB image) keep 20 agents cheap.
    with lab_site(tmp_path, nodes=NODES, bmc="ipmi", disk_gb=0.125) as site:
        names = site.names()
        image = publish_image(site.server, "scale.raw", "gpt")
        started = time.monotonic()
        site.import_inventory("--manage", "--provide", "--concurrency", str(NODES))
        available = site.wait(names, {"available", "clean failed", "enroll", "manageable"})
        assert {n: (b["provision_state"], b["last_error"]) for n, b in available.items()} == {
            n: ("available", None) for n in names
        }
        cleaned = time.monotonic()
        for index, name in enumerate(names):
            site.set_image(name, image)
            site.set_state(name, "active", configdrive=config_drive(f"{name}.scale.test", index))
        done = site.wait(names, {"active", "deploy failed"}, timeout=240)
        failed = {n: b["last_error"] for n, b in done.items() if b["provision_state"] != "active"}
        assert not failed, failed
        print(
            f"{NODES} servers: enrolled and cleaned in {cleaned - started:.1f} s, "
            f"deployed in {time.monotonic() - cleaned:.1f} s"
        )
        for name in names:
            site.wait_booted(name, f"{name}.scale.test", timeout=60)
            table, parts = read_table(site.lab.server(name).disk_path)
            assert (table, [p["name"] for p in parts]) == ("gpt", ["root", "config-2"])
