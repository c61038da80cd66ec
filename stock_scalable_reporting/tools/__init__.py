"""SQL helpers for the reporting views; they take an Odoo cursor."""
