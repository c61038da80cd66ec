from . import test_config
from . import test_outbox_access
