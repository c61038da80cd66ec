from . import stock_event_dispatch
