# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "Stock Event Bus",
    "summary": "Transactional outbox of stock postings, published to RabbitMQ",
    "version": "18.0.1.5.1",
    "category": "Inventory/Inventory",
    "website": "https://github.com/stock-scalable/stock-scalable",
    "author": "Stock Scalable contributors",
    "license": "LGPL-3",
    "development_status": "Beta",
    "depends": ["stock_scalable"],
    "external_dependencies": {"python": ["pika", "jsonschema"]},
    "data": [
        "security/stock_event_bus_security.xml",
        "security/ir.model.access.csv",
        "data/ir_cron.xml",
        "data/command_topology.xml",
        "views/stock_event_outbox_views.xml",
        "views/res_users_views.xml",
    ],
    "assets": {
        "web.assets_tests": [
            "stock_event_bus/static/tests/tours/*.js",
        ],
    },
    "installable": True,
    "application": False,
}
