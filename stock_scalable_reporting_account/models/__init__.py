from . import stock_report_refresh
from . import stock_valuation_report
from . import stock_valuation_date_wizard
