# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Run inventory commands once per idempotency key, in their own
transactions (the HTTP controller and the AMQP consumer call :func:`execute`).

Three steps, each in a transaction of its own, on one cursor (the HTTP
request's, rolled back first, or one of the registry's):

1. **Resolve** (read only): parse each command, resolve its names to records.
   A malformed or unknown input is answered here; nothing is written.
2. **Claim** (READ COMMITTED, committed at once): insert the command row,
   ``pending``, with ``ON CONFLICT (company_id, idempotency_key) DO NOTHING``.
   Copies arriving at the same moment meet on the unique index: one row.
3. **Post** (REPEATABLE READ, like any Odoo transaction): lock each command
   row (``FOR UPDATE``, waiting at most :data:`IN_PROGRESS_WAIT` seconds,
   else ``in_progress``); whoever holds the lock of a row still ``pending``
   posts it, in a savepoint, and stores the outcome on the row. A copy that
   waited for the lock gets a serialization failure when the poster
   commits, is replayed, and reads the stored outcome. A worker that died
   after the claim leaves a ``pending`` row that the next copy takes over.

A refusal by Odoo or the guard rolls back its savepoint only: the other
commands of the batch commit. A serialization failure or a deadlock (quant
rows, commands) replays the whole posting transaction, up to
:data:`MAX_TRIES` times; stock_scalable's turnstile lets a replay on a hot
product go first.
"""

import json
import logging
import random
import time

from psycopg2 import errors as pg_errors

from odoo import api
from odoo.exceptions import UserError, ValidationError
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY
from odoo.tools import SQL

from ..lib import commands as cmdlib

_logger = logging.getLogger(__name__)

MAX_TRIES = 10
GROUPED = (cmdlib.RECEIVE, cmdlib.DELIVER, cmdlib.MOVE)
IN_PROGRESS_WAIT = 5.0  # seconds a copy waits for the key's poster
# cr.cache slot: the names resolved so far in step 1 of one call of execute().
LOOKUP_SLOT = "stock_scalable.command_lookups"
_CLAIM_COLUMNS = (
    "idempotency_key",
    "company_id",
    "type",
    "state",
    "channel",
    "fingerprint",
    "payload",
    "product_id",
    "quantity",
    "product_uom_id",
    "location_id",
    "location_dest_id",
    "lot_id",
    "package_id",
    "expiration_date",
    "reference",
    "user_id",
)


def _error_answer(key, error):
    return error.status, {
        "idempotency_key": key,
        "status": "error",
        "error": error.as_dict(),
    }


def _stored_answer(state, result):
    answer = json.loads(result)
    return (200 if state == "done" else 422), answer


def _user_context(env, uid):
    """The context the commands of ``uid`` run in: Odoo's ``context_get``
    (language, time zone; cached per user) and the user's companies, the
    default one first. ``env``'s user is ``uid``. Only ``company_id`` is
    read from the user's row: a replay costs no read of the whole user."""
    user = env["res.users"].sudo().browse(uid).with_context(prefetch_fields=False)
    default = user.company_id.id
    others = [company for company in user._get_company_ids() if company != default]
    return dict(env["res.users"].context_get(), allowed_company_ids=[default, *others])


def _as_command_error(exc):
    """A refusal by Odoo (UserError, ValidationError) as a CommandError."""
    if isinstance(exc, cmdlib.CommandError):
        return exc
    code = getattr(exc, "sscale_code", None) or "refused"
    details = getattr(exc, "sscale_details", None) or []
    message = exc.args[0] if exc.args else str(exc)
    extra = dict(details[0]) if details else {}
    if len(details) > 1:
        extra["refusals"] = details
    return cmdlib.CommandError(code, message, **extra)


def execute(registry, uid, payloads, channel, keys=None, cr=None):
    """Post ``payloads`` (decoded JSON objects, in order) as user ``uid``.

    Returns one ``(HTTP status, answer)`` per payload, in order. An answer
    is ``{"idempotency_key", "status": "done", "type", "document", "on_hand":
    [{product, location, lot, package, quantity, uom, ...}]}`` or
    ``{"idempotency_key", "status": "refused" | "error", "error": {"code",
    "message", "details"}}``. ``keys``: per payload, the key given outside
    the body (the ``Idempotency-Key`` header, the AMQP ``message_id``), or
    None. ``channel``: ``"http"``, ``"amqp"`` or
    ``"odoo"``, stored on the row. ``cr``: a cursor to run on (an HTTP
    request's, rolled back first: it has written nothing), else one of the
    registry's. A key that comes twice in ``payloads`` is posted once; its
    copies get the same answer (or ``idempotency_key_reused``)."""
    if cr is not None:
        cr.rollback()
        return _execute(cr, uid, payloads, channel, keys)
    with registry.cursor() as own:
        return _execute(own, uid, payloads, channel, keys)


