"""Configuration: an optional TOML file, then `PRIVATELINE_*` environment variables.

Later sources win: defaults < TOML file < environment < command-line options.  Every
instance keeps its SQLite file, generated keys and state in its own data directory, so
several instances run side by side with different `PRIVATELINE_DATA_DIR` and ports.
"""

from __future__ import annotations

import email.errors
import email.utils
import ipaddress
import os
from contextvars import ContextVar
from email import headerregistry
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CONFIG_ENV = "PRIVATELINE_CONFIG"
# The TOML file of the settings being built; a context variable rather than os.environ so
# that loading settings never changes the process environment.
_toml_file: ContextVar[Path | None] = ContextVar("privateline_toml_file", default=None)


class ConfigError(Exception):
    """The configuration cannot be used; the message says which setting and why."""


class RecipientEndpoint(BaseModel):
    """Where a recipient receives notices of rectifications, erasures and restrictions (Art. 19, R-5).

    Each notice is POSTed as JSON and signed with HMAC-SHA256 under `secret`
    (docs/RECIPIENTS.md).  `ca_file` trusts a private CA for this endpoint alone.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(pattern=r"^https://[^\s/?#]+[^\s]*$")
    secret: SecretStr
    ca_file: Path | None = None

    @field_validator("secret")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 32:
            raise ValueError("a signing secret needs at least 32 characters")
        return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PRIVATELINE_", extra="forbid", frozen=True)

    data_dir: Path = Path("var")
    # Overrides the SQLite file in the data directory, e.g. postgresql://user@host/db.
    database_url: str | None = None
    # The operator's register; the shipped template when unset.
    register_path: Path | None = None
    host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    # Reverse proxies whose X-Forwarded-For is believed (addresses or networks).
    trusted_proxies: list[str] = []
    # Secrets: generated into the data directory on first start when not configured.
    pseudonym_key: SecretStr | None = None
    session_key: SecretStr | None = None
    # Session cookies carry `Secure` (sent over HTTPS only; browsers also accept them from
    # http://localhost).  Turn off only for plain-HTTP access on a trusted network.
    cookie_secure: bool = True
    sweep_interval_seconds: float = Field(default=3600.0, gt=0)
    # How often due Art. 19 notices are sent to recipients; retries follow their own backoff.
    recipient_delivery_seconds: float = Field(default=60.0, gt=0)
    access_log_flush_seconds: float = Field(default=1.0, gt=0)
    # The SIP realm of the device passwords' digest forms (RFC 2617 §3.2.2.2).  It is part
    # of every stored HA1, so it is chosen before the first import and never changed.
    sip_realm: str = Field(default="privateline", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9.\-]+$")
    # SIP (DEV-3, DEV-4): the registrar and proxy for free calls between the service's phones,
    # part of `serve` (or alone: `serve --role sip`).  UDP and TCP on the same port (RFC 3261
    # §18: 5060); TLS only with a certificate and key.  `sip_host` defaults to `host`;
    # `sip_domain` is a name phones may use in their URIs besides that address.
    sip_host: str | None = None
    sip_port: int = Field(default=5060, ge=0, le=65535)
    sip_tcp: bool = True
    sip_tls_port: int | None = Field(default=None, ge=0, le=65535)
    sip_tls_certificate: Path | None = None
    sip_tls_key: Path | None = None
    sip_domain: str | None = Field(default=None, pattern=r"^[A-Za-z0-9.\-]+$", max_length=253)
    # Digest algorithms offered, in this order (RFC 8760 §2.4: the preferred first).  MD5 comes
    # first by default because many phones (and SIPp, baresip) answer only the first challenge
    # and know only MD5; put SHA-256 first when every phone of the service supports it.
    sip_digest_algorithms: list[Literal["MD5", "SHA-256"]] = Field(default=["MD5", "SHA-256"], min_length=1)
    # Larger messages are refused with 513 (RFC 3261 §21.4.11); phones send a few kilobytes.
    sip_max_message_bytes: int = Field(default=16384, ge=1500, le=65535)
    # Registrations one number may hold; beyond it the longest-registered give way (a phone
    # whose router changes its port would otherwise leave one binding per port until expiry).
    sip_max_contacts: int = Field(default=10, ge=1, le=100)
    # How long live transactions may finish after a stop is asked (graceful shutdown).
    sip_drain_seconds: float = Field(default=5.0, ge=0, le=120)
    # Weather for the handsets' information service (DEV-6): "offline" needs no network
    # (synthetic, deterministic demo data); "open-meteo" asks the public forecast service.
    weather_provider: Literal["offline", "open-meteo"] = "offline"
    weather_forecast_url: str = "https://api.open-meteo.com/v1/forecast"
    weather_geocoding_url: str = "https://geocoding-api.open-meteo.com/v1/search"
    weather_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    # Art. 19: recipient id of the register -> its HTTPS endpoint and signing secret.
    # A recipient without one is not skipped: its notices wait on the DPO's list, to be
    # informed by hand.  As an environment variable: a JSON object.
    recipient_endpoints: dict[str, RecipientEndpoint] = {}
    # Art. 20(2): a portability package sent to another provider's HTTPS address is
    # never sent to loopback, private, link-local, multicast or reserved addresses (SSRF),
    # except to these networks (CIDR); `portability_ca_file` trusts a private CA instead of the public ones.
    portability_allowed_networks: list[str] = []
    portability_ca_file: Path | None = None
    # Mail: the privacy center's signed links prove that a person holds an e-mail address
    # .  Without an SMTP host, mails are written as .eml files to
    # <data_dir>/outbox-mail/ instead, so an instance runs offline; the start-up log says so.
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    # STARTTLS before anything else is said (RFC 3207); turn off only for a relay on this machine.
    smtp_starttls: bool = True
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    mail_from: str = "privateline <privacy@localhost>"
    # Where people reach this instance, for the links in mails (e.g. https://www.operator.example).
    # Never taken from a request's Host header: a forged one would send a person's link elsewhere.
    # Unset: http://<host>:<http_port>.
    public_url: str | None = Field(default=None, pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["console", "json"] = "console"

    @field_validator("trusted_proxies", "portability_allowed_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network") from None
        return value

    @field_validator("mail_from")
    @classmethod
    def _mailbox(cls, value: str) -> str:
        found = email.utils.getaddresses([value])
        try:
            parsed = headerregistry.Address(addr_spec=found[0][1]) if len(found) == 1 else None
        except (ValueError, IndexError, email.errors.HeaderParseError):
            parsed = None
        if parsed is None or not parsed.username or not parsed.domain:
            raise ValueError(f"{value!r} is not an e-mail address")
        return value

    @model_validator(mode="after")
    def _smtp_login(self) -> Settings:
        if (self.smtp_username is None) != (self.smtp_password is None):
            raise ValueError("smtp_username and smtp_password are set together, or neither")
        return self

    @model_validator(mode="after")
    def _sip_tls(self) -> Settings:
        if self.sip_tls_port is not None and (self.sip_tls_certificate is None or self.sip_tls_key is None):
            raise ValueError("sip_tls_port needs sip_tls_certificate and sip_tls_key")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_path = _toml_file.get()
        if toml_path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings from the file (or $PRIVATELINE_CONFIG), the environment and `overrides`."""
    named = config_file if config_file is not None else os.environ.get(CONFIG_ENV) or None
    path = Path(named) if named is not None else None
    if path is not None and not path.is_file():
        raise ConfigError(f"configuration file {path} does not exist")
    token = _toml_file.set(path)
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        lines = []
        for err in exc.errors(include_url=False):
            field = ".".join(str(p) for p in err["loc"])
            lines.append(f"setting {field or '?'} (PRIVATELINE_{field.upper()}): {err['msg']}")
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines)) from None
    except ValueError as exc:  # e.g. malformed TOML
        raise ConfigError(f"invalid configuration file {path}: {exc}") from None
    finally:
        _toml_file.reset(token)
