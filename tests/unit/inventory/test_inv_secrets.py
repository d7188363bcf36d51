"""Passwords never show up in notes, problems or reprs."""

from __future__ import annotations

import json

import pytest

from ingot.inventory import InventoryInvalid, is_secret_key, parse_inventory, redact

SECRET = "hunter2-secret"


def test_repr_and_notes_mask_passwords() -> None:
    text = json.dumps(
        {
            "nodes": [
                {
                    "name": "a",
                    "pm_type": "redfish",
                    "pm_addr": "127.0.0.1",
                    "pm_port": 8000,
                    "pm_user": "admin",
                    "pm_password": SECRET,
                    "mac": ["52:54:00:00:00:01"],
                },
                {"name": "b", "pm_type": "fake_pxe", "pm_password": SECRET},
            ]
        }
    )
    inventory = parse_inventory(text)

    assert inventory.nodes[0].node["driver_info"]["redfish_password"] == SECRET  # sent as is
    for request in inventory.nodes:
        assert SECRET not in repr(request)
        assert SECRET not in str(request)
        assert SECRET not in json.dumps(request.redacted())
        assert SECRET not in " ".join(request.notes)
    assert SECRET not in repr(inventory)
    assert "******" in repr(inventory.nodes[0])


def test_csv_with_a_shifted_password_does_not_echo_it() -> None:
    # A stray cell pushes the password into the BMC address column.
    line = f"52:54:00:00:00:01,root,spare,{SECRET} x,1,1024,10,,,,h0\n"
    with pytest.raises(InventoryInvalid) as caught:
        parse_inventory(line, name="hosts.csv")
    assert SECRET not in str(caught.value)
    assert "column 3 (bmc_address)" in str(caught.value)


def test_server_yaml_secret_variables_stay_out_of_extra() -> None:
    text = (
        "baremetal_ipmi_ip: 127.0.0.1\nbaremetal_ipmi_user: u\nbaremetal_ipmi_pass: p\n"
        "baremetal_mac: 52:54:00:00:00:01\nbaremetal_fqdn: a.example\n"
        f"baremetal_root_pass: {SECRET}\n"
    )
    (request,) = parse_inventory(text).nodes
    assert SECRET not in json.dumps(request.node)
    assert any("baremetal_root_pass" in n for n in request.notes)


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("ipmi_password", True),
        ("redfish_password", True),
        ("snmp_auth_key", True),
        ("baremetal_ipmi_pass", True),
        ("ipmi_username", False),
        ("deploy_kernel", False),
        ("redfish_address", False),
    ],
)
def test_secret_keys(key: str, secret: bool) -> None:
    assert is_secret_key(key) is secret
    assert (redact({key: "v"})[key] == "******") is secret
