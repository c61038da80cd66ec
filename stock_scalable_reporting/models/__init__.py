from . import report_read_group
from . import stock_report_refresh
from . import stock_movement_report
from . import stock_inventory_date_wizard
from . import product_product
from . import res_config_settings
