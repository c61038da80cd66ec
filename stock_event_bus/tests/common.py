# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import uuid

from odoo.addons.stock_scalable.tests.common import StockScalableCommon


class EventBusCommon(StockScalableCommon):
    """stock_scalable's fixtures plus a second company and helpers that write
    outbox rows directly (the posting hooks are tested on their own)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_a = cls.env.company
        cls.company_b = cls.env["res.company"].create({"name": "Event Bus Company B"})

    @classmethod
    def _create_event(cls, company, **vals):
        return (
            cls.env["stock.event.outbox"]
            .sudo()
            .create(
                {
                    "event_uuid": str(uuid.uuid4()),
                    "company_id": company.id,
                    "event_type": "RECEIPT",
                    "product_id": cls.product.id,
                    "quantity": 1.0,
                    **vals,
                }
            )
        )

    @classmethod
    def _counted_quant(cls, product, qty):
        """A count of ``qty`` units of ``product`` in WH/Stock, not applied."""
        return (
            cls.env["stock.quant"]
            .with_context(inventory_mode=True)
            .create(
                {
                    "product_id": product.id,
                    "location_id": cls.stock_location.id,
                    "inventory_quantity": qty,
                }
            )
        )

    @classmethod
    def _create_user(cls, login, groups, companies):
        return cls.env["res.users"].create(
            {
                "name": login,
                "login": login,
                "groups_id": [(6, 0, [cls.env.ref(g).id for g in groups])],
                "company_id": companies[0].id,
                "company_ids": [(6, 0, [c.id for c in companies])],
            }
        )
