# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Who an AMQP inventory command is posted as: the Odoo user mapped to the
message's user_id (RabbitMQ checks it against the publisher's login);
unmapped, archived or forged users post nothing; a new exchange routes
nothing until ``--declare-only`` declared it."""

import json
import uuid

import pika
import pytest

from odoo.tests import tagged

from tests.harness.command_bus import BrokerUser
from tests.inventory_commands import command_keys, new_product, odoo_user, on_hand, receive

pytestmark = [pytest.mark.committed, pytest.mark.amqp, pytest.mark.slow]


@pytest.fixture
def broker_users():
    """Factory of RabbitMQ users of their own (tests.harness.command_bus),
    deleted after the test."""
    made = []

    def make(exchange):
        user = BrokerUser(exchange)
        made.append(user)
        return user

    yield make
    for user in made:
        user.delete()


@tagged("-at_install", "post_install", "sscale_committed")
class TestAmqpCommandUsers:
    """Who an AMQP command is posted as: the Odoo user mapped to the
    message's user_id, which RabbitMQ checks against the publisher's login."""

    def test_a_mapped_user_posts_with_its_own_rights(
        self, committed_db, command_bus, broker_users
    ):
        """An integration's RabbitMQ user, mapped to a stock user of the main
        company: its receipt is posted as that user (the command, the move
        and the transfer are its), and a receipt into another company's
        stock is refused forbidden as over HTTP, dead-lettered with its code."""
        product_id, code, stock_id, stock = new_product(committed_db)
        with committed_db.env() as env:
            other = env["res.company"].create({"name": f"Other {uuid.uuid4().hex[:6]}"})
            other_stock = env["stock.warehouse"].search([("company_id", "=", other.id)])
            other_stock_id = other_stock.lot_stock_id.id
        bus = command_bus()
        integration = broker_users(bus.exchange)
        clerk = odoo_user(committed_db, integration.name, broker_user=integration.name)
        bus.start()
        channel = integration.channel()
        bus.publish(
            receive(code, 4, stock, "mine"), code, channel=channel, user_id=integration.name
        )
        bus.publish(
            receive(code, 1, other_stock_id, "theirs"),
            code,
            channel=channel,
            user_id=integration.name,
        )
        replies = bus.replies(2)
        assert replies["mine"]["status"] == "done", replies
        assert replies["theirs"]["http_status"] == 403, replies
        assert replies["theirs"]["error"]["code"] == "forbidden"
        assert integration.name in replies["theirs"]["error"]["message"]
        with committed_db.cursor() as cr:
            cr.execute(
                """SELECT c.user_id, c.create_uid, m.create_uid, p.create_uid
                     FROM stock_inventory_command c
                     JOIN stock_move m ON m.picking_id = c.picking_id
                     JOIN stock_picking p ON p.id = c.picking_id
                    WHERE c.idempotency_key = 'mine'"""
            )
            assert cr.fetchone() == (clerk, clerk, clerk, clerk)
        assert on_hand(committed_db, product_id, stock_id) == (4, 1)
        assert on_hand(committed_db, product_id, other_stock_id) == (0, 0)
        [(headers, body)] = bus.letters(1)
        assert headers["x-error-code"] == "forbidden"
        assert headers["x-original-user-id"] == integration.name
        assert json.loads(body)["idempotency_key"] == "theirs"

    def test_no_user_or_an_unmapped_one_posts_nothing(
        self, committed_db, command_bus, broker_users
    ):
        """No default user: a message without user_id, one of a RabbitMQ user
        mapped to nobody, or mapped to an archived user, is answered and
        dead-lettered ``unknown_broker_user``; a user without Inventory
        rights is refused ``forbidden``, as over HTTP. Nothing is posted."""
        product_id, code, stock_id, stock = new_product(committed_db)
        bus = command_bus()
        unmapped, archived, no_rights = (broker_users(bus.exchange) for _n in range(3))
        odoo_user(committed_db, archived.name, broker_user=archived.name)
        with committed_db.env() as env:
            env["res.users"].search([("login", "=", archived.name)]).action_archive()
        odoo_user(
            committed_db, no_rights.name, groups=("base.group_user",), broker_user=no_rights.name
        )
        bus.start()
        bus.publish(receive(code, 1, stock, "anonymous"), code, user_id=None)
        for key, user in (
            ("unmapped", unmapped),
            ("archived", archived),
            ("no-rights", no_rights),
        ):
            bus.publish(
                receive(code, 1, stock, key), code, channel=user.channel(), user_id=user.name
            )
        replies = bus.replies(4)
        codes = {key: (r["http_status"], r["error"]["code"]) for key, r in replies.items()}
        assert codes == {
            "anonymous": (401, "unknown_broker_user"),
            "unmapped": (401, "unknown_broker_user"),
            "archived": (401, "unknown_broker_user"),
            "no-rights": (403, "forbidden"),
        }, replies
        assert "no user_id" in replies["anonymous"]["error"]["message"]
        assert unmapped.name in replies["unmapped"]["error"]["message"]
        letters = bus.letters(4)
        assert (
            sorted(h["x-error-code"] for h, _b in letters)
            == ["forbidden"] + ["unknown_broker_user"] * 3
        )
        assert on_hand(committed_db, product_id, stock_id) == (0, 0)
        assert command_keys(committed_db, product_id) == []

    def test_a_forged_user_id_is_refused_by_the_broker(
        self, committed_db, command_bus, broker_users
    ):
        """An integration that sets user_id to another RabbitMQ user (guest,
        mapped to admin here) has its channel closed by RabbitMQ
        (PRECONDITION_FAILED) and nothing is posted; with its own name the
        command is posted as its Odoo user."""
        product_id, code, stock_id, stock = new_product(committed_db)
        bus = command_bus()
        integration = broker_users(bus.exchange)
        clerk = odoo_user(committed_db, integration.name, broker_user=integration.name)
        bus.start()
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as closed:
            bus.publish(
                receive(code, 5, stock, "forged"),
                code,
                channel=integration.channel(),
                user_id=bus.broker_user,
            )
        assert closed.value.reply_code == 406
        assert "user_id property set to 'guest' but authenticated user was" in str(closed.value)
        bus.publish(
            receive(code, 1, stock, "honest"),
            code,
            channel=integration.channel(),
            user_id=integration.name,
        )
        replies = bus.replies(1)
        assert list(replies) == ["honest"] and replies["honest"]["status"] == "done"
        assert on_hand(committed_db, product_id, stock_id) == (1, 1)
        with committed_db.cursor() as cr:
            cr.execute(
                "SELECT idempotency_key, user_id FROM stock_inventory_command"
                " WHERE product_id = %s",
                [product_id],
            )
            assert cr.fetchall() == [("honest", clerk)]
