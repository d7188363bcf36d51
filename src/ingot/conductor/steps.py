"""Clean, deploy and service steps: declared on interface methods, collected, ordered, checked.

A hardware interface marks a method as a step with :func:`clean_step`, :func:`deploy_step` or
:func:`service_step` (as Ironic drivers do); the conductor collects the node's steps with
:func:`collect_steps`, runs those with a priority above zero for automated cleaning and deploys
(highest first, ties broken by Ironic's interface order), and checks operator-supplied steps
(manual cleaning, servicing, ``deploy_steps``, runbooks) with :func:`validate_user_steps`.
Deploy templates and configuration change priorities with :func:`apply_overrides`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal, TypeVar

from ingot.errors import ConfigError, InvalidInput

StepKind = Literal["clean", "deploy", "service"]
KINDS: Final[tuple[StepKind, ...]] = ("clean", "deploy", "service")

F = TypeVar("F", bound=Callable[..., Any])

_ATTR: Final = "__ingot_steps__"

# Equal priorities run in this interface order, highest first (Ironic's *_INTERFACE_PRIORITY);
# interfaces not listed come last.
_INTERFACE_ORDER: Final[dict[str, int]] = {
    "vendor": 7,
    "power": 6,
    "management": 5,
    "firmware": 4,
    "deploy": 3,
    "bios": 2,
    "raid": 1,
}
INTERFACE_PRIORITY: Final[dict[StepKind, dict[str, int]]] = {
    "clean": _INTERFACE_ORDER,
    "deploy": _INTERFACE_ORDER,
    "service": {**_INTERFACE_ORDER, "network": 8},
}

FLOW_STEPS: Final = frozenset({"hold", "wait", "power_on", "power_off", "reboot"})
"""Steps the conductor itself carries out on any interface; no driver declares them."""

CORE_DEPLOY_STEP: Final = ("deploy", "deploy")
"""``deploy.deploy`` writes the image; user steps may disable it (priority 0), never move it."""


@dataclass(frozen=True, slots=True)
class StepSpec:
    """What a step decorator records on a method."""

    kind: StepKind
    priority: int
    argsinfo: Mapping[str, Mapping[str, Any]] | None
    abortable: bool
    requires_ramdisk: bool


@dataclass(frozen=True, slots=True)
class StepInfo:
    """One step a node's interfaces offer, with the args it will run with (if chosen)."""

    kind: StepKind
    interface: str
    step: str
    priority: int
    argsinfo: Mapping[str, Mapping[str, Any]] | None = None
    abortable: bool = False
    requires_ramdisk: bool = True
    args: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return (self.interface, self.step)

    def as_dict(self) -> dict[str, Any]:
        """The shape Ironic's API shows for an available step."""
        return {
            "interface": self.interface,
            "step": self.step,
            "priority": self.priority,
            "argsinfo": None
            if self.argsinfo is None
            else {k: dict(v) for k, v in self.argsinfo.items()},
            "abortable": self.abortable,
            "requires_ramdisk": self.requires_ramdisk,
        }

    def as_run_step(self) -> dict[str, Any]:
        """The shape of a step the conductor runs (``node.clean_step`` / ``deploy_step``)."""
        return {
            "interface": self.interface,
            "step": self.step,
            "priority": self.priority,
            "args": dict(self.args),
            "abortable": self.abortable,
        }


# ---------------------------------------------------------------------------------------------
# Declaring steps
# ---------------------------------------------------------------------------------------------


def _check_argsinfo(where: str, argsinfo: Mapping[str, Mapping[str, Any]] | None) -> None:
    # Drivers are code we ship; a bad declaration is caught when the driver module is imported.
    for arg, info in (argsinfo or {}).items():
        if not isinstance(info, Mapping):
            raise ConfigError(f"{where}: argsinfo for {arg!r} must be a dict, got {info!r}.")
        extra = set(info) - {"description", "required"}
        if extra:
            raise ConfigError(
                f"{where}: argsinfo for {arg!r} has unknown keys {sorted(extra)}; "
                "use 'description' and 'required'."
            )
        if not isinstance(info.get("description"), str):
            raise ConfigError(f"{where}: argsinfo for {arg!r} needs a 'description' string.")
        if not isinstance(info.get("required", False), bool):
            raise ConfigError(f"{where}: 'required' for {arg!r} must be true or false.")


