# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models


class ResUsers(models.Model):
    _inherit = "res.users"

    amqp_user = fields.Char(
        string="AMQP User",
        copy=False,
        groups="base.group_system",
        help="The RabbitMQ user whose inventory commands stock_command_consume posts as this"
        " user, with this user's rights and companies. RabbitMQ checks the user_id property"
        " of each message against the user the publisher connected as; a command without"
        " user_id, or whose broker user is mapped to no active user, is dead-lettered"
        " (unknown_broker_user).",
    )

    _sql_constraints = [
        (
            "stock_event_bus_amqp_user_unique",
            "UNIQUE(amqp_user)",
            "A RabbitMQ user is mapped to one Odoo user only.",
        ),
    ]

    @api.model
    def _stock_event_bus_user_of(self, broker_user):
        """The active user mapped to RabbitMQ user ``broker_user``, or an
        empty recordset."""
        if not broker_user:
            return self.browse()
        return self.sudo().search([("amqp_user", "=", broker_user)], limit=1)

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if "amqp_user" in vals:
                vals["amqp_user"] = (vals["amqp_user"] or "").strip() or False
        return super().create(vals_list)

    def write(self, vals):
        if "amqp_user" in vals:
            vals = dict(vals, amqp_user=(vals["amqp_user"] or "").strip() or False)
        return super().write(vals)
