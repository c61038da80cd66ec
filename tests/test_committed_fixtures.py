# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The shared fixtures do what the concurrency tests rely on: real,
isolated transactions on committed data, and a real broker."""

import pika
import psycopg2
import pytest

from odoo.tests import tagged

from tests.harness import amqp


@tagged("-at_install", "post_install", "sscale_committed")
@pytest.mark.committed
class TestCommittedDatabase:
    def test_transactions_are_real_and_isolated(self, committed_db):
        """A write is invisible to another cursor until commit, and its row
        lock really blocks that other cursor."""
        with committed_db.env() as env:
            product = env["product.product"].create({"name": "Isolation Probe"})
        with committed_db.cursor() as cr_a, committed_db.cursor() as cr_b:
            cr_a.execute(
                "UPDATE product_product SET default_code = 'A' WHERE id = %s", [product.id]
            )
            cr_b.execute("SELECT default_code FROM product_product WHERE id = %s", [product.id])
            assert cr_b.fetchone()[0] is None
            cr_b.execute("SET LOCAL lock_timeout = '200ms'")
            with pytest.raises(psycopg2.errors.LockNotAvailable):
                cr_b.execute(
                    "SELECT id FROM product_product WHERE id = %s FOR NO KEY UPDATE",
                    [product.id],
                )
            cr_b.rollback()
            cr_a.commit()
            cr_b.execute("SELECT default_code FROM product_product WHERE id = %s", [product.id])
            assert cr_b.fetchone()[0] == "A"

    def test_concurrent_receipts_keep_the_ledger(self, committed_db):
        """Four receipts of different products committed at once through the
        ORM leave every quant equal to its ledger, one quant per key."""
        with committed_db.env() as env:
            warehouse = env["stock.warehouse"].search([], limit=1, order="id")
            products = env["product.product"].create(
                [{"name": f"Concurrent SKU {i}", "is_storable": True} for i in range(4)]
            )
            stock_id, product_ids = warehouse.lot_stock_id.id, products.ids
            in_type_id = warehouse.in_type_id.id
            supplier_id = env.ref("stock.stock_location_suppliers").id

        def receive(product_id, qty):
            def post(env):
                picking = env["stock.picking"].create(
                    {
                        "picking_type_id": in_type_id,
                        "location_id": supplier_id,
                        "location_dest_id": stock_id,
                        "move_ids": [
                            (
                                0,
                                0,
                                {
                                    "name": "receipt",
                                    "product_id": product_id,
                                    "product_uom_qty": qty,
                                    "location_id": supplier_id,
                                    "location_dest_id": stock_id,
                                },
                            )
                        ],
                    }
                )
                picking.action_confirm()
                picking.button_validate()
                return picking.state

            return lambda: committed_db.call(post)

        outcomes = committed_db.run_concurrently(
            [receive(pid, 10 + i) for i, pid in enumerate(product_ids)]
        )
        assert [o[0] for o in outcomes] == ["ok"] * 4, outcomes
        assert all(o[1][0] == "done" for o in outcomes)
        with committed_db.env() as env:
            assert env["stock.quant"]._sscale_ledger_drift(product_ids=product_ids) == []
            on_hand = [env["product.product"].browse(pid).qty_available for pid in product_ids]
            assert on_hand == [10, 11, 12, 13]


@tagged("-at_install", "post_install", "sscale_amqp")
@pytest.mark.amqp
class TestAmqpChannel:
    def test_publish_confirm_and_consume(self, amqp_channel):
        """A persistent message published with confirms on a topic exchange
        reaches the bound temporary queue, properties intact."""
        exchange = amqp_channel.declare_exchange()
        queue = amqp_channel.declare_queue()
        amqp_channel.channel.queue_bind(queue, exchange, routing_key="stock.1.*.receipt")
        amqp_channel.channel.basic_publish(
            exchange,
            "stock.1.7.receipt",
            b'{"quantity": 3}',
            pika.BasicProperties(
                delivery_mode=pika.DeliveryMode.Persistent,
                content_type="application/json",
                message_id="probe-1",
            ),
            mandatory=True,
        )
        messages = amqp_channel.drain(queue)
        assert len(messages) == 1
        method, properties, body = messages[0]
        assert method.routing_key == "stock.1.7.receipt"
        assert properties.message_id == "probe-1"
        assert body == b'{"quantity": 3}'

    def test_cleanup_deletes_temporary_queues(self, amqp_channel):
        """After cleanup the temporary queue no longer exists on the broker."""
        queue = amqp_channel.declare_queue()
        amqp_channel.cleanup()
        conn = amqp.connect()
        try:
            with pytest.raises(pika.exceptions.ChannelClosedByBroker) as err:
                conn.channel().queue_declare(queue, passive=True)
            assert err.value.reply_code == 404
        finally:
            conn.close()
