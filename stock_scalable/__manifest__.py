# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "Stock Scalable",
    "summary": "Row-locked quant updates that keep inventory exact under concurrent postings",
    "version": "18.0.1.0.0",
    "category": "Inventory/Inventory",
    "website": "https://github.com/stock-scalable/stock-scalable",
    "author": "Stock Scalable contributors",
    "license": "LGPL-3",
    "depends": ["stock"],
    "external_dependencies": {"python": []},
    "data": [
        "security/ir.model.access.csv",
    ],
    "demo": [
        "demo/stock_scalable_demo.xml",
    ],
    "installable": True,
    "application": False,
}
