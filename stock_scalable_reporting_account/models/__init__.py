from . import stock_report_refresh
