"""Run one CPython unittest file and print one machine-readable line per test.

    python3 tests/runner/cpy_unit.py tests/interop/test_x.py

Each result is a line `@@mpcoap-result <PASS|FAIL|SKIP> <id>` on stdout
(tests/run.py reads them), with the failure's traceback and the test's captured
output on the following lines prefixed by `@@mpcoap-detail `. Exit status is
non-zero if any test failed or the file could not be loaded.
"""

import importlib.util
import io
import os
import sys
import traceback
import unittest

TAG = "@@mpcoap-result"
DETAIL = "@@mpcoap-detail "
# Keep the log readable: the last lines of a traceback say what went wrong.
DETAIL_LINES = 60


def emit(status, name, detail=""):
    out = sys.__stdout__
    out.write("%s %s %s\n" % (TAG, status, name))
    lines = detail.rstrip("\n").splitlines()
    if len(lines) > DETAIL_LINES:
        lines = ["... (%d lines cut)" % (len(lines) - DETAIL_LINES)] + lines[-DETAIL_LINES:]
    for line in lines:
        out.write(DETAIL + line + "\n")
    out.flush()


class LineResult(unittest.TestResult):
    """Prints each test's outcome as soon as it is known. Output a test writes
    to stdout/stderr is buffered and only shown when it fails."""

    def __init__(self, prefix):
        super().__init__()
        self.buffer = True
        self.prefix = prefix
        self.failed = 0

    def _id(self, test):
        # test.id() is module.Class.method; the module is the file's name.
        parts = test.id().split(".")
        return ".".join([self.prefix] + parts[-2:]) if len(parts) >= 2 else self.prefix + "." + test.id()

    def _captured(self):
        out = []
        for stream in (self._stdout_buffer, self._stderr_buffer):
            if stream is not None and stream.getvalue():
                out.append(stream.getvalue())
        return "".join(out)

    def addSuccess(self, test):
        super().addSuccess(test)
        emit("PASS", self._id(test))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        emit("SKIP", self._id(test), reason)

    def _bad(self, test, err, kind):
        self.failed += 1
        # Without unittest's own frames; the captured output is added below.
        was, self.buffer = self.buffer, False
        text = kind + ": " + self._exc_info_to_string(err, test)
        self.buffer = was
        captured = self._captured()
        if captured:
            text += "\n-- captured output --\n" + captured
        # Shown here, prefixed, instead of unittest echoing it unprefixed.
        self._mirrorOutput = False
        emit("FAIL", self._id(test), text)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._bad(test, err, "FAIL")

    def addError(self, test, err):
        super().addError(test, err)
        # Errors in setUpClass/setUpModule arrive as _ErrorHolder objects.
        self._bad(test, err, "ERROR")

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        emit("PASS", self._id(test))

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self.failed += 1
        emit("FAIL", self._id(test), "unexpected success")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self.failed += 1
            emit("FAIL", self._id(test) + " " + subtest._subDescription(), self._exc_info_to_string(err, test))


def main(path):
    path = os.path.abspath(path)
    name = os.path.splitext(os.path.basename(path))[0]
    prefix = os.path.basename(os.path.dirname(path)) + "/" + name
    sys.path.insert(0, os.path.dirname(path))
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        suite = unittest.defaultTestLoader.loadTestsFromModule(module)
    except Exception:
        emit("FAIL", prefix + " (import)", traceback.format_exc())
        return 1
    result = LineResult(prefix)
    if suite.countTestCases() == 0:
        emit("FAIL", prefix + " (no tests found)")
        return 1
    suite.run(result)
    return 1 if result.failed else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.stderr.write(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
