"""Ingot's settings: one object, built once by the CLI and passed down.

Sources, strongest first: explicit overrides, environment variables ``INGOT_<SECTION>__<KEY>``,
a TOML file (``--config``), defaults. Section and option names follow ``ironic.conf`` where
Ironic has the option, so an operator can port a configuration by hand.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from ingot.errors import ConfigError

DEFAULT_HARDWARE_TYPES = ["fake-hardware", "ipmi", "redfish", "manual-management"]


class DefaultSection(BaseModel):
    """Ironic's ``[DEFAULT]`` options that Ingot honours."""

    host: str = "ingot"
    state_dir: Path = Path("./state")
    enabled_hardware_types: list[str] = Field(default_factory=lambda: list(DEFAULT_HARDWARE_TYPES))
    enabled_bios_interfaces: list[str] = Field(default_factory=lambda: ["no-bios", "fake"])
    enabled_boot_interfaces: list[str] = Field(
        default_factory=lambda: ["ipxe", "pxe", "http", "fake"]
    )
    enabled_console_interfaces: list[str] = Field(default_factory=lambda: ["no-console", "fake"])
    enabled_deploy_interfaces: list[str] = Field(default_factory=lambda: ["direct", "fake"])
    enabled_firmware_interfaces: list[str] = Field(default_factory=lambda: ["no-firmware", "fake"])
    enabled_inspect_interfaces: list[str] = Field(
        default_factory=lambda: ["agent", "no-inspect", "fake"]
    )
    enabled_management_interfaces: list[str] = Field(
        default_factory=lambda: ["ipmitool", "redfish", "noop", "fake"]
    )
    enabled_network_interfaces: list[str] = Field(default_factory=lambda: ["flat", "noop"])
    enabled_power_interfaces: list[str] = Field(
        default_factory=lambda: ["ipmitool", "redfish", "manual", "fake"]
    )
    enabled_raid_interfaces: list[str] = Field(default_factory=lambda: ["no-raid", "fake"])
    enabled_rescue_interfaces: list[str] = Field(
        default_factory=lambda: ["no-rescue", "agent", "fake"]
    )
    enabled_storage_interfaces: list[str] = Field(default_factory=lambda: ["noop", "fake"])
    enabled_vendor_interfaces: list[str] = Field(default_factory=lambda: ["no-vendor", "fake"])
    default_resource_class: str | None = None
    default_network_interface: str | None = None


class ApiSection(BaseModel):
    """Ironic's ``[api]`` options."""

    host_ip: str = "127.0.0.1"
    port: int = 6385
    max_limit: int = Field(default=1000, ge=1)
    public_endpoint: str | None = None
    auth_strategy: Literal["noauth", "http_basic"] = "noauth"
    http_basic_auth_user_file: Path | None = None
    allow_open_api: bool = False


class JsonRpcSection(BaseModel):
    """Ironic's ``[json_rpc]`` options: how API processes and conductors authenticate RPC.

    With ``http_basic`` every conductor checks, and every caller sends, the one
    ``http_basic_username``/``http_basic_password`` pair (the same configuration on all
    processes). Unlike the public API there is no htpasswd file: a bcrypt check costs tens of
    milliseconds, paid on every one of the hundreds of calls a second a busy API makes.
    """

    auth_strategy: Literal["noauth", "http_basic"] = "noauth"
    http_basic_username: str | None = None
    http_basic_password: SecretStr | None = None  # SecretStr: shown as '**********'
    allow_open_rpc: bool = False  # noauth on a non-loopback RPC address


class DatabaseSection(BaseModel):
    """Ironic's ``[database]`` options; ``connection`` defaults to SQLite in the state dir."""

    connection: str | None = None
    sqlite_busy_timeout_ms: int = 30000
    # Page cache of each pooled SQLite connection. SQLite's default (2 MiB) filled up on every
    # connection at 10,000 nodes (+10 MiB resident); the pages stay in the OS's file cache,
    # and listing 10,000 nodes took as long with 256 KiB (docs/benchmarks.md, memory).
    sqlite_cache_kib: int = Field(default=256, ge=16)


class ConductorSection(BaseModel):
    """Ironic's ``[conductor]`` options."""

    automated_clean: bool = True
    heartbeat_interval: float = Field(default=10.0, gt=0)
    heartbeat_timeout: float = Field(default=60.0, gt=0)
    sync_power_state_interval: float = 60.0
    force_power_state_during_sync: bool = True
    power_state_sync_max_retries: int = 3
    check_provision_state_interval: float = 60.0
    deploy_callback_timeout: float = 1800.0
    clean_callback_timeout: float = 1800.0
    inspect_wait_timeout: float = 1800.0
    rescue_callback_timeout: float = 1800.0
    service_callback_timeout: float = 1800.0
    workers_pool_size: int = Field(default=100, ge=1)
    conductor_group: str = ""
    # Ironic's default is 5 (32 points a conductor): with three conductors named c1..c3 one of
    # them owned 45 % of the nodes. 8 (256 points) keeps every share within 8 % of the mean.
    hash_partition_exponent: int = 8
    hash_distribution_replicas: int = 1
    power_state_change_timeout: float = 60.0
    max_concurrent_bmc_sessions: int = Field(default=16, ge=1)  # across all BMCs


class DeploySection(BaseModel):
    """Ironic's ``[deploy]`` options (plus where our HTTP boot server listens)."""

    http_root: Path | None = None  # default: <state_dir>/boot
    http_url: str | None = None  # what nodes use to reach the boot server
    http_host: str = "127.0.0.1"
    http_port: int = 8088  # 0: do not run the embedded HTTP boot server
    default_boot_mode: Literal["uefi", "bios"] = "uefi"
    erase_devices_priority: int = 10
    erase_devices_metadata_priority: int = 99
    image_cache_max_gb: float = 20.0


