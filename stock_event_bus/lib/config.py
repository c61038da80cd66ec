# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Event-bus settings: odoo.conf section, environment override, defaults.

No Odoo import: the dispatcher and downstream tools use this as it is.
Precedence, as OCA queue_job's runner does it: environment variable, then the
``[stock_event_bus]`` section of odoo.conf, then the default.
"""

import dataclasses
import re
import urllib.parse

SECTION = "stock_event_bus"
ENV_AMQP_URL = "STOCK_EVENT_BUS_AMQP_URL"
QUEUE_TYPES = ("quorum", "classic")
# Options of earlier versions, no longer read: what to do instead.
REMOVED_OPTIONS = {
    "command_user": (
        "AMQP commands are no longer posted as one configured user: each is posted as the"
        " Odoo user mapped to its RabbitMQ user_id (AMQP User on the user's form); a"
        " message of an unmapped broker user is dead-lettered (unknown_broker_user)"
    ),
}


@dataclasses.dataclass(frozen=True)
class Settings:
    """Resolved event-bus settings. ``amqp_url`` is empty when no broker is
    configured: postings still work and events wait in the outbox. It may
    list several URLs, separated by commas or spaces: the nodes of a
    RabbitMQ cluster, tried in that order at each (re)connection."""

    amqp_url: str = ""
    exchange: str = "stock.events"
    batch_size: int = 500
    retention_days: int = 30
    command_exchange: str = "stock.commands"
    command_queues: int = 8
    command_batch_size: int = 100
    command_queue_type: str = "quorum"
    # Level events (lib/levels.py): postings and reservations mark the keys
    # they change; off, they mark nothing and only movements are published.
    level_events: bool = True
    # Level snapshots (lib/snapshot.py): minutes a snapshot stays readable.
    snapshot_minutes: int = 60
    # Live snapshots a user keeps: taking one more deletes the oldest.
    snapshot_per_user: int = 5

    @property
    def broker_configured(self):
        return bool(self.amqp_url)

    @property
    def amqp_urls(self):
        """The broker URLs, in the order they are tried (a tuple)."""
        return tuple(split_urls(self.amqp_url))

    @property
    def safe_amqp_url(self):
        """The URL(s) with the passwords masked, for logs and screens."""
        return mask_urls(self.amqp_url)


def _positive_int(name, value):
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ValueError(f"[{SECTION}] {name} must be a whole number, not {value!r}") from None
    if number <= 0:
        raise ValueError(f"[{SECTION}] {name} must be greater than 0, not {number}")
    return number


def _boolean(name, value):
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"[{SECTION}] {name} must be true or false, not {value!r}")


def resolve(section=None, environ=None):
    """Build :class:`Settings` from an odoo.conf section (a mapping, possibly
    empty) and an environment mapping. Raises ``ValueError`` naming the bad
    option."""
    section = section or {}
    environ = environ or {}
    defaults = Settings()
    amqp_url = (environ.get(ENV_AMQP_URL) or section.get("amqp_url") or "").strip()
    for url in split_urls(amqp_url):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("amqp", "amqps"):
            raise ValueError(
                f"[{SECTION}] amqp_url must start with amqp:// or amqps://, "
                f"not {mask_url(url)!r}"
            )
        try:
            parts.port  # noqa: B018 - raises on a port that is not a number
        except ValueError:
            raise ValueError(f"[{SECTION}] amqp_url has a bad port in {mask_url(url)!r}") from None
    queue_type = (section.get("command_queue_type") or defaults.command_queue_type).strip()
    if queue_type not in QUEUE_TYPES:
        raise ValueError(
            f"[{SECTION}] command_queue_type must be one of {', '.join(QUEUE_TYPES)},"
            f" not {queue_type!r}"
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
        command_queue_type=queue_type,
        level_events=_boolean("level_events", section.get("level_events", True)),
        snapshot_minutes=_positive_int(
            "snapshot_minutes", section.get("snapshot_minutes", defaults.snapshot_minutes)
        ),
        snapshot_per_user=_positive_int(
            "snapshot_per_user", section.get("snapshot_per_user", defaults.snapshot_per_user)
        ),
    )


def split_urls(value):
    """The URLs of an ``amqp_url`` value: one URL, or several separated by
    commas and/or whitespace. A separator counts only before the next
    ``<scheme>://``: a comma or a space in a password stays in it.

    >>> split_urls("amqp://a:5672/%2F, amqp://b:5672/%2F")
    ['amqp://a:5672/%2F', 'amqp://b:5672/%2F']
    >>> split_urls("amqp://u:se,cret@a/%2F,amqps://b/%2F")
    ['amqp://u:se,cret@a/%2F', 'amqps://b/%2F']
    >>> split_urls("")
    []
    """
    urls = re.split(r"[\s,]+(?=[A-Za-z][A-Za-z0-9+.-]*://)", (value or "").strip(" \t\r\n,"))
    return [url for url in urls if url]


def mask_urls(value):
    """``value`` (one URL or several) with every password masked, the URLs
    separated by ", "."""
    return ", ".join(mask_url(url) for url in split_urls(value))


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