def step(
    kind: StepKind,
    priority: int = 0,
    *,
    argsinfo: Mapping[str, Mapping[str, Any]] | None = None,
    abortable: bool = False,
    requires_ramdisk: bool = True,
) -> Callable[[F], F]:
    """Mark an interface method as a ``kind`` step; the method name is the step name.

    ``priority`` 0 means the step runs only when asked for (manual cleaning, deploy templates,
    ``deploy_steps``). A method may carry several kinds by stacking decorators. Raises
    ConfigError on a bad declaration, at import time.
    """

    def mark(func: F) -> F:
        where = f"{kind} step {func.__qualname__}"
        if kind not in KINDS:
            raise ConfigError(f"{where}: kind must be one of {', '.join(KINDS)}.")
        if isinstance(priority, bool) or not isinstance(priority, int) or priority < 0:
            raise ConfigError(f"{where}: priority must be an integer >= 0, got {priority!r}.")
        _check_argsinfo(where, argsinfo)
        specs: dict[str, StepSpec] = dict(getattr(func, _ATTR, {}))
        specs[kind] = StepSpec(kind, priority, argsinfo, abortable, requires_ramdisk)
        setattr(func, _ATTR, specs)
        return func

    return mark


def clean_step(
    priority: int = 0,
    *,
    argsinfo: Mapping[str, Mapping[str, Any]] | None = None,
    abortable: bool = False,
    requires_ramdisk: bool = True,
) -> Callable[[F], F]:
    """Mark a clean step (``@clean_step(priority=10, abortable=True)``)."""
    return step(
        "clean", priority, argsinfo=argsinfo, abortable=abortable, requires_ramdisk=requires_ramdisk
    )


def deploy_step(
    priority: int = 0,
    *,
    argsinfo: Mapping[str, Mapping[str, Any]] | None = None,
    abortable: bool = False,
    requires_ramdisk: bool = True,
) -> Callable[[F], F]:
    """Mark a deploy step (``@deploy_step(priority=100)``)."""
    return step(
        "deploy",
        priority,
        argsinfo=argsinfo,
        abortable=abortable,
        requires_ramdisk=requires_ramdisk,
    )


def service_step(
    priority: int = 0,
    *,
    argsinfo: Mapping[str, Mapping[str, Any]] | None = None,
    abortable: bool = False,
    requires_ramdisk: bool = True,
) -> Callable[[F], F]:
    """Mark a service step; service steps only run when an operator asks for them."""
    return step(
        "service",
        priority,
        argsinfo=argsinfo,
        abortable=abortable,
        requires_ramdisk=requires_ramdisk,
    )


# ---------------------------------------------------------------------------------------------
# Collecting and ordering
# ---------------------------------------------------------------------------------------------


def sort_steps(steps: Iterable[StepInfo], kind: StepKind) -> list[StepInfo]:
    """Highest priority first; ties by interface order, then by name so the order is stable."""
    order = INTERFACE_PRIORITY[kind]
    return sorted(
        steps, key=lambda s: (-s.priority, -order.get(s.interface, 0), s.interface, s.step)
    )


def collect_steps(interfaces: Mapping[str, object], kind: StepKind) -> list[StepInfo]:
    """All ``kind`` steps the node's interface implementations declare (by interface name), sorted.

    Includes priority-0 steps; :func:`enabled_steps` picks those an automated run executes.
    """
    found: list[StepInfo] = []
    for interface, impl in interfaces.items():
        cls = type(impl)
        for name in dir(cls):
            spec = getattr(getattr(cls, name, None), _ATTR, {}).get(kind)
            if spec is not None:
                found.append(
                    StepInfo(
                        kind=kind,
                        interface=interface,
                        step=name,
                        priority=spec.priority,
                        argsinfo=spec.argsinfo,
                        abortable=spec.abortable,
                        requires_ramdisk=spec.requires_ramdisk,
                    )
                )
    return sort_steps(found, kind)


def enabled_steps(steps: Iterable[StepInfo]) -> list[dict[str, Any]]:
    """The steps an automated run executes (priority above zero), in order, ready to run."""
    return [s.as_run_step() for s in steps if s.priority > 0]


def _names(steps: Iterable[StepInfo]) -> str:
    return ", ".join(f"{s.interface}.{s.step}" for s in steps) or "none"


def apply_overrides(
    steps: Sequence[StepInfo], overrides: Iterable[Mapping[str, Any]]
) -> list[StepInfo]:
    """Steps with priorities (and args) replaced, re-sorted: for deploy templates and settings.

    Each override is ``{"interface": ..., "step": ..., "priority": N, "args": {...}}`` (args
    optional); priority 0 disables a step, a positive one enables it; later overrides win. For a
    deploy, as in Ironic: ``enabled_steps(apply_overrides(collect_steps(ifaces, "deploy"),
    template_steps + user_deploy_steps))``. Raises InvalidInput naming an override that matches
    no step.
    """
    by_key = {s.key: s for s in steps}
    for override in overrides:
        key = (str(override.get("interface")), str(override.get("step")))
        current = by_key.get(key)
        if current is None:
            raise InvalidInput(
                f"Cannot override unknown step '{key[1]}' on interface '{key[0]}'; "
                f"available: {_names(steps)}."
            )
        priority = override.get("priority", current.priority)
        if isinstance(priority, bool) or not isinstance(priority, int) or priority < 0:
            raise InvalidInput(
                f"Priority for step {key[0]}.{key[1]} must be an integer >= 0, got {priority!r}."
            )
        by_key[key] = replace(
            current, priority=priority, args=dict(override.get("args") or current.args)
        )
    kind = steps[0].kind if steps else "clean"
    return sort_steps(by_key.values(), kind)


