# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "Stock Scalable Reporting",
    "summary": "Inventory reports on materialized views, refreshed without blocking anyone",
    "version": "18.0.1.5.2",
    "category": "Inventory/Inventory",
    "website": "https://github.com/stock-scalable/stock-scalable",
    "author": "Stock Scalable contributors",
    "license": "LGPL-3",
    "development_status": "Beta",
    "depends": ["stock_scalable"],
    "data": [
        "security/ir.model.access.csv",
        "security/stock_scalable_reporting_security.xml",
        "data/ir_cron.xml",
        "report/stock_movement_report.xml",
        "report/stock_level_report.xml",
        "report/stock_inventory_date_report.xml",
        "wizard/stock_inventory_date_wizard.xml",
        "views/stock_report_refresh_views.xml",
        "views/res_config_settings_views.xml",
        "views/menus.xml",
    ],
    "assets": {
        "web.assets_tests": [
            "stock_scalable_reporting/static/tests/tours/*.js",
        ],
    },
    "uninstall_hook": "uninstall_hook",
    "installable": True,
    "application": False,
}
