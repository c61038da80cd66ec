# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The top-level tests: committed data, real PostgreSQL and RabbitMQ, real
Odoo processes. Their harness (tests.harness) is shared with bench/ and
scripts/."""
