from . import test_matview
from . import test_movement_types
from . import test_read_group
from . import test_report_actions
from . import test_tour
from . import test_replica_title