class PxeSection(BaseModel):
    """Ironic's ``[pxe]`` options (plus the embedded TFTP server for rootless runs)."""

    tftp_root: Path | None = None  # default: the HTTP boot root
    tftp_host: str = "127.0.0.1"
    tftp_port: int = 0  # 0: no embedded TFTP (dnsmasq serves TFTP in production)
    kernel_append_params: str = "nofb nomodeset vga=normal console=ttyS0"
    tftp_server: str | None = None  # next-server DHCP names; default: the host of boot_url


class DhcpSection(BaseModel):
    """Ironic's ``[dhcp] dhcp_provider``, and the dnsmasq Ingot runs when it is ``dnsmasq``.

    DHCP only ever runs on ``interface``; with ``none`` the site's DHCP server points nodes at
    Ingot (docs/netboot.md).
    """

    dhcp_provider: Literal["none", "dnsmasq"] = "none"
    interface: str | None = None  # the provisioning interface dnsmasq binds to (required)
    dhcp_range: list[str] = Field(default_factory=list)  # "start,end[,netmask[,lease]]"
    enable_tftp: bool = True  # dnsmasq serves TFTP from the boot root (unless [pxe] tftp_port)
    ra_prefix: str | None = None  # e.g. fd99::, IPv6 RAs so iPXE does not wait for autoconf
    user: str | None = None  # user dnsmasq drops to; "root" when the state dir is under /root
    ignore_unknown: bool = False  # answer only MACs with a host entry
    netns: str | None = None  # run dnsmasq inside this network namespace (labs, tests)
    binary: str = "dnsmasq"


class IpmiSection(BaseModel):
    """Ironic's ``[ipmi]`` options."""

    command_retry_timeout: float = Field(default=60.0, gt=0)  # per operation, retries included


class AgentSection(BaseModel):
    """Ironic's ``[agent]`` options."""

    api_url: str | None = None  # the API URL agents call back; default: the API's own
    heartbeat_timeout: int = 300
    command_timeout: float = 60.0
    power_off_timeout: float = 30.0  # how long a soft power off by the agent may take
    agent_verify_ca: bool = False
    # http: the agent downloads http(s) images itself; local: the conductor caches and serves
    # them too. file:// and path images are always cached and served by the conductor.
    image_download_source: Literal["http", "local"] = "http"


class InspectionRulesSection(BaseModel):
    """Ironic's ``[inspection_rules]`` options."""

    built_in_rules: Path | None = None  # a YAML list of rules applied after every inspection
    mask_secrets: Literal["always", "never", "sensitive"] = "always"


class IngotSettings(BaseSettings):
    """All of Ingot's settings; sections mirror ``ironic.conf``."""

    model_config = SettingsConfigDict(
        env_prefix="INGOT_", env_nested_delimiter="__", extra="forbid", case_sensitive=False
    )

    default: DefaultSection = Field(default_factory=DefaultSection)
    api: ApiSection = Field(default_factory=ApiSection)
    database: DatabaseSection = Field(default_factory=DatabaseSection)
    json_rpc: JsonRpcSection = Field(default_factory=JsonRpcSection)
    conductor: ConductorSection = Field(default_factory=ConductorSection)
    deploy: DeploySection = Field(default_factory=DeploySection)
    pxe: PxeSection = Field(default_factory=PxeSection)
    agent: AgentSection = Field(default_factory=AgentSection)
    ipmi: IpmiSection = Field(default_factory=IpmiSection)
    dhcp: DhcpSection = Field(default_factory=DhcpSection)
    inspection_rules: InspectionRulesSection = Field(default_factory=InspectionRulesSection)

    @property
    def boot_root(self) -> Path:
        return (self.deploy.http_root or self.default.state_dir / "boot").resolve()

    @property
    def boot_url(self) -> str:
        return self.deploy.http_url or f"http://{self.deploy.http_host}:{self.deploy.http_port}"

    @property
    def agent_api_url(self) -> str:
        return self.agent.api_url or f"http://{self.api.host_ip}:{self.api.port}"

    @property
    def database_url(self) -> str:
        if self.database.connection:
            return self.database.connection
        return f"sqlite:///{(self.default.state_dir / 'ingot.sqlite').resolve()}"


def load_settings(config_file: Path | None = None, **overrides: Any) -> IngotSettings:
    """Build settings from a TOML file, the environment and explicit overrides.

    Raises ConfigError naming the file and the option when something does not parse.
    """
    data: dict[str, Any] = {}
    if config_file is not None:
        try:
            data = tomllib.loads(config_file.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"Cannot read config file {config_file}: {exc}") from exc
    for section, values in overrides.items():
        data.setdefault(section, {}).update(values)
    try:
        # Init kwargs beat the environment in pydantic-settings; we want file < env,
        # so the file's values are applied as defaults underneath the environment.
        env_only = IngotSettings()
        merged = _merge(data, _explicit(env_only))
        for section, values in overrides.items():
            merged.setdefault(section, {}).update(values)
        return IngotSettings.model_validate(merged)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        where = f" in {config_file}" if config_file else ""
        raise ConfigError(f"Invalid configuration{where}: {problems}") from exc


def _explicit(settings: BaseModel) -> dict[str, Any]:
    """The options that were set (by the environment), section by section."""
    out: dict[str, Any] = {}
    for name in settings.model_fields_set:
        value = getattr(settings, name)
        out[name] = _explicit(value) if isinstance(value, BaseModel) else value
    return out


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged
