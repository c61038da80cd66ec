# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "Stock Scalable",
    "summary": "Row-locked quant updates that keep inventory exact under concurrent postings",
    "version": "18.0.2.1.0",
    "category": "Inventory/Inventory",
    "website": "https://github.com/stock-scalable/stock-scalable",
    "author": "Stock Scalable contributors",
    "license": "LGPL-3",
    "development_status": "Beta",
    "depends": ["stock", "barcodes_gs1_nomenclature"],
    "data": [
        "security/ir.model.access.csv",
        "security/stock_scalable_security.xml",
        "data/ir_cron.xml",
        "views/stock_ledger_drift_views.xml",
        "views/stock_inventory_command_views.xml",
        "views/res_config_settings_views.xml",
        "views/product_views.xml",
        "views/stock_location_views.xml",
    ],
    "assets": {
        "web.assets_tests": [
            "stock_scalable/static/tests/tours/*.js",
        ],
    },
    "pre_init_hook": "pre_init_hook",
    "post_init_hook": "post_init_hook",
    "uninstall_hook": "uninstall_hook",
    "installable": True,
    "application": False,
}
