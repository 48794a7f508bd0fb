"""Where CCD is and how to log in to it, read from the original exporter's variables."""

from __future__ import annotations

import binascii
import os
from collections.abc import Mapping

import pyotp
from attrs import field, frozen

from domain.numbers import parse_number

URL_VARIABLES = ("CCD_AUTH_BASE_URL", "CCD_IDAM_BASE_URL", "CCD_DATA_STORE_BASE_URL", "CCD_DOCUMENT_STORE_BASE_URL")
REQUIRED_VARIABLES = (
    *URL_VARIABLES,
    "CCD_MICROSERVICE_ID",
    "CCD_MICROSERVICE_SECRET",
    "CCD_SIDAM_USERNAME",
    "CCD_SIDAM_PASSWORD",
)


class ServiceTotp(pyotp.TOTP):
    """The one-time passwords of CCD's service-to-service auth.

    pyotp (2.10 on) refuses seeds under 112 bits, but the seeds CCD issues are 16
    base32 characters (80 bits, e.g. the original's default AAAAAAAAAAAAAAAC).
    """

    min_secret_length_bits = 80


def _base32_seed(_instance, _attribute, value: str) -> None:
    # Checked here, not at the first login, so that a bad seed stops the process at
    # start-up. The message must not quote the seed.
    try:
        ServiceTotp(value).byte_secret()
    except (binascii.Error, ValueError, TypeError):
        raise ValueError("CCD_MICROSERVICE_SECRET is not a base32 TOTP seed") from None


def _positive(_instance, attribute, value: float) -> None:
    if not value > 0:
        raise ValueError(f"the CCD {attribute.name} must be more than 0 seconds, not {value}")


def _base_url(url: str) -> str:
    return url.rstrip("/")


@frozen(kw_only=True)
class CcdSettings:
    auth_base_url: str = field(converter=_base_url)
    idam_base_url: str = field(converter=_base_url)
    data_store_base_url: str = field(converter=_base_url)
    document_store_base_url: str = field(converter=_base_url)
    jurisdiction_id: str = "EMPLOYMENT"
    microservice_id: str
    microservice_secret: str = field(repr=False, validator=_base32_seed)
    sidam_username: str
    sidam_password: str = field(repr=False)
    connect_timeout: float = field(default=5.0, validator=_positive)
    # Searches take over 10 s when CCD is under load.
    read_timeout: float = field(default=25.0, validator=_positive)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> CcdSettings | None:
        """The settings, or None when no CCD URL is configured (the worker is then off).

        Raises ValueError naming every missing or malformed variable.
        """
        if not any(environ.get(name) for name in URL_VARIABLES):
            return None
        missing = [name for name in REQUIRED_VARIABLES if not environ.get(name)]
        if missing:
            raise ValueError(f"CCD is partly configured: set {', '.join(missing)} as well")
        return cls(
            auth_base_url=environ["CCD_AUTH_BASE_URL"],
            idam_base_url=environ["CCD_IDAM_BASE_URL"],
            data_store_base_url=environ["CCD_DATA_STORE_BASE_URL"],
            document_store_base_url=environ["CCD_DOCUMENT_STORE_BASE_URL"],
            jurisdiction_id=environ.get("CCD_JURISDICTION_ID") or "EMPLOYMENT",
            microservice_id=environ["CCD_MICROSERVICE_ID"],
            microservice_secret=environ["CCD_MICROSERVICE_SECRET"],
            sidam_username=environ["CCD_SIDAM_USERNAME"],
            sidam_password=environ["CCD_SIDAM_PASSWORD"],
            connect_timeout=_seconds(environ, "CCD_CONNECT_TIMEOUT", 5.0),
            read_timeout=_seconds(environ, "CCD_READ_TIMEOUT", 25.0),
        )


def _seconds(environ: Mapping[str, str], name: str, default: float) -> float:
    text = environ.get(name)
    if not text:
        return default
    try:
        return parse_number(text, unit="seconds")
    except ValueError as error:
        raise ValueError(f"{name} {error}") from None
