from . import stock_valuation_report_mixin
from . import stock_valuation_month_report
from . import stock_valuation_category_month_report
from . import stock_valuation_report
from . import stock_valuation_date_report
