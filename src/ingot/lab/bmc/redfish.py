"""Virtual Redfish BMCs for lab machines: sushy-tools' emulator in-process, backed by our machines.

The resources, templates, routes and basic auth are sushy-tools' own, so the sushy client sees
the Redfish that Ironic's CI tests against. Three things are ours:

* a systems driver (:class:`LabSystemsDriver`) over :class:`VirtualMachine` objects, with instant
  power changes (sushy-tools' fake driver applies them 1-11 s later, LAB.md section 2);
* one emulator per process, many servers: sushy-tools' Flask app is a module-level singleton
  whose routes read ``app.systems``. We give that app our driver once, and each server (its own
  port, machines and credentials) tags every request's WSGI environ with its :class:`_Site`,
  which the driver reads. So several Redfish BMCs share a process, like the IPMI ones;
* ``BootSourceOverrideEnabled``: sushy-tools ignores it on PATCH and always reports
  ``Continuous``; we record Once/Continuous on the machine and report it, and advertise
  ``BiosSetup`` among the allowed targets, as real BMCs do.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import bcrypt
import flask
from sushy_tools import error as fishy
from sushy_tools.emulator import main as emulator
from sushy_tools.emulator.resources.systems.base import AbstractSystemsDriver
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from ingot.lab.machine import BootDevice, VirtualMachine

_LOG = logging.getLogger(__name__)
_SITE_KEY = "ingot.lab.redfish.site"
_SYSTEM_PATH = re.compile(r"^/redfish/v1/Systems/([^/]+)/?$")
# bcrypt cost 4 (the minimum): the htpasswd is checked on every request and holds a test password.
_BCRYPT_ROUNDS = 4

_TO_REDFISH: dict[BootDevice, str] = {
    "pxe": "Pxe",
    "disk": "Hdd",
    "cdrom": "Cd",
    "bios": "BiosSetup",
}
_FROM_REDFISH: dict[str, BootDevice] = {v: k for k, v in _TO_REDFISH.items()}


class _Site:
    """The machines one virtual Redfish BMC serves."""

    def __init__(self, machines: Iterable[VirtualMachine]) -> None:
        self.by_uuid = {m.uuid: m for m in machines}
        self.by_name = {m.name: m for m in self.by_uuid.values()}


def _current_site() -> _Site:
    site: _Site = flask.request.environ[_SITE_KEY]
    return site


class LabSystemsDriver(AbstractSystemsDriver):  # type: ignore[misc]
    """sushy-tools systems driver over the requesting server's :class:`VirtualMachine` objects."""

    @property
    def driver(self) -> str:
        return "<ingot-lab>"

    @property
    def systems(self) -> list[str]:
        return list(_current_site().by_uuid)

    def _machine(self, identity: str) -> VirtualMachine:
        site = _current_site()
        machine = site.by_uuid.get(identity)
        if machine is not None:
            return machine
        if identity in site.by_name:
            # sushy-tools answers a name with a redirect to the UUID URL.
            raise fishy.AliasAccessError(site.by_name[identity].uuid)
        raise fishy.NotFound(f"System {identity} was not found")

    def uuid(self, identity: str) -> str:
        try:
            return self._machine(identity).uuid
        except fishy.AliasAccessError as alias:
            return str(alias)

    def name(self, identity: str) -> str:
        try:
            return self._machine(identity).name
        except fishy.AliasAccessError:
            return identity

    def get_power_state(self, identity: str) -> str:
        return "On" if self._machine(identity).get_power() == "on" else "Off"

    def set_power_state(self, identity: str, state: str) -> None:
        machine = self._machine(identity)
        if state in ("On", "ForceOn"):
            machine.power("on")
        elif state in ("ForceOff", "GracefulShutdown"):
            machine.power("off")
        elif state in ("ForceRestart", "GracefulRestart"):
            if not machine.power("reset"):
                machine.power("on")  # restarting a server that is off starts it
        elif state == "PushPowerButton":
            machine.power("off" if machine.get_power() == "on" else "on")
        elif state != "Nmi":
            raise fishy.NotSupportedError(f"Power state {state} is not supported")

    def get_boot_device(self, identity: str) -> str:
        device, _persistent = self._machine(identity).get_boot_device()
        return _TO_REDFISH[device]

    def set_boot_device(self, identity: str, boot_source: str) -> None:
        machine = self._machine(identity)
        device = _FROM_REDFISH.get(boot_source)
        if device is None:
            raise fishy.BadRequest(f"Unknown boot source {boot_source}")
        # sushy-tools drops BootSourceOverrideEnabled; read it from the PATCH body ourselves.
        body = flask.request.get_json(silent=True) or {}
        enabled = (body.get("Boot") or {}).get("BootSourceOverrideEnabled")
        with machine.lock:
            _current, persistent = machine.get_boot_device()
            if enabled in ("Once", "Continuous"):
                persistent = enabled == "Continuous"
            machine.set_boot_device(device, persistent)

    def get_boot_mode(self, identity: str) -> str:
        return "UEFI" if self._machine(identity).boot_mode == "uefi" else "Legacy"

    def set_boot_mode(self, identity: str, boot_mode: str) -> None:
        if boot_mode not in ("UEFI", "Legacy"):
            raise fishy.BadRequest(f"Unknown boot mode {boot_mode}")
        self._machine(identity).set_boot_mode("uefi" if boot_mode == "UEFI" else "bios")

    def get_nics(self, identity: str) -> list[dict[str, str]]:
        macs: list[str] = getattr(self._machine(identity), "macs", [])
        return [{"id": mac, "mac": mac} for mac in macs]


