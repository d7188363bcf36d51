"""The agent's side of Ironic's agent API: lookup, heartbeat, inspection data (urllib only).

Field names and the version header follow IPA: ``agent_version`` needs API 1.36,
``agent_token`` 1.62 and ``agent_verify_ca`` 1.68; the agent asks ``GET /`` for the server's
version and sends the lower of that and 1.68 (falling back to 1.31 when the root is silent).
"""

from __future__ import annotations

import json
import logging
import random
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from ingot_agent import __version__
from ingot_agent.errors import HeartbeatError, LookupNodeError
from ingot_agent.image_source import ssl_context

LOG = logging.getLogger(__name__)
MIN_VERSION = (1, 31)
AGENT_VERSION_VERSION = (1, 36)
AGENT_TOKEN_VERSION = (1, 62)
VERIFY_CA_VERSION = (1, 68)
VERSION_HEADER = "X-OpenStack-Ironic-API-Version"


class IronicClient:
    def __init__(
        self,
        api_url: str,
        insecure: bool = False,
        global_request_id: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.insecure = insecure
        self.global_request_id = global_request_id
        self.timeout = timeout
        self.agent_token: str | None = None
        self._version: tuple[int, int] | None = None

    def _request(
        self, method: str, url: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        hdrs = {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": f"ingot-agent/{__version__}",
            **(headers or {}),
        }
        if self.global_request_id:
            hdrs["X-OpenStack-Request-ID"] = self.global_request_id
        req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(
                req, timeout=self.timeout, context=ssl_context(self.insecure)
            ) as resp:
                raw = resp.read()
                status = resp.status
        except urllib.error.HTTPError as exc:
            raw, status = exc.read(), exc.code
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode(errors="replace")

    def api_version(self) -> tuple[int, int]:
        if self._version is None:
            try:
                _, root = self._request("GET", self.api_url + "/")
                text = root["default_version"]["version"]
                major, minor = (int(x) for x in text.split("."))
                self._version = (major, minor)
            except (OSError, KeyError, TypeError, ValueError) as exc:
                LOG.warning(
                    "cannot read API version from %s (%s); assuming %s",
                    self.api_url,
                    exc,
                    MIN_VERSION,
                )
                return MIN_VERSION
        return self._version

    def _version_header(self) -> dict[str, str]:
        version = min(self.api_version(), VERIFY_CA_VERSION)
        return {VERSION_HEADER: f"{version[0]}.{version[1]}"}

    def lookup(
        self,
        macs: list[str],
        node_uuid: str | None,
        timeout: float,
        interval: float,
        sleep: Callable[[float], None] = time.sleep,
    ) -> dict[str, Any]:
        """Find our node, retrying with exponential backoff (capped at 30 s) until ``timeout``.

        Returns ``{"node": {...}, "config": {...}}``; keeps ``config.agent_token``.
        Raises LookupNodeError when time runs out (the last reason is in the message).
        """
        params = {"addresses": ",".join(macs)}
        if node_uuid:
            params["node_uuid"] = node_uuid
        url = f"{self.api_url}/v1/lookup?{urlencode(params)}"
        deadline = time.monotonic() + timeout
        delay, reason = interval, "not tried"
        while True:
            try:
                status, body = self._request("GET", url, headers=self._version_header())
                if status == 200 and isinstance(body, dict) and "uuid" in (body.get("node") or {}):
                    config = body.setdefault("config", {})
                    if "heartbeat_timeout" in body and "heartbeat_timeout" not in config:
                        config["heartbeat_timeout"] = body["heartbeat_timeout"]  # old API
                    self.agent_token = config.get("agent_token") or self.agent_token
                    return body
                reason = f"HTTP {status}: {body}"
            except OSError as exc:
                reason = str(exc)
            LOG.warning("lookup of %s at %s failed: %s; retrying", macs, self.api_url, reason)
            if time.monotonic() + delay > deadline:
                raise LookupNodeError(
                    f"could not look up the node with MACs {macs} at {self.api_url} within "
                    f"{timeout:.0f}s; last answer: {reason}; enroll a port with one of these MACs"
                )
            sleep(delay)
            delay = min(delay * 2, 30.0) * random.uniform(0.9, 1.1)

    def heartbeat(self, node_uuid: str, callback_url: str, verify_ca: str | None = None) -> None:
        """POST the heartbeat; raises HeartbeatError unless Ironic answers 202."""
        version = self.api_version()
        body: dict[str, Any] = {"callback_url": callback_url}
        if version >= AGENT_TOKEN_VERSION:
            body["agent_token"] = self.agent_token
        if version >= AGENT_VERSION_VERSION:
            body["agent_version"] = __version__
        if version >= VERIFY_CA_VERSION and verify_ca:
            body["agent_verify_ca"] = verify_ca
        url = f"{self.api_url}/v1/heartbeat/{node_uuid}"
        try:
            status, answer = self._request("POST", url, body, self._version_header())
        except OSError as exc:
            raise HeartbeatError(f"heartbeat to {url} failed: {exc}") from exc
        if status != 202:
            raise HeartbeatError(f"heartbeat to {url} answered HTTP {status}: {answer}")


def post_inspection(
    url: str, data: dict[str, Any], insecure: bool = False, timeout: float = 60.0
) -> Any:
    """POST inspection data (``{"inventory": ..., ...}``) to ``ipa-inspection-callback-url``."""
    req = urllib.request.Request(
        url,
        data=json.dumps(data).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=timeout, context=ssl_context(insecure)) as resp:
        raw = resp.read()
    return json.loads(raw) if raw else None
