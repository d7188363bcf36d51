"""Node sub-resources: states, provision and power actions, management, maintenance,
validate, traits, VIFs and history."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, Response
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ingot import states
from ingot.api.context import Ctx, get_ctx, json_body
from ingot.api.resource import iso
from ingot.conductor.rpc import ConductorAPI
from ingot.db import history, models
from ingot.db.queries import get_node
from ingot.errors import Conflict, InvalidInput, NodeLocked, NotAcceptable, NotFound
from ingot.values import parse_bool

router = APIRouter()
_TRAIT_RE = re.compile(r"^(CUSTOM_[A-Z0-9_]+|[A-Z][A-Z0-9_]+)$")
_MAX_TRAITS = 50


def conductor_of(ctx: Ctx) -> ConductorAPI:
    conductor = ctx.services.conductor
    if conductor is None:
        raise NotFound("No conductor runs in this process; start `ingot serve` or a conductor.")
    return conductor


def _accepted(ctx: Ctx, ident: str) -> Response:
    return Response(
        status_code=202, headers={"Location": ctx.link("nodes", ident, "states")[0]["href"]}
    )


def _obj(body: Any, what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidInput(f"The body of {what} must be a JSON object.")
    return body


@router.get("/v1/nodes/{ident}/states")
def get_states(ident: str, ctx: Ctx = Depends(get_ctx)) -> dict[str, Any]:
    with ctx.db.read() as session:
        n = get_node(session, ident)
        out: dict[str, Any] = {
            "console_enabled": n.console_enabled,
            "last_error": n.last_error,
            "power_state": n.power_state,
            "provision_state": n.provision_state,
            "target_power_state": n.target_power_state,
            "target_provision_state": n.target_provision_state,
            "provision_updated_at": iso(n.provision_updated_at),
        }
        if ctx.has("node.raid_config"):
            out.update(raid_config=n.raid_config, target_raid_config=n.target_raid_config)
        if ctx.has("node.boot_mode"):
            out.update(boot_mode=n.boot_mode, secure_boot=n.secure_boot)
        return out


_VERB_FEATURES = {
    "manage": "manageable_state", "provide": "manageable_state", "inspect": "inspect",
    "clean": "manual_clean", "abort": "abort_verb", "adopt": "adopt_verb",
    "rescue": "rescue_verbs", "unrescue": "rescue_verbs", "deploy": "deploy_undeploy_verbs",
    "undeploy": "deploy_undeploy_verbs", "unhold": "unhold_verb", "service": "service_verb",
}  # fmt: skip
_PROVISION_KEYS = {"target", "configdrive", "clean_steps", "deploy_steps", "service_steps",
                   "rescue_password", "disable_ramdisk", "runbook"}  # fmt: skip


@router.put("/v1/nodes/{ident}/states/provision", status_code=202)
def set_provision(
    ident: str, body: Any = Depends(json_body), ctx: Ctx = Depends(get_ctx)
) -> Response:
    args = _obj(body, "a provision request")
    unknown = set(args) - _PROVISION_KEYS
    if unknown:
        raise InvalidInput(
            f"Unknown field(s) in provision request: {', '.join(sorted(unknown))}. "
            f"Accepted: {', '.join(sorted(_PROVISION_KEYS))}."
        )
    verb = args.get("target")
    if not isinstance(verb, str):
        raise InvalidInput('A provision request needs \'target\', e.g. {"target": "manage"}.')
    feature = _VERB_FEATURES.get(verb)
    if feature and not ctx.has(feature):
        raise NotAcceptable(f"The '{verb}' action needs a newer API version; send "
                            "X-OpenStack-Ironic-API-Version: latest.")  # fmt: skip
    drive = args.get("configdrive")
    if isinstance(drive, dict) and not ctx.has("configdrive_dict"):
        raise NotAcceptable("A configdrive given as a JSON object needs API version 1.56.")
    if (
        isinstance(drive, dict)
        and "vendor_data" in drive
        and not ctx.has("configdrive_vendor_data")
    ):
        raise NotAcceptable("configdrive vendor_data needs API version 1.59.")
    if drive is not None and verb not in ("active", "deploy", "rebuild"):
        raise InvalidInput(
            "A configdrive can only be given with the active/deploy/rebuild actions."
        )
    if args.get("clean_steps") is not None and verb != "clean":
        raise InvalidInput("'clean_steps' can only be given with the 'clean' action.")
    if args.get("runbook") is not None:
        args = {**args, **_runbook_steps(ctx, verb, args)}
    conductor_of(ctx).provision(ident, verb, args)
    return _accepted(ctx, ident)


def _runbook_steps(ctx: Ctx, verb: str, args: dict[str, Any]) -> dict[str, Any]:
    if verb not in ("clean", "service"):
        raise InvalidInput("A runbook can only be used with the 'clean' or 'service' actions.")
    if args.get(f"{verb}_steps"):
        raise InvalidInput(f"Give either a runbook or {verb}_steps, not both.")
    from ingot.db.queries import get_by_uuid

    with ctx.db.read() as session:
        runbook = get_by_uuid(session, models.Runbook, str(args["runbook"]), "runbook")
        steps = sorted(runbook.steps, key=lambda s: s.get("order", 0))
    return {f"{verb}_steps": [{k: v for k, v in s.items() if k != "order"} for s in steps]}


@router.put("/v1/nodes/{ident}/states/power", status_code=202)
def set_power(ident: str, body: Any = Depends(json_body), ctx: Ctx = Depends(get_ctx)) -> Response:
    args = _obj(body, "a power request")
    target = args.get("target")
    if not isinstance(target, str):
        raise InvalidInput('A power request needs \'target\', e.g. {"target": "power on"}.')
    if target in (states.SOFT_POWER_OFF, states.SOFT_REBOOT) and not ctx.has("soft_power"):
        raise NotAcceptable("Soft power actions need API version 1.27 or later.")
    timeout = args.get("timeout")
    conductor_of(ctx).set_power(ident, target, timeout)
    return _accepted(ctx, ident)


@router.put("/v1/nodes/{ident}/states/raid", status_code=204)
def set_raid(ident: str, body: Any = Depends(json_body), ctx: Ctx = Depends(get_ctx)) -> Response:
    config = _obj(body, "a RAID configuration")
    disks = config.get("logical_disks")
    if not isinstance(disks, list):
        raise InvalidInput("A RAID configuration needs a 'logical_disks' list.")
    for i, disk in enumerate(disks):
        if not isinstance(disk, dict) or "size_gb" not in disk or "raid_level" not in disk:
            raise InvalidInput(f"logical_disks[{i}] needs 'size_gb' and 'raid_level'.")

    def write(session: Session) -> None:
        node = get_node(session, ident)
        if node.reservation:
            raise NodeLocked(node.uuid, node.reservation)
        node.target_raid_config = config

    ctx.db.run_write(write)
    return Response(status_code=204)


@router.put("/v1/nodes/{ident}/states/boot_mode", status_code=202)
def set_boot_mode(
    ident: str, body: Any = Depends(json_body), ctx: Ctx = Depends(get_ctx)
) -> Response:
    target = _obj(body, "a boot mode request").get("target")
    conductor_of(ctx).set_boot_mode(ident, str(target))
    return _accepted(ctx, ident)


@router.put("/v1/nodes/{ident}/states/secure_boot", status_code=202)
def set_secure_boot(
    ident: str, body: Any = Depends(json_body), ctx: Ctx = Depends(get_ctx)
) -> Response:
    parse_bool("target", _obj(body, "a secure boot request").get("target"))
    raise InvalidInput(
        f"Node {ident}'s management interface can not change secure boot; change it in the "
        "firmware setup."
    )


@router.get("/v1/nodes/{ident}/states/console")
def get_console(ident: str, ctx: Ctx = Depends(get_ctx)) -> dict[str, Any]:
    with ctx.db.read() as session:
        node = get_node(session, ident)
        return {"console_enabled": node.console_enabled, "console_info": None}


@router.get("/v1/nodes/{ident}/management/boot_device")
def get_boot_device(ident: str, ctx: Ctx = Depends(get_ctx)) -> dict[str, Any]:
    return conductor_of(ctx).get_boot_device(ident)


@router.put("/v1/nodes/{ident}/management/boot_device", status_code=204)
def put_boot_device(
    ident: str, body: Any = Depends(json_body), ctx: Ctx = Depends(get_ctx)
) -> Response:
    args = _obj(body, "a boot device request")
    device = args.get("boot_device")
    if not isinstance(device, str):
        raise InvalidInput('A boot device request needs \'boot_device\', e.g. "pxe" or "disk".')
    persistent = parse_bool("persistent", args.get("persistent", False))
    conductor_of(ctx).set_boot_device(ident, device, persistent)
    return Response(status_code=204)


@router.get("/v1/nodes/{ident}/management/boot_device/supported")
def supported_boot_devices(ident: str, ctx: Ctx = Depends(get_ctx)) -> dict[str, Any]:
    return {"supported_boot_devices": conductor_of(ctx).supported_boot_devices(ident)}


def _set_maintenance(ctx: Ctx, ident: str, on: bool, reason: str | None) -> None:
    def write(session: Session) -> None:
        node = get_node(session, ident)
        if node.reservation:
            raise NodeLocked(node.uuid, node.reservation)
        node.maintenance = on
        node.maintenance_reason = reason if on else None
        if not on:
            node.fault = None
        text = f"Maintenance {'set' if on else 'unset'}" + (f": {reason}" if reason else "")
        history.record(session, node, text, event_type="maintenance", user=ctx.user)

    ctx.db.run_write(write)


@router.put("/v1/nodes/{ident}/maintenance", status_code=202)
def put_maintenance(
    ident: str, body: Any = Depends(json_body), ctx: Ctx = Depends(get_ctx)
) -> Response:
    if body is not None and not isinstance(body, dict):
        raise InvalidInput('The body of a maintenance request must be {"reason": "..."} or empty.')
    reason = body.get("reason") if isinstance(body, dict) else None
    if reason is not None and not isinstance(reason, str):
        raise InvalidInput("'reason' must be a string.")
    _set_maintenance(ctx, ident, True, reason)
    return Response(status_code=202)


@router.delete("/v1/nodes/{ident}/maintenance", status_code=202)
def delete_maintenance(ident: str, ctx: Ctx = Depends(get_ctx)) -> Response:
    _set_maintenance(ctx, ident, False, None)
    return Response(status_code=202)


@router.get("/v1/nodes/{ident}/validate")
def validate(ident: str, ctx: Ctx = Depends(get_ctx)) -> dict[str, Any]:
    return conductor_of(ctx).validate(ident)


# --- traits --------------------------------------------------------------------------------


def _check_trait(trait: Any) -> str:
    if not isinstance(trait, str) or not _TRAIT_RE.match(trait) or len(trait) > 255:
        raise InvalidInput(
            f"Invalid trait {trait!r}: a trait is a standard trait (upper case, e.g. "
            "HW_CPU_X86_AVX2) or a custom one matching CUSTOM_[A-Z0-9_]+."
        )
    return trait


def _set_traits(ctx: Ctx, ident: str, traits: list[str], replace: bool) -> None:
    def write(session: Session) -> None:
        node = get_node(session, ident)
        if node.reservation:
            raise NodeLocked(node.uuid, node.reservation)
        current = set(
            session.scalars(
                select(models.NodeTrait.trait).where(models.NodeTrait.node_id == node.id)
            )
        )
        wanted = set(traits) if replace else current | set(traits)
        if len(wanted) > _MAX_TRAITS:
            raise InvalidInput(f"A node can have at most {_MAX_TRAITS} traits.")
        session.execute(delete(models.NodeTrait).where(models.NodeTrait.node_id == node.id))
        session.add_all(models.NodeTrait(node_id=node.id, trait=t) for t in sorted(wanted))

    ctx.db.run_write(write)


@router.get("/v1/nodes/{ident}/traits")
def get_traits(ident: str, ctx: Ctx = Depends(get_ctx)) -> dict[str, Any]:
    with ctx.db.read() as session:
        node = get_node(session, ident)
        rows = session.scalars(
            select(models.NodeTrait.trait)
            .where(models.NodeTrait.node_id == node.id)
            .order_by(models.NodeTrait.trait)
        )
        return {"traits": list(rows)}


@router.put("/v1/nodes/{ident}/traits", status_code=204)
def put_traits(ident: str, body: Any = Depends(json_body), ctx: Ctx = Depends(get_ctx)) -> Response:
    traits = _obj(body, "a traits request").get("traits")
    if not isinstance(traits, list):
        raise InvalidInput('Send {"traits": ["CUSTOM_X", ...]}.')
    _set_traits(ctx, ident, [_check_trait(t) for t in traits], replace=True)
    return Response(status_code=204)


@router.put("/v1/nodes/{ident}/traits/{trait}", status_code=204)
def put_trait(ident: str, trait: str, ctx: Ctx = Depends(get_ctx)) -> Response:
    _set_traits(ctx, ident, [_check_trait(trait)], replace=False)
    return Response(status_code=204)


@router.delete("/v1/nodes/{ident}/traits", status_code=204)
def delete_traits(ident: str, ctx: Ctx = Depends(get_ctx)) -> Response:
    _set_traits(ctx, ident, [], replace=True)
    return Response(status_code=204)


@router.delete("/v1/nodes/{ident}/traits/{trait}", status_code=204)
def delete_trait(ident: str, trait: str, ctx: Ctx = Depends(get_ctx)) -> Response:
    def write(session: Session) -> None:
        node = get_node(session, ident)
        if node.reservation:
            raise NodeLocked(node.uuid, node.reservation)
        result = session.execute(
            delete(models.NodeTrait).where(
                models.NodeTrait.node_id == node.id, models.NodeTrait.trait == trait
            )
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            raise NotFound(f"Node {ident} has no trait {trait}.")

    ctx.db.run_write(write)
    return Response(status_code=204)


# --- VIFs (flat networking: recorded on the ports, as Ironic's tenant_vif_port_id) --------

_VIF_KEY = "tenant_vif_port_id"


@router.get("/v1/nodes/{ident}/vifs")
def get_vifs(ident: str, ctx: Ctx = Depends(get_ctx)) -> dict[str, Any]:
    with ctx.db.read() as session:
        node = get_node(session, ident)
        ports = session.scalars(select(models.Port).where(models.Port.node_id == node.id))
        return {
            "vifs": [
                {"id": p.internal_info[_VIF_KEY]} for p in ports if p.internal_info.get(_VIF_KEY)
            ]
        }


@router.post("/v1/nodes/{ident}/vifs", status_code=204)
def attach_vif(ident: str, body: Any = Depends(json_body), ctx: Ctx = Depends(get_ctx)) -> Response:
    vif = _obj(body, "a VIF request").get("id")
    if not isinstance(vif, str) or not vif:
        raise InvalidInput('Send {"id": "<VIF id>"}.')

    def write(session: Session) -> None:
        node = get_node(session, ident)
        ports = list(session.scalars(select(models.Port).where(models.Port.node_id == node.id)))
        if any(p.internal_info.get(_VIF_KEY) == vif for p in ports):
            raise Conflict(f"VIF {vif} is already attached to node {node.uuid}.")
        free = [p for p in ports if not p.internal_info.get(_VIF_KEY)]
        if not free:
            raise Conflict(f"Node {node.uuid} has no free port to attach VIF {vif} to; add a port.")
        port = sorted(free, key=lambda p: (not p.pxe_enabled, p.id))[0]
        port.internal_info = {**port.internal_info, _VIF_KEY: vif}

    ctx.db.run_write(write)
    return Response(status_code=204)


@router.delete("/v1/nodes/{ident}/vifs/{vif}", status_code=204)
def detach_vif(ident: str, vif: str, ctx: Ctx = Depends(get_ctx)) -> Response:
    def write(session: Session) -> None:
        node = get_node(session, ident)
        for port in session.scalars(select(models.Port).where(models.Port.node_id == node.id)):
            if port.internal_info.get(_VIF_KEY) == vif:
                port.internal_info = {k: v for k, v in port.internal_info.items() if k != _VIF_KEY}
                return
        raise NotFound(f"VIF {vif} is not attached to node {node.uuid}.")

    ctx.db.run_write(write)
    return Response(status_code=204)


# --- history ---------------------------------------------------------------------------------


def _event(ctx: Ctx, node_uuid: str, e: models.NodeHistory, detail: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "uuid": e.uuid,
        "created_at": iso(e.created_at),
        "severity": e.severity,
        "event": e.event,
        "links": [{"href": f"{ctx.base_url}/v1/nodes/{node_uuid}/history/{e.uuid}", "rel": "self"}],
    }
    if detail:
        out.update(conductor=e.conductor, event_type=e.event_type, user=e.user)
    return out


@router.get("/v1/nodes/{ident}/history")
def get_history(
    ident: str, detail: str | None = None, ctx: Ctx = Depends(get_ctx)
) -> dict[str, Any]:
    if not ctx.has("history"):
        raise NotFound("Node history needs API version 1.78 or later.")
    show = parse_bool("detail", detail) if detail else False
    with ctx.db.read() as session:
        node = get_node(session, ident)
        rows = session.scalars(
            select(models.NodeHistory)
            .where(models.NodeHistory.node_id == node.id)
            .order_by(models.NodeHistory.id)
        )
        return {"history": [_event(ctx, node.uuid, e, show) for e in rows]}


@router.get("/v1/nodes/{ident}/history/{event}")
def get_history_event(ident: str, event: str, ctx: Ctx = Depends(get_ctx)) -> dict[str, Any]:
    with ctx.db.read() as session:
        node = get_node(session, ident)
        found = session.scalar(
            select(models.NodeHistory).where(
                models.NodeHistory.node_id == node.id, models.NodeHistory.uuid == event
            )
        )
        if found is None:
            raise NotFound(f"Event {event} of node {ident} could not be found.")
        return _event(ctx, node.uuid, found, True)
