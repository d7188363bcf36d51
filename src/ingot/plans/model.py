"""Deployment plans: what an operator wants ("3 controllers, 20 computes"), validated up front.

A plan is a YAML mapping::

    name: overcloud                  # optional; defaults to the file name
    defaults:                        # optional; every role starts from these keys
      resource_class: baremetal
      image: {source: http://images/overcloud.qcow2, checksum: "sha256:..."}
      config_drive: {ssh_keys: ["ssh-ed25519 AAAA... ops"]}
    roles:
      controller:
        count: 3
        capabilities: {profile: control}
        hostname_format: "overcloud-controller-{index}"
      compute:
        count: 20
        traits: [CUSTOM_GPU]
        config_drive: {network: [{device: eth0, address: dhcp}]}

Every problem is collected and reported at once, each naming the role and the field, so an
operator fixes a plan in one go rather than one error per run.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from ingot.configdrive.metadata import check_hostname, normalize_public_keys
from ingot.errors import IngotError, InvalidInput
from ingot.images.checksum import parse as parse_checksum

# Plan and role names end up in allocation names and host names: keep them to host-name
# characters, so ``<plan>-<role>-<index>`` is a valid allocation name and a default host name.
_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_TRAIT = re.compile(r"^[A-Z0-9_]{1,255}$")
_PLAN_KEYS = frozenset({"name", "defaults", "roles"})
_ROLE_KEYS = frozenset(
    {
        "count",
        "resource_class",
        "traits",
        "capabilities",
        "candidates",
        "image",
        "hostname_format",
        "config_drive",
        "root_device",
    }
)
_IMAGE_KEYS = frozenset({"source", "checksum", "kernel", "ramdisk"})
_DRIVE_KEYS = frozenset({"ssh_keys", "user_data", "user_data_file", "network", "meta_data"})
DEFAULT_HOSTNAME_FORMAT = "{plan}-{role}-{index}"

ReadFile = Callable[[str], str]


class PlanInvalid(InvalidInput):
    """The plan has problems; ``problems`` lists each one ("role 'x': field: what to do")."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("Invalid deployment plan:\n  " + "\n  ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Image:
    """What to write to the disk: instance_info's image fields, as Ironic names them."""

    source: str
    checksum: str | None = None
    kernel: str | None = None
    ramdisk: str | None = None

    def instance_info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"image_source": self.source}
        if self.checksum:
            info["image_checksum"] = self.checksum
        if self.kernel and self.ramdisk:
            info.update(kernel=self.kernel, ramdisk=self.ramdisk, image_type="partition")
        return info


@dataclass(frozen=True)
class DriveSpec:
    """The per-role half of a config drive; the host name is added per node."""

    ssh_keys: tuple[str, ...] = ()
    user_data: str | None = None
    network: list[Any] | dict[str, Any] | None = None
    meta_data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Role:
    """One role of a plan: how many nodes, which ones qualify, and what they get."""

    name: str
    count: int
    resource_class: str
    image: Image
    traits: tuple[str, ...] = ()
    capabilities: dict[str, str] = field(default_factory=dict)
    candidates: tuple[str, ...] = ()
    hostname_format: str = DEFAULT_HOSTNAME_FORMAT
    config_drive: DriveSpec = field(default_factory=DriveSpec)
    root_device: dict[str, Any] | None = None

    def hostname(self, plan: str, index: int) -> str:
        """``{index}``/``%index%``, ``{role}`` and ``{plan}`` filled in."""
        return render_hostname(self.hostname_format, plan=plan, role=self.name, index=index)

    def criteria(self) -> str:
        """``resource class baremetal, traits CUSTOM_X, profile=control`` for messages."""
        parts = [f"resource class {self.resource_class}"]
        if self.traits:
            parts.append("traits " + ", ".join(self.traits))
        parts += [f"{k}={v}" for k, v in self.capabilities.items()]
        if self.candidates:
            parts.append("nodes " + ", ".join(self.candidates))
        return ", ".join(parts)


@dataclass(frozen=True)
class Plan:
    name: str
    roles: dict[str, Role]

    def allocation_name(self, role: str, index: int) -> str:
        """How an instance is tracked across runs: the allocation ``<plan>-<role>-<index>``."""
        return f"{self.name}-{role}-{index}"


def render_hostname(fmt: str, *, plan: str, role: str, index: int) -> str:
    # %index% is TripleO's spelling (overcloud-controller-%index%); accept both.
    text = fmt.replace("%index%", "{index}").replace("%stackname%", "{plan}")
    return text.format(plan=plan, role=role, index=index)


