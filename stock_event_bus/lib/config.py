# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Event-bus settings: odoo.conf section, environment override, defaults.

No Odoo import: the dispatcher and downstream tools use this as it is.
Precedence, as OCA queue_job's runner does it: environment variable, then the
``[stock_event_bus]`` section of odoo.conf, then the default.
"""

import dataclasses
import urllib.parse

SECTION = "stock_event_bus"
ENV_AMQP_URL = "STOCK_EVENT_BUS_AMQP_URL"


@dataclasses.dataclass(frozen=True)
class Settings:
    """Resolved event-bus settings. ``amqp_url`` is empty when no broker is
    configured: postings still work and events wait in the outbox."""

    amqp_url: str = ""
    exchange: str = "stock.events"
    batch_size: int = 500
    retention_days: int = 30
    command_exchange: str = "stock.commands"
    command_queues: int = 8
    command_batch_size: int = 100
    command_user: str = "admin"

    @property
    def broker_configured(self):
        return bool(self.amqp_url)

    @property
    def safe_amqp_url(self):
        """The URL with its password masked, for logs and screens."""
        return mask_url(self.amqp_url)


def _positive_int(name, value):
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ValueError(f"[{SECTION}] {name} must be a whole number, not {value!r}") from None
    if number <= 0:
        raise ValueError(f"[{SECTION}] {name} must be greater than 0, not {number}")
    return number


def resolve(section=None, environ=None):
    """Build :class:`Settings` from an odoo.conf section (a mapping, possibly
    empty) and an environment mapping. Raises ``ValueError`` naming the bad
    option."""
    section = section or {}
    environ = environ or {}
    defaults = Settings()
    amqp_url = (environ.get(ENV_AMQP_URL) or section.get("amqp_url") or "").strip()
    if amqp_url:
        scheme = urllib.parse.urlsplit(amqp_url).scheme
        if scheme not in ("amqp", "amqps"):
            raise ValueError(
                f"[{SECTION}] amqp_url must start with amqp:// or amqps://, "
                f"not {mask_url(amqp_url)!r}"
            )
    return Settings(
        amqp_url=amqp_url,
        exchange=(section.get("exchange") or defaults.exchange).strip(),
        batch_size=_positive_int("batch_size", section.get("batch_size", defaults.batch_size)),
        retention_days=_positive_int(
            "retention_days", section.get("retention_days", defaults.retention_days)
        ),
        command_exchange=(section.get("command_exchange") or defaults.command_exchange).strip(),
        command_queues=_positive_int(
            "command_queues", section.get("command_queues", defaults.command_queues)
        ),
        command_batch_size=_positive_int(
            "command_batch_size", section.get("command_batch_size", defaults.command_batch_size)
        ),
        command_user=(section.get("command_user") or defaults.command_user).strip(),
    )


def mask_url(url):
    """Return ``url`` with any password replaced by ``***``."""
    if not url:
        return ""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))
