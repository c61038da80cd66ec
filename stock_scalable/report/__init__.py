from . import stock_ledger_drift