def _execute(cr, uid, payloads, channel, keys):
    answers = [None] * len(payloads)
    resolved = {}
    posted = {}
    copies = {}  # index of a copy -> index of the first of its key
    env = api.Environment(cr, uid, {})
    env = env(context=_user_context(env, uid))
    Command = env["stock.inventory.command"]
    # 1. Resolve (nothing written). A copy of a command already answered
    # gets its stored answer at once (the common retry).
    keys = keys or [None] * len(payloads)
    parsed = {}
    cr.cache[LOOKUP_SLOT] = {}
    try:
        _resolve(cr, env, payloads, keys, parsed, answers, resolved, copies)
    finally:
        cr.cache.pop(LOOKUP_SLOT, None)
    cr.rollback()
    if not resolved:
        return _answer_copies(answers, parsed, copies)
    # 2. Claim the keys (READ COMMITTED: a copy's row, committed while we
    # waited on the unique index, is simply "there").
    cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
    rows = [Command._sscale_row_values(item, channel) for item in resolved.values()]
    cr.execute(
        SQL(
            """INSERT INTO stock_inventory_command (%s, create_uid, write_uid,
                                                   create_date, write_date)
               SELECT r.*, %s, %s, now() at time zone 'UTC', now() at time zone 'UTC'
                 FROM jsonb_to_recordset(%s::jsonb) AS r(%s)
               ON CONFLICT (company_id, idempotency_key) DO NOTHING""",
            SQL(", ").join(SQL.identifier(c) for c in _CLAIM_COLUMNS),
            uid,
            uid,
            json.dumps([{c: row[c] for c in _CLAIM_COLUMNS} for row in rows]),
            SQL(", ").join(
                SQL("%s %s", SQL.identifier(c), SQL(_claim_type(Command, c)))
                for c in _CLAIM_COLUMNS
            ),
        )
    )
    cr.commit()
    # 3. Post, replaying the transaction on a concurrency failure.
    for attempt in range(1, MAX_TRIES + 1):
        try:
            posted = _post(env, resolved)
            cr.commit()
            break
        except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY as exc:
            cr.rollback()
            env.invalidate_all()
            # As Odoo's own replay logs it (odoo.service.model.retrying).
            _logger.info(
                "inventory commands: %s, %d tries left, replaying the batch",
                type(exc).__name__,
                MAX_TRIES - attempt,
            )
            if attempt == MAX_TRIES:
                _logger.warning(
                    "inventory commands: %s after %d tries, answered in_progress",
                    type(exc).__name__,
                    attempt,
                )
                busy = cmdlib.CommandError(
                    "in_progress", "the stock of these products is busy; send it again"
                )
                posted = {
                    i: _error_answer(item["command"].idempotency_key, busy)
                    for i, item in resolved.items()
                }
                break
            time.sleep(random.uniform(0, 0.02 * attempt))
    for index, answer in posted.items():
        answers[index] = answer
    return _answer_copies(answers, parsed, copies)


def _resolve(cr, env, payloads, keys, parsed, answers, resolved, copies):
    """Step 1 of :func:`execute`: parse each payload into ``parsed``, answer
    the malformed, unknown and already answered ones in ``answers``, note
    the copies of a key in ``copies`` and resolve the others into
    ``resolved`` (dicts of :meth:`_sscale_resolve`). Writes nothing."""
    Command = env["stock.inventory.command"]
    for index, (payload, header_key) in enumerate(zip(payloads, keys, strict=True)):
        key = header_key or (payload.get("idempotency_key") if isinstance(payload, dict) else None)
        try:
            parsed[index] = cmdlib.parse(payload, header_key)
        except cmdlib.CommandError as error:
            answers[index] = _error_answer(key, error)
    stored = _stored_answers(cr, [c.idempotency_key for c in parsed.values()], env.companies)
    first_of = {}
    for index, command in parsed.items():
        if command.idempotency_key in first_of:
            copies[index] = first_of[command.idempotency_key]
            continue
        first_of[command.idempotency_key] = index
        row = stored.get((command.idempotency_key, command.fingerprint))
        if row:
            answers[index] = _stored_answer(*row)
            continue
        try:
            resolved[index] = Command._sscale_resolve(command)
        except cmdlib.CommandError as error:
            answers[index] = _error_answer(command.idempotency_key, error)


