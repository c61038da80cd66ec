from . import stock_event_outbox
