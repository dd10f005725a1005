"""How a Kafka client authenticates and encrypts: the settings turned into client options."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiokafka.helpers import create_ssl_context

if TYPE_CHECKING:
    from stream.settings import Settings

PROTOCOLS = ("PLAINTEXT", "SASL_SSL", "SSL", "SASL_PLAINTEXT")
MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")


@dataclass(frozen=True, slots=True)
class KafkaSecurity:
    """The security protocol, SASL credentials and CA file every Kafka client of a process uses.

    The password is left out of `repr`, so that it never reaches a log line or an error.
    """

    protocol: str = "PLAINTEXT"
    mechanism: str = "SCRAM-SHA-512"
    username: str = ""
    password: str = field(default="", repr=False)
    ca_file: Path | None = None

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"unknown Kafka security protocol {self.protocol!r}")
        if self.sasl and not (self.username and self.password):
            raise ValueError(
                f"SEGSTREAM_KAFKA_SECURITY_PROTOCOL={self.protocol} needs "
                "SEGSTREAM_KAFKA_SASL_USERNAME and SEGSTREAM_KAFKA_SASL_PASSWORD"
            )

    @classmethod
    def of(cls, settings: Settings) -> KafkaSecurity:
        """The security `settings` ask for."""
        return cls(
            settings.kafka_security_protocol,
            settings.kafka_sasl_mechanism,
            settings.kafka_sasl_username,
            settings.kafka_sasl_password,
            settings.kafka_ca_file,
        )

    @property
    def sasl(self) -> bool:
        """Whether the client authenticates with SASL."""
        return self.protocol.startswith("SASL_")

    @property
    def tls(self) -> bool:
        """Whether the connection is encrypted."""
        return self.protocol in ("SSL", "SASL_SSL")

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context (trusting `ca_file`, else the system's CAs), or None without TLS."""
        if not self.tls:
            return None
        context: ssl.SSLContext = create_ssl_context(
            cafile=str(self.ca_file) if self.ca_file else None
        )
        return context

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for any aiokafka client (producer, consumer, admin, connection)."""
        options: dict[str, Any] = {"security_protocol": self.protocol}
        if self.tls:
            options["ssl_context"] = self.ssl_context()
        if self.sasl:
            options["sasl_mechanism"] = self.mechanism
            options["sasl_plain_username"] = self.username
            options["sasl_plain_password"] = self.password
        return options


PLAINTEXT = KafkaSecurity()
