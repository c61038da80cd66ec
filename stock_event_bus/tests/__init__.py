from . import test_config
from . import test_events
from . import test_outbox_access
from . import test_outbox_events
from . import test_tour
from . import test_command_schema
from . import test_broker_users
from . import test_lib