def _answer_copies(answers, parsed, copies):
    """A key's copies in one batch get its first's answer, or
    ``idempotency_key_reused`` when their payload differs."""
    for index, first in copies.items():
        command = parsed[index]
        if command.fingerprint == parsed[first].fingerprint:
            answers[index] = answers[first]
        else:
            answers[index] = _error_answer(
                command.idempotency_key,
                cmdlib.CommandError(
                    "idempotency_key_reused",
                    f"idempotency key {command.idempotency_key} was used for another command",
                ),
            )
    return answers


def _stored_answers(cr, keys, companies):
    """``{(key, fingerprint): (state, answer json)}`` of the commands of
    ``keys`` already answered in one of ``companies`` (a key used once
    among them; anything else takes the full path)."""
    if not keys:
        return {}
    cr.execute(
        SQL(
            """SELECT idempotency_key, MIN(fingerprint), MIN(state), MIN(result)
                 FROM stock_inventory_command
                WHERE idempotency_key = ANY(%s) AND company_id = ANY(%s)
                  AND state != 'pending'
                GROUP BY idempotency_key HAVING COUNT(*) = 1""",
            keys,
            companies.ids,
        )
    )
    return {
        (key, fingerprint): (state, result) for key, fingerprint, state, result in cr.fetchall()
    }


def _claim_type(Command, column):
    field = Command._fields[column]
    return {
        "many2one": "integer",
        "float": "double precision",
        "char": "varchar",
        "text": "text",
        "selection": "varchar",
        "date": "date",
    }[field.type]


def _post(env, resolved):
    """The posting transaction of :func:`execute` (step 3)."""
    cr = env.cr
    Command = env["stock.inventory.command"]
    answers = {}
    pending = []
    for index, item in resolved.items():
        command = item["command"]
        try:
            with cr.savepoint(flush=False):
                cr.execute(SQL("SET LOCAL lock_timeout = %s", f"{int(IN_PROGRESS_WAIT * 1000)}ms"))
                cr.execute(
                    SQL(
                        """SELECT id, state, fingerprint, result FROM stock_inventory_command
                            WHERE company_id = %s AND idempotency_key = %s FOR UPDATE""",
                        item["company"].id,
                        command.idempotency_key,
                    ),
                    log_exceptions=False,
                )
                row = cr.fetchone()
                cr.execute("SET LOCAL lock_timeout TO DEFAULT")
        except pg_errors.LockNotAvailable:
            answers[index] = _error_answer(
                command.idempotency_key,
                cmdlib.CommandError(
                    "in_progress",
                    f"command {command.idempotency_key} is being posted by another request;"
                    " send it again",
                ),
            )
            continue
        if row is None:  # purged between claim and post
            answers[index] = _error_answer(
                command.idempotency_key,
                cmdlib.CommandError("in_progress", "the command was not claimed; send it again"),
            )
            continue
        row_id, state, fingerprint, result = row
        if fingerprint != command.fingerprint:
            answers[index] = _error_answer(
                command.idempotency_key,
                cmdlib.CommandError(
                    "idempotency_key_reused",
                    f"idempotency key {command.idempotency_key} was used for another command",
                ),
            )
            continue
        if state != "pending":
            answers[index] = _stored_answer(state, result)
            continue
        pending.append((index, Command.browse(row_id), item))
    # Consecutive transfers of a product-named command go together; the
    # others (counts, scraps, whole packages) one at a time, in order.
    runs = []
    for entry in pending:
        groupable = entry[2]["command"].type in GROUPED and bool(entry[2]["product"])
        if groupable and runs and runs[-1][0]:
            runs[-1][1].append(entry)
        else:
            runs.append((groupable, [entry]))
    for groupable, run in runs:
        if groupable and len(run) > 1:
            try:
                with cr.savepoint():
                    answers.update(Command._sscale_post_run(run))
                continue
            except (cmdlib.CommandError, UserError, ValidationError) as exc:
                env.invalidate_all()
                _logger.info(
                    "inventory commands: %d posted together were refused (%s);"
                    " posting them one by one",
                    len(run),
                    str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                )
        for index, record, item in run:
            try:
                with cr.savepoint():
                    answers[index] = 200, record._sscale_post(item)
            except (cmdlib.CommandError, UserError, ValidationError) as exc:
                env.invalidate_all()
                answers[index] = 422, record._sscale_refuse(_as_command_error(exc))
    return answers
