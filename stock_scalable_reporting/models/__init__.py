from . import stock_report_refresh
from . import product_product
from . import res_config_settings
