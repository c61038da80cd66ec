from . import stock_levels
