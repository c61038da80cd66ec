from . import stock_event_outbox
from . import stock_event_sequence
from . import stock_event_dispatcher
from . import stock_event_bus_status
from . import stock_move
from . import res_users
from . import stock_level
from . import stock_quant
