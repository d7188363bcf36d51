"""What the API asks of conductors, sent to the node's owner on the hash ring.

The API finds the node, asks the ring which live conductor owns it, and either calls that
conductor directly (``ingot serve``: the owner is the conductor in this process) or over
JSON-RPC (:mod:`ingot.conductor.jsonrpc`) at the ``rpc_url`` it registered. When the owner does
not answer or says it is not the owner any more, the ring is rebuilt from the database and the
call is sent once more. Conductors accept only calls for nodes they own, so two conductors with
different views of the ring still never both start work on one node (the node lock, a database
compare-and-set, stays the last word).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ingot import states
from ingot.conductor import agent, power, provision
from ingot.conductor.jsonrpc import ConductorUnreachable, RpcClient, RpcServer
from ingot.conductor.ring import RingCache
from ingot.conductor.rpc_auth import check_rpc_exposure, credentials
from ingot.conductor.task import load_task
from ingot.conductor.validate import validate_node
from ingot.db import models
from ingot.db.queries import get_node, is_uuid
from ingot.errors import Conflict, IngotError, NotFound
from ingot.services import Services

if TYPE_CHECKING:
    from ingot.conductor.service import Conductor

Method = Callable[["Conductor", dict[str, Any]], Any]


class WrongConductor(Conflict):
    """A conductor got a call for a node it does not own (409); the caller's ring is stale."""


def _boot_device(c: Conductor, p: dict[str, Any]) -> dict[str, Any]:
    return c.call(power.get_boot_device(c, p["node"]))


METHODS: dict[str, Method] = {
    "provision": lambda c, p: provision.accept(c, p["node"], p["verb"], p["args"]),
    "set_power": lambda c, p: power.accept_power(c, p["node"], p["target"], p["timeout"]),
    "set_boot_device": lambda c, p: c.call(
        power.set_boot_device(c, p["node"], p["device"], p["persistent"])
    ),
    "get_boot_device": _boot_device,
    "supported_boot_devices": lambda c, p: load_task(
        c, p["node"], lock=False
    ).management.supported_boot_devices(),
    "set_boot_mode": lambda c, p: c.call(power.set_boot_mode(c, p["node"], p["mode"])),
    "validate": lambda c, p: validate_node(load_task(c, p["node"], lock=False)),
    "lookup": lambda c, p: agent.lookup(c, p["macs"], p.get("node") or p.get("node_uuid")),
    "heartbeat": lambda c, p: agent.heartbeat(
        c, p["node"], p["callback_url"], p["agent_version"], p["agent_token"]
    ),
    "continue_inspection": lambda c, p: agent.continue_inspection(c, p["data"]),
}
"""Every operation a conductor serves; params are JSON, ``node`` is the node's UUID."""


def ring_key(session: Session, ident: str) -> tuple[str, str]:
    """A node's UUID and conductor group, which place it on the ring; NotFound as get_node.

    Two columns instead of the whole row with its dozen JSON columns: every routed call reads
    this once in the API and once in the conductor.
    """
    column = models.Node.uuid if is_uuid(ident) else models.Node.name
    row = session.execute(
        select(models.Node.uuid, models.Node.conductor_group).where(column == ident)
    ).first()
    if row is None:
        raise NotFound(f"Node {ident} could not be found.")
    return str(row.uuid), str(row.conductor_group or "")


def dispatch(conductor: Conductor, method: str, params: dict[str, Any]) -> Any:
    """Run ``method`` here if this conductor owns ``params['node']``; WrongConductor if not."""
    node = params.get("node")
    if node is not None:
        if "ring_group" in params:  # the caller read it a moment ago: trust it, save a query
            uuid, group = str(node), str(params["ring_group"] or "")
        else:
            with conductor.services.db.read() as session:
                uuid, group = ring_key(session, str(node))
        view = conductor.ring_cache.get()
        if not view.owns(conductor.hostname, uuid, group):
            view = conductor.ring_cache.refresh()
            if not view.owns(conductor.hostname, uuid, group):
                raise WrongConductor(
                    f"Conductor {conductor.hostname} does not own node {uuid} (its owner is "
                    f"{view.owner(uuid, group)}); the caller should refresh its hash ring."
                )
    return METHODS[method](conductor, params)


def serve(conductor: Conductor, host: str = "127.0.0.1", port: int = 0) -> RpcServer:
    """Start the conductor's JSON-RPC endpoint; the caller records ``.url`` and stops it.

    Raises ConfigError for ``noauth`` off loopback (unless ``allow_open_rpc``) and for
    ``http_basic`` without credentials, before listening.
    """
    settings = conductor.services.settings.json_rpc
    check_rpc_exposure(settings, host)
    required = credentials(settings)

    def bind(name: str) -> Callable[[dict[str, Any]], Any]:
        return lambda params: dispatch(conductor, name, params)

    return RpcServer({name: bind(name) for name in METHODS}, host, port, required)


