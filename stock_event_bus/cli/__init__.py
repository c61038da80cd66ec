from . import stock_event_dispatch
from . import stock_command_consume
from . import stock_level_snapshot
