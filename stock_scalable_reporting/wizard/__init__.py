from . import stock_inventory_date_wizard
