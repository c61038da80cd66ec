# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "Stock Scalable Reporting: Valuation",
    "summary": "Inventory valuation reports on materialized views, exact at read time",
    "version": "18.0.1.1.1",
    "category": "Inventory/Inventory",
    "website": "https://github.com/stock-scalable/stock-scalable",
    "author": "Stock Scalable contributors",
    "license": "LGPL-3",
    "development_status": "Beta",
    "depends": ["stock_scalable_reporting", "stock_account"],
    "data": [
        "security/ir.model.access.csv",
        "security/stock_scalable_reporting_account_security.xml",
        "report/stock_valuation_report.xml",
        "report/stock_valuation_date_report.xml",
        "wizard/stock_valuation_date_wizard.xml",
        "views/menus.xml",
    ],
    "assets": {
        "web.assets_tests": [
            "stock_scalable_reporting_account/static/tests/tours/*.js",
        ],
    },
    "uninstall_hook": "uninstall_hook",
    "auto_install": True,
    "installable": True,
    "application": False,
}
