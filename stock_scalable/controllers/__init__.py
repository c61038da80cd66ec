from . import inventory_commands
