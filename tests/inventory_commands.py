# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""What the inventory-command tests (test_inventory_commands_*.py) share:
command bodies, a product to scan, API keys and users, and the figures a
test checks on committed data (on hand, the ledger, a snapshot)."""

import datetime
import uuid

from tests.harness.stock_flows import create_product, main_warehouse


def command(type_, key=None, **fields):
    """A command body of ``type_`` (receive, deliver, count, scrap...) with
    ``key`` as its idempotency key (a new one by default) and ``fields``."""
    return {"idempotency_key": key or uuid.uuid4().hex, "type": type_, **fields}


def deliver(code, qty, location, key=None):
    """A delivery of ``qty`` of the product ``code`` from ``location``."""
    return command("deliver", key, product=code, quantity=qty, location=location)


def receive(code, qty, location, key=None):
    """A receipt of ``qty`` of the product ``code`` into ``location``."""
    return command("receive", key, product=code, quantity=qty, location_dest=location)


def new_product(committed_db, qty=0.0, **vals):
    """A new product with an internal reference (``qty`` on hand in the main
    stock): ``(product id, its code, stock location id, its full name)``."""
    with committed_db.env() as env:
        product = create_product(
            env,
            f"Scanned {uuid.uuid4().hex[:6]}",
            qty=qty,
            default_code=uuid.uuid4().hex[:8],
            **vals,
        )
        stock = main_warehouse(env).lot_stock_id
        return product.id, product.default_code, stock.id, stock.complete_name


def api_key(committed_db, login="admin", groups=None):
    """An API key of ``login`` (created with ``groups`` when missing)."""
    with committed_db.env() as env:
        user = env["res.users"].search([("login", "=", login)])
        if not user:
            user = env["res.users"].create(
                {"name": login, "login": login, "groups_id": [(6, 0, groups or [])]}
            )
        expires = datetime.datetime.now() + datetime.timedelta(days=1)
        return env["res.users.apikeys"].with_user(user)._generate("rpc", "tests", expires)


def odoo_user(committed_db, login, groups=("stock.group_stock_user",), broker_user=None):
    """A user of the main company only, mapped to ``broker_user``; its id."""
    with committed_db.env() as env:
        company = env.ref("base.main_company")
        user = env["res.users"].create(
            {
                "name": login,
                "login": login,
                "groups_id": [(6, 0, [env.ref(g).id for g in groups])],
                "company_id": company.id,
                "company_ids": [(6, 0, company.ids)],
                "amqp_user": broker_user,
            }
        )
        return user.id


def snapshot(committed_db, product_ids):
    """What a refused input must leave unchanged."""
    with committed_db.cursor() as cr:
        cr.execute(
            """SELECT (SELECT COUNT(*) FROM stock_move WHERE product_id = ANY(%(p)s)),
                      (SELECT COALESCE(SUM(quantity), 0) FROM stock_quant
                        WHERE product_id = ANY(%(p)s)),
                      (SELECT COUNT(*) FROM stock_event_outbox WHERE event_type <> 'LEVEL'),
                      (SELECT COUNT(*) FROM stock_inventory_command)""",
            {"p": list(product_ids)},
        )
        return cr.fetchone()


def on_hand(committed_db, product_id, location_id=None):
    """``(quantity, quant rows)`` of the product at the location."""
    with committed_db.cursor() as cr:
        cr.execute(
            """SELECT COALESCE(SUM(q.quantity), 0), COUNT(*) FROM stock_quant q
                WHERE q.product_id = %s AND q.location_id = %s""",
            (product_id, location_id),
        )
        return cr.fetchone()


def done_ledger(committed_db, product_id, location_id):
    """The product's quantity at the location by its done move lines."""
    with committed_db.cursor() as cr:
        cr.execute(
            """SELECT COALESCE(SUM(CASE WHEN location_dest_id = %(l)s THEN quantity_product_uom
                                        ELSE -quantity_product_uom END), 0)
                 FROM stock_move_line
                WHERE state = 'done' AND product_id = %(p)s
                  AND (location_id = %(l)s OR location_dest_id = %(l)s)
                  AND location_id != location_dest_id""",
            {"p": product_id, "l": location_id},
        )
        return cr.fetchone()[0]


def command_keys(committed_db, product_id):
    """The idempotency keys of the product's stored commands."""
    with committed_db.cursor() as cr:
        cr.execute(
            "SELECT idempotency_key FROM stock_inventory_command WHERE product_id = %s",
            (product_id,),
        )
        return [row[0] for row in cr.fetchall()]
