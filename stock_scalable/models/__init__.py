from . import stock_quant