def load_plan(text: str, *, default_name: str, read_file: ReadFile | None = None) -> Plan:
    """Parse and validate a plan's YAML; raises PlanInvalid listing every problem."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PlanInvalid([f"not valid YAML: {exc}"]) from None
    return parse_plan(data, default_name=default_name, read_file=read_file)


def parse_plan(data: Any, *, default_name: str, read_file: ReadFile | None = None) -> Plan:
    """Validate a plan already parsed from YAML/JSON. ``read_file`` reads ``user_data_file``."""
    problems: list[str] = []
    if not isinstance(data, Mapping):
        raise PlanInvalid(["the plan must be a mapping with a 'roles' key"])
    for key in sorted(set(data) - _PLAN_KEYS):
        problems.append(f"{key}: unknown key; a plan has {', '.join(sorted(_PLAN_KEYS))}")
    name = data.get("name", default_name)
    if not isinstance(name, str) or not _NAME.match(name):
        problems.append(
            f"name: {name!r} is not usable; use letters, digits and '-' (it prefixes "
            "allocation names and host names)"
        )
        name = "plan"
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, Mapping):
        problems.append("defaults: must be a mapping of role keys")
        defaults = {}
    for key in sorted(set(defaults) - _ROLE_KEYS):
        problems.append(f"defaults.{key}: unknown key; accepted: {', '.join(sorted(_ROLE_KEYS))}")
    roles_raw = data.get("roles")
    if not isinstance(roles_raw, Mapping) or not roles_raw:
        problems.append("roles: missing; list roles by name, e.g. roles: {compute: {count: 2}}")
        roles_raw = {}
    roles: dict[str, Role] = {}
    for role_name, raw in roles_raw.items():
        parser = _RoleParser(str(role_name), problems, read_file)
        if not isinstance(role_name, str) or not _NAME.match(role_name):
            parser.add("", "the role name must be letters, digits and '-' (at most 63)")
        if not isinstance(raw, Mapping):
            parser.add("", "must be a mapping with at least 'count'")
            continue
        role = parser.parse(_merge(defaults, raw))
        if role is not None:
            roles[role.name] = role
    plan = Plan(name=name, roles=roles)
    from ingot.plans.drive import drive_problems  # drive.py builds on this module's types

    for role in roles.values():
        problems += drive_problems(plan, role)
    problems += hostname_collisions(plan)
    if problems:
        raise PlanInvalid(problems)
    return plan


def _merge(defaults: Mapping[str, Any], role: Mapping[str, Any]) -> dict[str, Any]:
    """Role keys win; ``config_drive`` and ``image`` merge key by key."""
    out = {**defaults, **role}
    for key in ("config_drive", "image"):
        base, own = defaults.get(key), role.get(key)
        if isinstance(base, Mapping) and isinstance(own, Mapping):
            out[key] = {**base, **own}
    return out


def hostname_collisions(plan: Plan) -> list[str]:
    """Two instances (of any roles) that would get the same host name."""
    seen: dict[str, str] = {}
    problems: list[str] = []
    for role in plan.roles.values():
        for index in range(role.count):
            try:
                host = role.hostname(plan.name, index).lower()
            except (KeyError, IndexError, ValueError):
                return problems  # reported by the role's own check
            where = f"{role.name}[{index}]"
            if host in seen:
                problems.append(
                    f"role '{role.name}': hostname_format: {where} and {seen[host]} would both "
                    f"be {host!r}; put {{index}} and {{role}} in the format"
                )
                break
            seen[host] = where
    return problems


class _RoleParser:
    """Checks one role's keys, appending "role 'x': field: problem" lines."""

    def __init__(self, role: str, problems: list[str], read_file: ReadFile | None) -> None:
        self.role = role
        self.problems = problems
        self.read_file = read_file

    def add(self, key: str, message: str) -> None:
        where = f"role '{self.role}'" + (f": {key}" if key else "")
        self.problems.append(f"{where}: {message}")

    def parse(self, raw: Mapping[str, Any]) -> Role | None:
        before = len(self.problems)
        for key in sorted(set(raw) - _ROLE_KEYS):
            self.add(key, f"unknown key; accepted: {', '.join(sorted(_ROLE_KEYS))}")
        count = raw.get("count")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            self.add("count", f"must be a whole number of nodes >= 0, got {count!r}")
            count = 0
        rclass = raw.get("resource_class")
        if not isinstance(rclass, str) or not rclass:
            self.add("resource_class", "missing; set it here or in defaults (e.g. baremetal)")
        traits = self._traits(raw.get("traits"))
        caps = self._capabilities(raw.get("capabilities"))
        candidates = self._strings("candidates", raw.get("candidates"))
        image = self._image(raw.get("image"))
        fmt = self._hostname_format(raw.get("hostname_format", DEFAULT_HOSTNAME_FORMAT), count)
        drive = self._drive(raw.get("config_drive"))
        root = raw.get("root_device")
        if root is not None and (not isinstance(root, Mapping) or not root):
            self.add("root_device", "must be a mapping of root device hints, e.g. {size: 100}")
        if len(self.problems) > before or image is None or not isinstance(rclass, str):
            return None
        return Role(
            name=self.role, count=count, resource_class=rclass, image=image,
            traits=traits, capabilities=caps, candidates=candidates, hostname_format=fmt,
            config_drive=drive, root_device=dict(root) if root else None,
        )  # fmt: skip

    def _strings(self, key: str, value: Any) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.add(key, "must be a list of strings")
            return ()
        return tuple(value)

    def _traits(self, value: Any) -> tuple[str, ...]:
        traits = self._strings("traits", value)
        bad = [t for t in traits if not _TRAIT.match(t)]
        if bad:
            self.add("traits", f"{', '.join(bad)}: a trait is upper case, e.g. CUSTOM_GPU")
        return traits

    def _capabilities(self, value: Any) -> dict[str, str]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.add("capabilities", "must be a mapping, e.g. {profile: compute}")
            return {}
        bad = [str(k) for k, v in value.items() if not isinstance(v, str | int | float | bool)]
        if bad:
            self.add("capabilities", f"{', '.join(bad)}: values must be strings")
        return {str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in value.items()}

    def _image(self, value: Any) -> Image | None:
        if not isinstance(value, Mapping) or not value.get("source"):
            self.add("image.source", "missing; give the image URL or path (and its checksum)")
            return None
        for key in sorted(set(value) - _IMAGE_KEYS):
            self.add(f"image.{key}", f"unknown key; accepted: {', '.join(sorted(_IMAGE_KEYS))}")
        texts = {k: value.get(k) for k in _IMAGE_KEYS}
        for key, text in texts.items():
            if text is not None and not isinstance(text, str):
                self.add(f"image.{key}", "must be a string")
                return None
        source, checksum = str(texts["source"]), texts["checksum"]
        if checksum:
            try:
                parse_checksum(checksum)
            except InvalidInput as exc:
                self.add("image.checksum", exc.message)
        elif source.startswith(("http://", "https://")):
            self.add("image.checksum", "missing; an HTTP image needs sha256:<hex> or a URL")
        if bool(texts["kernel"]) != bool(texts["ramdisk"]):
            self.add("image", "a partition image needs both kernel and ramdisk")
        return Image(source, checksum, texts["kernel"], texts["ramdisk"])

    def _hostname_format(self, fmt: Any, count: int) -> str:
        if not isinstance(fmt, str) or not fmt:
            self.add("hostname_format", "must be a string like 'compute-{index}'")
            return DEFAULT_HOSTNAME_FORMAT
        try:
            sample = render_hostname(fmt, plan="plan", role=self.role, index=0)
            check_hostname(sample)
        except (KeyError, IndexError, ValueError) as exc:
            self.add("hostname_format", f"{fmt!r}: use only {{index}}, {{role}}, {{plan}} ({exc})")
            return fmt
        except IngotError as exc:
            self.add("hostname_format", exc.message)
            return fmt
        if count > 1 and "{index}" not in fmt and "%index%" not in fmt:
            self.add("hostname_format", f"{fmt!r} has no {{index}}: every node would share it")
        return fmt

    def _drive(self, value: Any) -> DriveSpec:
        if value is None:
            return DriveSpec()
        if not isinstance(value, Mapping):
            self.add("config_drive", "must be a mapping (ssh_keys, user_data, network...)")
            return DriveSpec()
        for key in sorted(set(value) - _DRIVE_KEYS):
            self.add(f"config_drive.{key}", f"unknown key; accepted: {sorted(_DRIVE_KEYS)}")
        keys = self._strings("config_drive.ssh_keys", value.get("ssh_keys"))
        try:
            normalize_public_keys(list(keys))
        except IngotError as exc:
            self.add("config_drive.ssh_keys", exc.message)
        user_data = self._user_data(value)
        network = value.get("network")
        if network is not None and not isinstance(network, list | dict):
            self.add("config_drive.network", "must be a list of interfaces (or network_data)")
            network = None
        meta = value.get("meta_data") or {}
        if not isinstance(meta, Mapping):
            self.add("config_drive.meta_data", "must be a mapping of extra meta_data keys")
            meta = {}
        return DriveSpec(keys, user_data, network, dict(meta))

    def _user_data(self, value: Mapping[str, Any]) -> str | None:
        inline, path = value.get("user_data"), value.get("user_data_file")
        if inline is not None and path is not None:
            self.add("config_drive", "give user_data or user_data_file, not both")
            return None
        if path is not None:
            if not isinstance(path, str) or self.read_file is None:
                self.add("config_drive.user_data_file", "must be a path to a file")
                return None
            try:
                return self.read_file(path)
            except OSError as exc:
                self.add("config_drive.user_data_file", f"cannot read {path}: {exc.strerror}")
                return None
        if inline is None or isinstance(inline, str):
            return inline
        if isinstance(inline, Mapping):
            # A mapping in a YAML plan is cloud-config, as an operator writes it.
            return "#cloud-config\n" + yaml.safe_dump(dict(inline), sort_keys=False)
        self.add("config_drive.user_data", "must be a string or a cloud-config mapping")
        return None
