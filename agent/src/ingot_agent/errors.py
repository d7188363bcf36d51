"""Agent errors, each with the HTTP status and the IPA-style serialised form Ironic reads."""

from __future__ import annotations

from typing import Any


class AgentError(Exception):
    """Base of every agent error; ``code`` is the HTTP status, ``details`` what to do next."""

    code = 500
    message = "Agent error"

    def __init__(self, details: str) -> None:
        super().__init__(details)
        self.details = details

    def serialize(self) -> dict[str, Any]:
        """IPA's RESTError shape: Ironic shows ``details`` (or ``message``) as last_error."""
        return {
            "type": type(self).__name__,
            "code": self.code,
            "message": self.message,
            "details": self.details,
        }


class InvalidCommandError(AgentError):
    code = 400
    message = "Invalid command"


class InvalidCommandParamsError(AgentError):
    code = 400
    message = "Invalid command parameters"


class NotFoundError(AgentError):
    code = 404
    message = "Requested object not found"


class UnauthorizedError(AgentError):
    code = 401
    message = "Token invalid"


class AgentIsBusyError(AgentError):
    code = 409
    message = "Agent is busy"


class CommandExecutionError(AgentError):
    message = "Command execution failed"


class ImageDownloadError(CommandExecutionError):
    message = "Image download failed"


class ImageChecksumError(CommandExecutionError):
    message = "Image checksum mismatch"


class ImageWriteError(CommandExecutionError):
    message = "Image write failed"


class DeviceNotFoundError(CommandExecutionError):
    message = "No suitable root device"


class PartitionTableError(CommandExecutionError):
    message = "Partition table error"


class ConfigDriveError(CommandExecutionError):
    message = "Config drive error"


class CleaningError(CommandExecutionError):
    message = "Cleaning failed"


class NotSupportedError(CommandExecutionError):
    message = "Not supported"


class LookupNodeError(AgentError):
    message = "Node lookup failed"


class HeartbeatError(AgentError):
    message = "Heartbeat failed"
