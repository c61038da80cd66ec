# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import doctest
import unittest

from odoo.tests import BaseCase, tagged

from ..lib import config


@tagged("post_install", "-at_install")
class TestConfig(BaseCase):
    def test_doctests(self):
        """lib/config.py's examples are its specification: they run as
        written. (A ``load_tests`` function would be ignored: Odoo's loader
        only takes the test methods of TestCase classes, pytest does not
        call it either; so the doctests run from this method.)"""
        suite = doctest.DocTestSuite(config, optionflags=doctest.ELLIPSIS)
        self.assertGreater(suite.countTestCases(), 0)
        result = unittest.TestResult()
        suite.run(result)
        self.assertEqual(result.testsRun, suite.countTestCases())
        failures = [report for _test, report in result.failures + result.errors]
        if failures:
            self.fail("\n".join(failures))

    def test_defaults_without_broker(self):
        """With nothing configured, no broker is set and defaults apply."""
        settings = config.resolve({}, {})
        self.assertFalse(settings.broker_configured)
        self.assertEqual(settings.exchange, "stock.events")
        self.assertEqual(settings.batch_size, 500)
        self.assertEqual(settings.retention_days, 30)
        self.assertTrue(settings.level_events)

    def test_environment_overrides_odoo_conf(self):
        """STOCK_EVENT_BUS_AMQP_URL wins over the odoo.conf amqp_url."""
        settings = config.resolve(
            {"amqp_url": "amqp://conf:conf@conf-host/%2F", "batch_size": "50"},
            {config.ENV_AMQP_URL: "amqp://env:secret@env-host:5672/%2F"},
        )
        self.assertEqual(settings.amqp_url, "amqp://env:secret@env-host:5672/%2F")
        self.assertEqual(settings.batch_size, 50)

    def test_password_is_masked(self):
        """The password never appears in the printable URL."""
        settings = config.resolve({"amqp_url": "amqp://bob:s3cret@host:5672/vh"}, {})
        self.assertEqual(settings.safe_amqp_url, "amqp://bob:***@host:5672/vh")
        self.assertNotIn("s3cret", settings.safe_amqp_url)
        self.assertEqual(config.mask_url("amqp://host/"), "amqp://host/")

    def test_bad_values_name_the_option(self):
        """A bad value is refused with the option's name and no secret."""
        with self.assertRaisesRegex(ValueError, r"batch_size must be a whole number"):
            config.resolve({"batch_size": "many"}, {})
        with self.assertRaisesRegex(ValueError, r"retention_days must be greater than 0"):
            config.resolve({"retention_days": "0"}, {})
        with self.assertRaisesRegex(ValueError, r"amqp:// or amqps://") as err:
            config.resolve({"amqp_url": "http://u:topsecret@host"}, {})
        self.assertNotIn("topsecret", str(err.exception))
        with self.assertRaisesRegex(ValueError, r"level_events must be true or false"):
            config.resolve({"level_events": "maybe"}, {})
        self.assertFalse(config.resolve({"level_events": "False"}, {}).level_events)

    def test_cluster_urls_and_queue_type(self):
        """Several URLs (a cluster's nodes) are kept in order and masked
        one by one; the command queues are quorum queues unless set."""
        settings = config.resolve(
            {"amqp_url": "amqp://u:pw1@rabbit1:5672/%2F,\n amqp://u:pw2@rabbit2:5672/%2F"}, {}
        )
        self.assertEqual(
            settings.amqp_urls, ("amqp://u:pw1@rabbit1:5672/%2F", "amqp://u:pw2@rabbit2:5672/%2F")
        )
        self.assertEqual(
            settings.safe_amqp_url, "amqp://u:***@rabbit1:5672/%2F, amqp://u:***@rabbit2:5672/%2F"
        )
        self.assertEqual(settings.command_queue_type, "quorum")
        self.assertEqual(
            config.resolve({"command_queue_type": "classic"}, {}).command_queue_type, "classic"
        )
        with self.assertRaisesRegex(ValueError, r"command_queue_type must be one of"):
            config.resolve({"command_queue_type": "stream"}, {})
        with self.assertRaisesRegex(ValueError, r"amqp:// or amqps://") as err:
            config.resolve({"amqp_url": "amqp://u:a@h1/%2F, http://u:topsecret@h2"}, {})
        self.assertNotIn("topsecret", str(err.exception))
        # A comma or a space in a password does not split the URL.
        self.assertEqual(
            config.resolve({"amqp_url": "amqp://u:se,c ret@h1/%2F"}, {}).amqp_urls,
            ("amqp://u:se,c ret@h1/%2F",),
        )
        with self.assertRaisesRegex(ValueError, r"amqp_url has a bad port") as err:
            config.resolve({"amqp_url": "amqp://u:topsecret@h1:notaport/%2F"}, {})
        self.assertNotIn("topsecret", str(err.exception))
