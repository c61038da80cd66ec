"""Code with no Odoo import, tested on its own."""
