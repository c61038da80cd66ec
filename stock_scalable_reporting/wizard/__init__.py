from . import stock_report_date_wizard_mixin
from . import stock_inventory_date_wizard
