"""Pure logic of stock_scalable: no Odoo import below this package."""