# ---------------------------------------------------------------------------------------------
# Checking operator-supplied steps
# ---------------------------------------------------------------------------------------------

_USER_KEYS: Final[dict[StepKind, frozenset[str]]] = {
    "clean": frozenset({"interface", "step", "args"}),
    "service": frozenset({"interface", "step", "args"}),
    "deploy": frozenset({"interface", "step", "args", "priority"}),
}


def _check_one(
    requested: Mapping[str, Any],
    by_key: Mapping[tuple[str, str], StepInfo],
    kind: StepKind,
    disable_ramdisk: bool,
) -> tuple[list[str], dict[str, Any] | None]:
    """Errors for one requested step, and the step to run when it has none."""
    interface, name = requested.get("interface"), requested.get("step")
    if not isinstance(interface, str) or not isinstance(name, str):
        return [f"{kind} step {dict(requested)} needs string 'interface' and 'step' fields"], None
    label = f"{kind} step '{name}' on interface '{interface}'"
    errors: list[str] = []
    extra = set(requested) - _USER_KEYS[kind]
    if extra:
        errors.append(
            f"{label} has unknown fields {sorted(extra)}; allowed: {sorted(_USER_KEYS[kind])}"
        )
    args = requested.get("args") or {}
    if not isinstance(args, Mapping):
        return [*errors, f"{label}: 'args' must be an object, got {args!r}"], None
    priority = requested.get("priority")
    if kind == "deploy" and (
        isinstance(priority, bool) or not isinstance(priority, int) or priority < 0
    ):
        errors.append(f"{label} needs an integer 'priority' >= 0 (0 disables it)")
        priority = 0

    if name in FLOW_STEPS:  # hold, wait, power_*: carried out by the conductor itself
        run = {
            "interface": interface,
            "step": name,
            "priority": priority or 0,
            "args": dict(args),
            "abortable": False,
        }
        return errors, (None if errors else run)

    available = by_key.get((interface, name))
    if available is None:
        on_interface = [s for s in by_key.values() if s.interface == interface]
        return [
            *errors,
            f"unknown {label}; available: {_names(on_interface or by_key.values())}",
        ], None

    argsinfo = available.argsinfo or {}
    unexpected = sorted(set(args) - set(argsinfo))
    if unexpected:
        expected = ", ".join(sorted(argsinfo)) or "none"
        errors.append(
            f"{label} got unexpected arguments {', '.join(unexpected)}; it accepts: {expected}"
        )
    if kind != "deploy" or (priority or 0) > 0:
        missing = [
            f"{arg} ({info['description']})"
            for arg, info in argsinfo.items()
            if info.get("required", False) and arg not in args
        ]
        if missing:
            errors.append(f"{label} is missing required arguments: {', '.join(missing)}")
        if disable_ramdisk and available.requires_ramdisk:
            errors.append(f"{label} needs the ramdisk, which disable_ramdisk turns off")
    if kind == "deploy" and (priority or 0) > 0 and available.key == CORE_DEPLOY_STEP:
        errors.append(f"{label} is the core deploy step; it can only be disabled (priority 0)")
    if errors:
        return errors, None
    final_priority = priority if kind == "deploy" else available.priority
    return [], replace(available, priority=final_priority or 0, args=dict(args)).as_run_step()


def validate_user_steps(
    requested: Sequence[Mapping[str, Any]],
    available: Sequence[StepInfo],
    kind: StepKind,
    *,
    disable_ramdisk: bool = False,
) -> list[dict[str, Any]]:
    """Check operator-supplied steps against what the node offers; return them ready to run.

    Clean and service steps keep the order given (priority and abortable come from the driver);
    deploy steps carry their own priority. Raises InvalidInput listing every problem at once:
    unknown steps (with what is available), unexpected or missing arguments, bad fields,
    duplicate deploy steps, ramdisk steps with ``disable_ramdisk``.
    """
    by_key = {s.key: s for s in available}
    errors: list[str] = []
    result: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for item in requested:
        if not isinstance(item, Mapping):
            errors.append(f"each {kind} step must be an object, got {item!r}")
            continue
        step_errors, run = _check_one(item, by_key, kind, disable_ramdisk)
        errors += step_errors
        if run is None:
            continue
        key = (run["interface"], run["step"])
        if kind == "deploy" and key in seen:
            errors.append(f"deploy step '{key[1]}' on interface '{key[0]}' is requested twice")
        seen.add(key)
        result.append(run)
    if errors:
        raise InvalidInput(f"Invalid {kind} steps: " + "; ".join(errors) + ".")
    return result
