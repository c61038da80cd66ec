from . import test_ledger
from . import test_guard
from . import test_quant_key
from . import test_reconciliation
from . import test_posting_paths
from . import test_movement_types
from . import test_tour
from . import test_commands
