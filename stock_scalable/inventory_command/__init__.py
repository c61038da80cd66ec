# The command path, step by step (runner.py runs them): resolution.py,
# posting.py, batch.py extend stock.inventory.command (models/), which is
# defined before them (models/ is imported first).
from . import resolution
from . import posting
from . import batch
