from . import test_matview
