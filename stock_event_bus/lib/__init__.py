"""Pure-Python parts of the event bus: no Odoo import below this package."""
