"""The ``ingot`` entry point's error printing."""

from __future__ import annotations

import json
from pathlib import Path

from tests.unit.cli.test_cli_db import _ingot


def test_error_text_with_brackets_is_printed_as_is(tmp_path: Path) -> None:
    # "[rack1]" must not be taken for console markup and vanish from the message.
    inventory = tmp_path / "inv.json"
    inventory.write_text(json.dumps({"nodes": [{"pm_type": "ipmi", "name": "[rack1]n1"}]}))
    out = _ingot("import", str(inventory), "--dry-run")
    assert out.returncode == 2
    assert "node #0 ([rack1]n1), field 'name'" in " ".join(out.stderr.split())
