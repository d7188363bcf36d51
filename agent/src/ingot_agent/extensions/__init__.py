"""Command extensions, registered under IPA's extension names."""

from __future__ import annotations

from ingot_agent.commands import CommandRunner
from ingot_agent.context import AgentContext
from ingot_agent.extensions.misc import ImageExtension, LogExtension, SystemExtension
from ingot_agent.extensions.rescue import RescueExtension
from ingot_agent.extensions.standby import StandbyExtension
from ingot_agent.extensions.steps import CleanExtension, DeployExtension


def register_all(runner: CommandRunner, ctx: AgentContext) -> None:
    runner.register("standby", StandbyExtension(ctx))
    runner.register("clean", CleanExtension(ctx))
    runner.register("deploy", DeployExtension(ctx))
    runner.register("image", ImageExtension(ctx))
    runner.register("log", LogExtension(ctx))
    runner.register("system", SystemExtension(ctx))
    runner.register("rescue", RescueExtension(ctx))
