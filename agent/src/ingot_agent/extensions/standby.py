"""``standby.*``: write the image, power off, sync; what a direct deploy drives."""

from __future__ import annotations

import os
import threading
from typing import Any

from ingot_agent.commands import command
from ingot_agent.context import AgentContext
from ingot_agent.deploy_image import deploy
from ingot_agent.image_source import parse_image_info

POWER_DELAY = 0.5  # let the HTTP answer leave before the agent stops


class StandbyExtension:
    def __init__(self, ctx: AgentContext) -> None:
        self.ctx = ctx

    @command("prepare_image", run_async=True)
    def prepare_image(
        self, image_info: dict[str, Any], configdrive: str | None = None, **_ignored: Any
    ) -> dict[str, Any]:
        """Write the image (skipped if ``cache_image`` already wrote it) and the config drive."""
        info = parse_image_info(image_info)
        cached = self.ctx.cached_image_id == info.id and info.image_type == "whole-disk"
        self.ctx.partition_uuids = {}
        return deploy(self.ctx, info, configdrive, skip_write=cached)

    @command("cache_image", run_async=True)
    def cache_image(
        self, image_info: dict[str, Any], force: bool = False, **_ignored: Any
    ) -> dict[str, Any]:
        """Write the image now, so a later prepare_image of the same image only adds metadata."""
        info = parse_image_info(image_info)
        if self.ctx.cached_image_id == info.id and not force:
            return {"result": f"image ({info.id}) already cached", "root_device": None}
        self.ctx.partition_uuids = {}
        return deploy(self.ctx, info, None)

    @command("get_partition_uuids")
    def get_partition_uuids(self) -> dict[str, Any]:
        return dict(self.ctx.partition_uuids)

    @command("sync")
    def sync(self) -> None:
        os.sync()

    def _later(self, action: str) -> None:
        def run() -> None:
            os.sync()
            if action == "off":
                self.ctx.hardware.power_off()
            else:
                self.ctx.hardware.reboot()
            self.ctx.stop()

        threading.Timer(POWER_DELAY, run).start()

    @command("power_off", run_async=True)
    def power_off(self) -> str:
        self._later("off")
        return "powering off"

    @command("run_image", run_async=True)
    def run_image(self) -> str:
        """Reboot into the written image (IPA's name for reboot)."""
        self._later("reboot")
        return "rebooting"