def _report_boot_override(response: flask.Response) -> flask.Response:
    """Rewrite a system's Boot section with what sushy-tools' template leaves out."""
    site = flask.request.environ.get(_SITE_KEY)
    match = _SYSTEM_PATH.match(flask.request.path)
    if site is None or match is None or flask.request.method != "GET":
        return response
    machine = site.by_uuid.get(match.group(1))
    if machine is None or response.status_code != 200:
        return response
    body = json.loads(response.get_data())
    boot = body.get("Boot")
    if isinstance(boot, dict):
        _device, persistent = machine.get_boot_device()
        boot["BootSourceOverrideEnabled"] = "Continuous" if persistent else "Once"
        allowed = boot.setdefault("BootSourceOverrideTarget@Redfish.AllowableValues", [])
        if "BiosSetup" not in allowed:
            allowed.append("BiosSetup")
        response.set_data(json.dumps(body, indent=4))
    return response


class _LabApplication(emulator.Application):  # type: ignore[misc]
    """sushy-tools' app with our systems driver (routes reach it as ``app.systems``)."""

    @property
    def systems(self) -> LabSystemsDriver:
        return _DRIVER


LabSystemsDriver.initialize(emulator.app.config, emulator.app.logger)
_DRIVER = LabSystemsDriver()
_install_lock = threading.Lock()


def _install() -> None:
    """Point sushy-tools' singleton app at our driver; idempotent."""
    with _install_lock:
        if isinstance(emulator.app, _LabApplication):
            return
        emulator.app.__class__ = _LabApplication
        emulator.app.after_request(_report_boot_override)


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # one line per request would drown test output


def _write_htpasswd(directory: Path, username: str, password: str) -> Path:
    digest = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=_BCRYPT_ROUNDS))
    path = directory / "htpasswd"
    path.write_text(f"{username}:{digest.decode()}\n")
    return path


class RedfishBmcServer:
    """A running virtual Redfish BMC; :meth:`stop` frees its port."""

    def __init__(self, server: BaseWSGIServer, site: _Site, state_dir: Path) -> None:
        self._server = server
        self._site = site
        self._state_dir = state_dir
        self.address = str(server.server_address[0])
        self.port: int = server.server_port
        self.url = f"http://{self.address}:{self.port}"
        self._thread = threading.Thread(
            target=server.serve_forever, name=f"lab-redfish-{self.port}", daemon=True
        )
        self._thread.start()

    def system_path(self, machine: VirtualMachine | str) -> str:
        """The Redfish path of a machine's system (Ironic's ``redfish_system_id``)."""
        name = machine if isinstance(machine, str) else machine.name
        return f"/redfish/v1/Systems/{self._site.by_name[name].uuid}"

    def stop(self) -> None:
        """Stop serving, close the socket and remove the credentials file; idempotent."""
        if not self._thread.is_alive():
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        shutil.rmtree(self._state_dir, ignore_errors=True)

    def __enter__(self) -> RedfishBmcServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _tagged(site: _Site, app: Callable[..., Any]) -> Callable[..., Any]:
    def tagged_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        environ[_SITE_KEY] = site
        return app(environ, start_response)

    return tagged_app


def start_redfish(
    machines: Iterable[VirtualMachine],
    port: int,
    username: str,
    password: str,
    address: str = "127.0.0.1",
) -> RedfishBmcServer:
    """Serve Redfish for ``machines`` on ``address:port`` (0 picks a free port), basic auth.

    The service root is open, everything else needs the credentials, as sushy-tools does.
    Raises ``OSError`` if the port is taken.
    """
    _install()
    site = _Site(machines)
    state_dir = Path(tempfile.mkdtemp(prefix="ingot-lab-redfish-"))
    try:
        auth_file = _write_htpasswd(state_dir, username, password)
        app = _tagged(site, emulator.RedfishAuthMiddleware(emulator.app, str(auth_file)))
        server = make_server(address, port, app, threaded=True, request_handler=_QuietHandler)
    except BaseException:
        shutil.rmtree(state_dir, ignore_errors=True)
        raise
    _LOG.info("virtual Redfish BMC on %s:%s for %d machines", address, port, len(site.by_uuid))
    return RedfishBmcServer(server, site, state_dir)
