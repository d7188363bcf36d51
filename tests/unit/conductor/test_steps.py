"""Step declaration, collection, ordering and validation, on small fake interfaces."""

from __future__ import annotations

from typing import Any

import pytest

from ingot.conductor import steps
from ingot.conductor.steps import StepInfo, clean_step, deploy_step, service_step
from ingot.errors import ConfigError, InvalidInput


class FakeDeploy:
    @clean_step(priority=99, abortable=True)
    def erase_devices_metadata(self) -> None: ...

    @clean_step(priority=10, abortable=True)
    def erase_devices(self) -> None: ...

    @deploy_step(priority=100)
    def deploy(self) -> None: ...

    @deploy_step(priority=80)
    def write_image(self) -> None: ...

    @deploy_step(priority=0, argsinfo={"seconds": {"description": "how long", "required": True}})
    def pause(self, seconds: int) -> None: ...

    def not_a_step(self) -> None: ...


class FakeManagement:
    @clean_step(priority=10)
    def reset_idrac(self) -> None: ...

    @service_step()
    @clean_step(
        priority=0,
        argsinfo={
            "url": {"description": "firmware image URL", "required": True},
            "force": {"description": "flash even the same version"},
        },
        requires_ramdisk=False,
    )
    def update_firmware(self, url: str, force: bool = False) -> None: ...


class FakeRaid:
    @clean_step(priority=10)
    def delete_configuration(self) -> None: ...


class FakeVendor(FakeRaid):
    """Inherits a step: collection must see steps declared on base classes."""


INTERFACES: dict[str, object] = {
    "raid": FakeRaid(),
    "deploy": FakeDeploy(),
    "management": FakeManagement(),
}


@pytest.fixture
def clean() -> list[StepInfo]:
    return steps.collect_steps(INTERFACES, "clean")


@pytest.fixture
def deploy() -> list[StepInfo]:
    return steps.collect_steps(INTERFACES, "deploy")


def _names(found: list[StepInfo]) -> list[str]:
    return [f"{s.interface}.{s.step}" for s in found]


def test_clean_steps_sorted_by_priority_then_interface(clean: list[StepInfo]) -> None:
    assert _names(clean) == [
        "deploy.erase_devices_metadata",  # 99
        "management.reset_idrac",  # 10, management before deploy before raid
        "deploy.erase_devices",
        "raid.delete_configuration",
        "management.update_firmware",  # 0: manual only
    ]


def test_as_dict_is_ironics_shape(deploy: list[StepInfo]) -> None:
    assert deploy[0].as_dict() == {
        "interface": "deploy",
        "step": "deploy",
        "priority": 100,
        "argsinfo": None,
        "abortable": False,
        "requires_ramdisk": True,
    }


def test_one_method_can_be_two_kinds_of_step() -> None:
    service = steps.collect_steps(INTERFACES, "service")
    assert _names(service) == ["management.update_firmware"]
    # Each kind keeps its own declaration.
    assert service[0].requires_ramdisk is True
    assert service[0].argsinfo is None
    clean = [s for s in steps.collect_steps(INTERFACES, "clean") if s.step == "update_firmware"]
    assert clean[0].requires_ramdisk is False


def test_inherited_steps_are_found() -> None:
    found = steps.collect_steps({"vendor": FakeVendor(), "raid": FakeRaid()}, "clean")
    assert _names(found) == ["vendor.delete_configuration", "raid.delete_configuration"]


def test_service_ties_put_network_first() -> None:
    a = StepInfo("service", "vendor", "a", 5)
    b = StepInfo("service", "network", "b", 5)
    assert steps.sort_steps([a, b], "service") == [b, a]
    assert steps.sort_steps([a, b], "clean") == [a, b]


def test_enabled_steps_skip_priority_zero(clean: list[StepInfo]) -> None:
    plan = steps.enabled_steps(clean)
    assert [p["step"] for p in plan] == [
        "erase_devices_metadata",
        "reset_idrac",
        "erase_devices",
        "delete_configuration",
    ]
    assert plan[0] == {
        "interface": "deploy",
        "step": "erase_devices_metadata",
        "priority": 99,
        "args": {},
        "abortable": True,
    }


@pytest.mark.parametrize(
    ("decorate", "message"),
    [
        (lambda: clean_step(priority=-1), "priority must be an integer >= 0"),
        (lambda: clean_step(priority=True), "priority must be an integer >= 0"),
        (lambda: clean_step(argsinfo={"x": {"required": True}}), "needs a 'description'"),
        (lambda: clean_step(argsinfo={"x": {"description": "d", "typo": 1}}), "unknown keys"),
        (
            lambda: clean_step(argsinfo={"x": {"description": "d", "required": "y"}}),
            "true or false",
        ),
        (lambda: clean_step(argsinfo={"x": "text"}), "must be a dict"),
    ],
)
def test_bad_declarations_fail_at_import(decorate: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):

        @decorate()
        def some_step(self: object) -> None: ...


# --- overrides (deploy templates, settings) ---------------------------------------------------


def test_overrides_enable_disable_and_reorder(deploy: list[StepInfo]) -> None:
    changed = steps.apply_overrides(
        deploy,
        [
            {"interface": "deploy", "step": "pause", "priority": 90, "args": {"seconds": 5}},
            {"interface": "deploy", "step": "write_image", "priority": 0},
        ],
    )
    assert steps.enabled_steps(changed) == [
        {"interface": "deploy", "step": "deploy", "priority": 100, "args": {}, "abortable": False},
        {
            "interface": "deploy",
            "step": "pause",
            "priority": 90,
            "args": {"seconds": 5},
            "abortable": False,
        },
    ]
    assert deploy[1].step == "write_image" and deploy[1].priority == 80  # input untouched


