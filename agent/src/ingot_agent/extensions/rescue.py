"""``rescue.finalize_rescue``: leave the ramdisk running as a rescue system.

The password (a crypt hash when ``hashed``) is written where the ramdisk's rescue setup reads
it, as IPA does; then the agent stops, so only the operator's rescue login remains.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from ingot_agent.commands import command
from ingot_agent.context import AgentContext
from ingot_agent.errors import InvalidCommandParamsError


class RescueExtension:
    def __init__(self, ctx: AgentContext) -> None:
        self.ctx = ctx

    @command("finalize_rescue")
    def finalize_rescue(self, rescue_password: str = "", hashed: bool = False, **_: Any) -> str:
        if not rescue_password:
            raise InvalidCommandParamsError("finalize_rescue needs a non-empty rescue_password")
        path = self.ctx.hardware.rescue_password_path()
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(rescue_password)
        # Answer the conductor first, then stop serving: the rescue system takes over.
        threading.Timer(1.0, self.ctx.stop).start()
        return f"rescue password written to {path}"
