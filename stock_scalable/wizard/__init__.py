from . import stock_inventory_conflict