class ConductorAPI:
    """The conductor operations behind the API's asynchronous and driver-backed endpoints.

    ``local`` is the conductor in this process (``ingot serve``), or None in an API-only
    process (``ingot api``), which routes every call over JSON-RPC.
    """

    def __init__(self, services: Services, local: Conductor | None = None) -> None:
        self.services = services
        self.local = local
        self.conductor = local  # the agent routes' direct path when a conductor runs here
        cfg = services.settings.conductor
        self.ring: RingCache = (
            local.ring_cache
            if local is not None
            else RingCache(
                services.db,
                heartbeat_timeout=cfg.heartbeat_timeout,
                partition_exponent=cfg.hash_partition_exponent,
                max_age=min(cfg.heartbeat_interval, 10.0),
            )
        )
        self.client = RpcClient(credentials=credentials(services.settings.json_rpc))

    def close(self) -> None:
        self.client.close()

    # --- ownership (for the node's ``conductor`` field and ``?conductor=``) -----------------

    def owner_of(self, node: Any) -> str | None:
        try:
            return self.ring.get().owner(node.uuid, node.conductor_group)
        except IngotError:
            return None

    def nodes_owned_by(self, session: Session, hostname: str) -> list[int]:
        view = self.ring.get()
        rows = session.execute(
            select(models.Node.id, models.Node.uuid, models.Node.conductor_group)
        )
        return [r.id for r in rows if view.owns(hostname, r.uuid, r.conductor_group)]

    # --- routing -----------------------------------------------------------------------

    def _send(
        self, uuid: str | None, group: str | None, method: str, params: dict[str, Any]
    ) -> Any:
        """Call ``method`` on the owner of node ``uuid`` (any live conductor when None)."""
        for attempt in range(2):
            view = self.ring.get() if attempt == 0 else self.ring.refresh()
            if uuid is not None:
                owner = view.owner(uuid, group)
            elif self.local is not None:
                owner = self.local.hostname
            elif view.conductors:
                owner = sorted(view.conductors)[0]
            else:
                raise ConductorUnreachable("No conductor is alive; start `ingot conductor`.")
            if self.local is not None and owner == self.local.hostname:
                # Same process, same ring: the owner check of dispatch() would only re-read it.
                return METHODS[method](self.local, params)
            url = view.conductors[owner].rpc_url
            try:
                if not url:
                    raise ConductorUnreachable(
                        f"Conductor {owner} owns node {uuid} but registered no rpc_url; "
                        "it runs an Ingot version without RPC, restart it."
                    )
                sent = {**params, "ring_group": group} if uuid is not None else params
                return self.client.call(url, method, sent)
            except (ConductorUnreachable, WrongConductor):
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")

    def _route(self, ident: str, method: str, **params: Any) -> Any:
        with self.services.db.read() as session:
            uuid, group = ring_key(session, ident)
        return self._send(uuid, group, method, {"node": uuid, **params})

    def provision(self, ident: str, verb: str, args: dict[str, Any]) -> None:
        self._route(ident, "provision", verb=verb, args=args)

    def set_power(self, ident: str, target: str, timeout: int | None) -> None:
        self._route(ident, "set_power", target=target, timeout=timeout)

    def set_boot_device(self, ident: str, device: str, persistent: bool) -> None:
        self._route(ident, "set_boot_device", device=device, persistent=persistent)

    def get_boot_device(self, ident: str) -> dict[str, Any]:
        return dict(self._route(ident, "get_boot_device"))

    def supported_boot_devices(self, ident: str) -> list[str]:
        return list(self._route(ident, "supported_boot_devices"))

    def set_boot_mode(self, ident: str, mode: str) -> None:
        self._route(ident, "set_boot_mode", mode=mode)

    def validate(self, ident: str) -> dict[str, dict[str, Any]]:
        return dict(self._route(ident, "validate"))

    # --- the agent's calls -------------------------------------------------------------

    def _node_by_macs(
        self, macs: list[str], in_states: frozenset[str] | None
    ) -> models.Node | None:
        if not macs:
            return None
        stmt = (
            select(models.Node)
            .join(models.Port, models.Port.node_id == models.Node.id)
            .where(models.Port.address.in_(macs))
        )
        if in_states is not None:
            stmt = stmt.where(models.Node.provision_state.in_(in_states))
        with self.services.db.read() as session:
            return session.scalars(stmt).first()

    def lookup(self, macs: list[str], node_uuid: str | None) -> dict[str, Any]:
        node: models.Node | None
        if node_uuid:
            with self.services.db.read() as session:
                node = get_node(session, node_uuid)
        else:
            node = self._node_by_macs(macs, None)
        params = {"macs": macs, "node_uuid": node_uuid}
        if node is None:  # any conductor answers the "no such node" 404
            return dict(self._send(None, None, "lookup", params))
        return dict(self._send(node.uuid, node.conductor_group, "lookup",
                               {**params, "node": node.uuid}))  # fmt: skip

    def heartbeat(
        self, ident: str, callback_url: str, agent_version: str | None, agent_token: str | None
    ) -> None:
        self._route(ident, "heartbeat", callback_url=callback_url,
                    agent_version=agent_version, agent_token=agent_token)  # fmt: skip

    def continue_inspection(self, data: dict[str, Any]) -> dict[str, Any]:
        inventory = data.get("inventory")
        interfaces = inventory.get("interfaces", []) if isinstance(inventory, dict) else []
        macs = [str(i.get("mac_address", "")).lower() for i in interfaces if isinstance(i, dict)]
        node = self._node_by_macs(macs, frozenset({states.INSPECTWAIT, states.INSPECTING}))
        uuid, group = (node.uuid, node.conductor_group) if node else (None, None)
        params: dict[str, Any] = {"data": data} if uuid is None else {"data": data, "node": uuid}
        return dict(self._send(uuid, group, "continue_inspection", params))
