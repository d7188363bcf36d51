"""Command results and the dispatcher behind ``POST /v1/commands/``, shaped like IPA's.

Names are ``<extension>.<command>``; results carry only the short ``command_name`` (Ironic
matches on it when polling). One command runs at a time: a new one while the last is RUNNING
is refused with 409, as IPA does. Async commands run in a thread and trigger a heartbeat when
they finish so the conductor learns the outcome quickly.
"""

from __future__ import annotations

import inspect
import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

from ingot_agent.errors import (
    AgentError,
    AgentIsBusyError,
    CommandExecutionError,
    InvalidCommandError,
    InvalidCommandParamsError,
    NotFoundError,
)

LOG = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])
RUNNING, SUCCEEDED, FAILED = "RUNNING", "SUCCEEDED", "FAILED"
MAX_PARAM_ECHO = 4096  # config drives can be megabytes: do not echo them on every poll
MAX_RESULTS = 100


def command(name: str, *, run_async: bool = False) -> Callable[[F], F]:
    """Mark an extension method as the agent command ``name`` (sync unless ``run_async``)."""

    def mark(func: F) -> F:
        setattr(func, "agent_command", (name, run_async))  # noqa: B010
        return func

    return mark


def _echo(params: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, str) and len(value) > MAX_PARAM_ECHO:
            out[key] = f"<{len(value)} characters not echoed>"
        else:
            out[key] = value
    return out


class CommandResult:
    """One command's record; ``serialize`` gives IPA's JSON fields."""

    def __init__(self, name: str, params: dict[str, Any]) -> None:
        self.id = str(uuid.uuid4())
        self.command_name = name
        self.command_params = _echo(params)
        self.command_status = RUNNING
        self.command_error: dict[str, Any] | None = None
        self.command_result: Any = None
        self._lock = threading.Lock()
        self._done = threading.Event()

    def finish(self, result: Any = None, error: BaseException | None = None) -> None:
        with self._lock:
            if error is None:
                self.command_status = SUCCEEDED
                self.command_result = result
            else:
                if not isinstance(error, AgentError):
                    error = CommandExecutionError(f"{type(error).__name__}: {error}")
                self.command_status = FAILED
                self.command_error = error.serialize()
        self._done.set()

    def is_done(self) -> bool:
        return self._done.is_set()

    def join(self, timeout: float | None = None) -> CommandResult:
        self._done.wait(timeout)
        return self

    def serialize(self) -> dict[str, Any]:
        with self._lock:
            return {
                "id": self.id,
                "command_name": self.command_name,
                "command_params": self.command_params,
                "command_status": self.command_status,
                "command_error": self.command_error,
                "command_result": self.command_result,
            }


class CommandRunner:
    """Holds the extensions' commands and the results of past commands."""

    def __init__(self, on_async_done: Callable[[], None] | None = None) -> None:
        self._commands: dict[str, tuple[Callable[..., Any], bool]] = {}
        self._results: OrderedDict[str, CommandResult] = OrderedDict()
        self._lock = threading.Lock()
        self.on_async_done = on_async_done

    def register(self, extension_name: str, extension: object) -> None:
        """Register every ``@command`` method of ``extension`` under ``extension_name``."""
        for _, member in inspect.getmembers(extension, callable):
            mark = getattr(member, "agent_command", None)
            if mark:
                self._commands[f"{extension_name}.{mark[0]}"] = (member, bool(mark[1]))

    def names(self) -> list[str]:
        return sorted(self._commands)

    def execute(self, full_name: str, params: dict[str, Any]) -> CommandResult:
        """Start a command; raises InvalidCommandError, NotFoundError, AgentIsBusyError,
        InvalidCommandParamsError. Failures inside the command are recorded, not raised."""
        ext, dot, short = full_name.partition(".")
        if not dot or not ext or not short:
            raise InvalidCommandError("command name must be of the form <extension>.<command>")
        entry = self._commands.get(full_name)
        if entry is None:
            known = sorted({n.split(".")[0] for n in self._commands})
            if ext not in known:
                raise NotFoundError(f"extension {ext!r} not found; known: {known}")
            raise InvalidCommandError(f"unknown command {full_name!r}; known: {self.names()}")
        func, run_async = entry
        try:
            inspect.signature(func).bind(**params)
        except TypeError as exc:
            raise InvalidCommandParamsError(f"{full_name}: {exc}") from exc
        with self._lock:
            last = next(reversed(self._results.values()), None)
            if last is not None and not last.is_done():
                raise AgentIsBusyError(
                    f"agent is busy with {last.command_name} ({last.id}); poll it and retry"
                )
            result = CommandResult(short, params)
            self._results[result.id] = result
            while len(self._results) > MAX_RESULTS:
                self._results.popitem(last=False)
        if run_async:
            thread = threading.Thread(
                target=self._run,
                args=(result, func, params, True),
                name=f"cmd-{short}",
                daemon=True,
            )
            thread.start()
        else:
            self._run(result, func, params, False)
        return result

    def _run(
        self,
        result: CommandResult,
        func: Callable[..., Any],
        params: dict[str, Any],
        run_async: bool,
    ) -> None:
        LOG.info("command %s started (%s)", result.command_name, result.id)
        try:
            value = func(**params)
        except Exception as exc:
            LOG.error("command %s failed: %s", result.command_name, exc)
            result.finish(error=exc)
        else:
            if isinstance(value, str):
                value = {"result": f"{result.command_name}: {value}" if run_async else value}
            result.finish(result=value)
            LOG.info("command %s succeeded", result.command_name)
        if run_async and self.on_async_done is not None:
            self.on_async_done()

    def list(self) -> list[CommandResult]:
        with self._lock:
            return list(self._results.values())

    def get(self, command_id: str) -> CommandResult:
        with self._lock:
            result = self._results.get(command_id)
        if result is None:
            raise NotFoundError(f"command {command_id} not found")
        return result
