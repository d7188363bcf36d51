"""``GET /v1/nodes/{node}/validate``: every interface's verdict, shaped like Ironic's."""

from __future__ import annotations

from typing import Any

from ingot.conductor.task import Task
from ingot.drivers.interfaces import KINDS

# Ironic lists these first; vendor is not validated.
_ORDER = ("boot", "deploy", "management", "network", "power")


def validate_node(task: Task) -> dict[str, dict[str, Any]]:
    """``{"result": true}``, or false with the reason, for each interface kind.

    ``no-*`` implementations report that the driver does not support the kind, as Ironic does.
    """
    out: dict[str, dict[str, Any]] = {}
    for kind in sorted(KINDS, key=lambda k: (k not in _ORDER, k)):
        if kind == "vendor":
            continue
        impl = task.interfaces[kind]
        if impl.name.startswith("no-"):
            out[kind] = {
                "result": False,
                "reason": f"Driver {task.node.driver} does not support {kind} "
                "(disabled or not implemented).",
            }
            continue
        try:
            impl.validate(task)
            out[kind] = {"result": True}
        except Exception as exc:  # every interface is reported, whatever it raises
            out[kind] = {"result": False, "reason": str(exc)}
    return out