def test_later_override_wins(deploy: list[StepInfo]) -> None:
    template = [{"interface": "deploy", "step": "write_image", "priority": 0}]
    user = [{"interface": "deploy", "step": "write_image", "priority": 50}]
    changed = steps.apply_overrides(deploy, template + user)
    assert [s.priority for s in changed if s.step == "write_image"] == [50]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"interface": "deploy", "step": "nope", "priority": 1}, "unknown step 'nope'"),
        ({"interface": "raid", "step": "deploy", "priority": 1}, "on interface 'raid'"),
        ({"interface": "deploy", "step": "deploy", "priority": -5}, "integer >= 0"),
    ],
)
def test_bad_override(deploy: list[StepInfo], override: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        steps.apply_overrides(deploy, [override])


# --- operator-supplied steps -------------------------------------------------------------------


def test_manual_clean_keeps_given_order_and_driver_priority(clean: list[StepInfo]) -> None:
    result = steps.validate_user_steps(
        [
            {"interface": "raid", "step": "delete_configuration"},
            {"interface": "management", "step": "update_firmware", "args": {"url": "http://x"}},
            {"interface": "deploy", "step": "hold"},
        ],
        clean,
        "clean",
    )
    assert result == [
        {
            "interface": "raid",
            "step": "delete_configuration",
            "priority": 10,
            "args": {},
            "abortable": False,
        },
        {
            "interface": "management",
            "step": "update_firmware",
            "priority": 0,
            "args": {"url": "http://x"},
            "abortable": False,
        },
        {"interface": "deploy", "step": "hold", "priority": 0, "args": {}, "abortable": False},
    ]


@pytest.mark.parametrize(
    ("requested", "message"),
    [
        (
            {"interface": "deploy", "step": "foo"},
            "unknown clean step 'foo' on interface 'deploy'; available: "
            "deploy.erase_devices_metadata, deploy.erase_devices",
        ),
        (
            {"interface": "bios", "step": "foo"},
            "unknown clean step 'foo' on interface 'bios'; available: deploy.erase_devices_meta",
        ),
        (
            {"interface": "management", "step": "update_firmware"},
            "is missing required arguments: url \\(firmware image URL\\)",
        ),
        (
            {"interface": "management", "step": "update_firmware", "args": {"url": "u", "x": 1}},
            "got unexpected arguments x; it accepts: force, url",
        ),
        (
            {"interface": "raid", "step": "delete_configuration", "args": {"x": 1}},
            "unexpected arguments x; it accepts: none",
        ),
        (
            {"interface": "raid", "step": "delete_configuration", "priority": 3},
            "unknown fields \\['priority'\\]",
        ),
        ({"interface": "raid", "step": "delete_configuration", "args": [1]}, "'args' must be"),
        ({"interface": "raid"}, "needs string 'interface' and 'step'"),
    ],
)
def test_bad_clean_steps_are_named(
    clean: list[StepInfo], requested: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message) as err:
        steps.validate_user_steps([requested], clean, "clean")
    assert str(err.value).startswith("Invalid clean steps: ")


def test_all_problems_reported_at_once(clean: list[StepInfo]) -> None:
    with pytest.raises(InvalidInput) as err:
        steps.validate_user_steps(
            [{"interface": "deploy", "step": "foo"}, {"interface": "deploy", "step": "bar"}],
            clean,
            "clean",
        )
    assert "'foo'" in str(err.value) and "'bar'" in str(err.value)


def test_disable_ramdisk_accepts_only_out_of_band_steps(clean: list[StepInfo]) -> None:
    ok = [{"interface": "management", "step": "update_firmware", "args": {"url": "u"}}]
    assert steps.validate_user_steps(ok, clean, "clean", disable_ramdisk=True)
    with pytest.raises(InvalidInput, match="needs the ramdisk"):
        steps.validate_user_steps(
            [{"interface": "deploy", "step": "erase_devices"}], clean, "clean", disable_ramdisk=True
        )


def test_user_deploy_steps(deploy: list[StepInfo]) -> None:
    result = steps.validate_user_steps(
        [
            {"interface": "deploy", "step": "pause", "priority": 85, "args": {"seconds": 1}},
            {"interface": "deploy", "step": "deploy", "priority": 0},
        ],
        deploy,
        "deploy",
    )
    plan = steps.enabled_steps(steps.apply_overrides(deploy, result))
    assert [p["step"] for p in plan] == ["pause", "write_image"]


@pytest.mark.parametrize(
    ("requested", "message"),
    [
        ([{"interface": "deploy", "step": "pause", "args": {"seconds": 1}}], "needs an integer"),
        ([{"interface": "deploy", "step": "deploy", "priority": 5}], "core deploy step"),
        ([{"interface": "deploy", "step": "pause", "priority": 5}], "missing required"),
        (
            [{"interface": "deploy", "step": "write_image", "priority": 5}] * 2,
            "requested twice",
        ),
    ],
)
def test_bad_deploy_steps(
    deploy: list[StepInfo], requested: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        steps.validate_user_steps(requested, deploy, "deploy")


def test_disabled_deploy_step_needs_no_args(deploy: list[StepInfo]) -> None:
    result = steps.validate_user_steps(
        [{"interface": "deploy", "step": "pause", "priority": 0}], deploy, "deploy"
    )
    assert result[0]["priority"] == 0
