from . import stock_valuation_date_wizard
