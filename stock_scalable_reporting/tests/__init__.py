from . import test_matview
from . import test_report_actions
