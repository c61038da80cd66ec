# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo.tests import TransactionCase, tagged
from odoo.tools import SQL

from odoo.addons.stock_scalable.lib import movement_types

from ..matviews import movement


@tagged("post_install", "-at_install")
class TestMovementTypes(TransactionCase):
    """The movement reports spell their movement types from stock_scalable's
    one table: the field's selection and the SQL's CASE alike."""

    def test_selection_is_the_table(self):
        """The movement type field's keys are the table's report types, in
        every movement report model."""
        for model in movement.REPORT_VIEWS:
            selection = self.env[model]._fields["movement_type"].selection
            self.assertEqual(
                sorted(key for key, _label in selection), list(movement_types.REPORT_TYPES), model
            )

    def test_sql_case_gives_the_table_types(self):
        """The SQL CASE of the movement facts, over every location usage,
        scrap flag, direction and warehouse pairing, gives the table's report
        types and nothing else."""
        usages = [key for key, _label in self.env["stock.location"]._fields["usage"].selection]
        self.env.cr.execute(
            SQL(
                """
                SELECT DISTINCT %(case)s
                  FROM unnest(%(usages)s::varchar[]) AS usage,
                       (VALUES (TRUE), (FALSE)) scrap (flag),
                       (VALUES (TRUE), (FALSE)) s (incoming),
                       (VALUES (1), (NULL::integer)) ow (warehouse_id),
                       (VALUES (1), (2), (NULL::integer)) l (warehouse_id),
                       LATERAL (SELECT usage, scrap.flag AS scrap_location,
                                       ow.warehouse_id) o
                """,
                case=movement.MOVEMENT_TYPE,
                usages=usages,
            )
        )
        types = {row[0] for row in self.env.cr.fetchall()}
        self.assertEqual(types, set(movement_types.REPORT_TYPES))
