"""tests/run.py's parser of MicroPython unittest output (also used by
tests/firmware/run_device.py), for both unittest implementations a board may
carry: pycopy-unittest 0.7, which this project freezes, and
micropython-lib's, which prints the class with its module (`__main__.Class`
for a script, `test_x.Class` under unittest.main(test_x)) and heads its
tracebacks `FAIL: name <class 'Class'>`. The transcripts follow each
implementation's print statements."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import run  # noqa: E402

RULE_EQ = "=" * 70
RULE_DASH = "-" * 70

PYCOPY = "\n".join([
    "test_a (TestThing) ... ok",
    "test_b (TestThing) ... printed by the test",
    " FAIL",
    "test_c (TestThing) ... skipped: not on this port",
    "test_d (Other) ... ERROR",
    "",
    RULE_EQ,
    "('test_b', <class 'TestThing'>)",
    RULE_DASH,
    "Traceback (most recent call last):",
    "AssertionError: 1 != 2",
    RULE_EQ,
    "('test_d', <class 'Other'>)",
    RULE_DASH,
    "OSError: 22",
    RULE_DASH,
    "Ran 4 tests",
    "",
    "FAILED (failures=1, errors=1)",
])


def lib_transcript(module):
    return "\n".join([
        "test_a (%s.TestThing) ... ok" % module,
        "test_b (%s.TestThing) ... printed by the test" % module,
        " FAIL",
        "test_c (%s.TestThing) ... skipped: not on this port" % module,
        "test_d (%s.Other) ... ERROR" % module,
        RULE_DASH,
        "Ran 4 tests",
        "",
        RULE_EQ,
        "FAIL: test_d <class 'Other'>",
        RULE_DASH,
        "OSError: 22",
        "",
        RULE_EQ,
        "FAIL: test_b <class 'TestThing'>",
        RULE_DASH,
        "Traceback (most recent call last):",
        "AssertionError: 1 != 2",
        "",
        "FAILED (failures=1, errors=1)",
    ])


EXPECTED = [
    ("PASS", "TestThing.test_a"),
    ("FAIL", "TestThing.test_b"),
    ("SKIP", "TestThing.test_c"),
    ("FAIL", "Other.test_d"),
]


class TestParser(unittest.TestCase):
    def check(self, out):
        results, unfinished, tracebacks, ran, _ = run.parse_pycopy(out)
        self.assertEqual([(st, name) for st, name, _ in results], EXPECTED)
        self.assertIsNone(unfinished)
        self.assertEqual(ran, 4)
        self.assertIn("printed by the test", results[1][2])
        self.assertEqual(results[2][2], "not on this port")
        self.assertIn("AssertionError: 1 != 2", tracebacks.get("TestThing.test_b", ""))
        self.assertIn("OSError: 22", tracebacks.get("Other.test_d", ""))

    def test_pycopy_unittest(self):
        self.check(PYCOPY)

    def test_micropython_lib_unittest_script(self):
        self.check(lib_transcript("__main__"))

    def test_micropython_lib_unittest_main_of_module(self):
        self.check(lib_transcript("test_resources"))

    def test_unfinished_test_is_reported(self):
        out = "test_a (__main__.TestThing) ... ok\ntest_b (__main__.TestThing) ... MemoryError:"
        results, unfinished, _, _, pending = run.parse_pycopy(out)
        self.assertEqual([(st, name) for st, name, _ in results], [("PASS", "TestThing.test_a")])
        self.assertEqual(unfinished, "TestThing.test_b")


if __name__ == "__main__":
    unittest.main()
