"""coap.pyi against the module: every function and method declared in the
stub takes exactly the parameters the stub names, by position or keyword as
the stub says, with the same ones required. Checked through MicroPython's
own argument parser on the unix build: a call whose names the parser accepts
fails (if at all) in the module's own checks, never with a parser message."""

import ast
import os
import subprocess
import unittest

import os as _os, sys as _sys
_sys.path.insert(0, _os.path.join(_os.path.dirname(_os.path.dirname(_os.path.abspath(__file__))), "cpython"))
import support as s  # noqa: E402  (tests/cpython/support.py)

STUB = os.path.join(s.ROOT, "coap.pyi")

# Receivers of the calls: module functions, a resource, a session.
OWNERS = {None: "coap", "CoapResource": "r", "CoapClientSession": "sess"}

# The messages of MicroPython's argument parser (py/argcheck.c) that mean
# "these names or this count are not what the function takes".
PARSER = (
    "function doesn't take keyword arguments",
    "extra positional arguments given",
    "extra keyword arguments given",
    "argument required",
    "function takes ",
    "function missing ",
    "function expected at most ",
    "argument num/types mismatch",
)


class Param:
    def __init__(self, name, kind, required):
        self.name, self.kind, self.required = name, kind, required


def stub_functions():
    """[(owner, name, [Param])] of every public function and method in the
    stub. The variants of an @overload merge: every name any of them takes,
    required only where every variant requires it."""
    with open(STUB) as f:
        tree = ast.parse(f.read())
    out = {}

    def visit(body, owner):
        for node in body:
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                a = node.args
                params = []
                pos = a.posonlyargs + a.args
                if owner is not None:
                    pos = pos[1:]  # self
                n_req = len(pos) - len(a.defaults)
                for i, p in enumerate(pos):
                    params.append(Param(p.arg, "pos", i < n_req))
                for p, d in zip(a.kwonlyargs, a.kw_defaults):
                    params.append(Param(p.arg, "kw", d is None))
                key = (owner, node.name)
                if key in out:
                    seen = {p.name: p for p in out[key]}
                    for p in params:
                        if p.name in seen:
                            seen[p.name].required = seen[p.name].required and p.required
                        else:
                            p.required = False
                            out[key].append(p)
                    for p in out[key]:
                        if p.name not in [q.name for q in params]:
                            p.required = False
                else:
                    out[key] = params
            elif isinstance(node, ast.ClassDef) and node.name in OWNERS:
                visit(node.body, node.name)

    visit(tree.body, None)
    return [(o, n, p) for (o, n), p in out.items()]


def calls(owner, name, params):
    """(label, call text, whether the parser must accept it) for one function."""
    f = "%s.%s" % (OWNERS[owner], name)
    v = "X"  # an object no check accepts: the call fails after the parser
    req = [p for p in params if p.required]
    pos = [p for p in params if p.kind == "pos"]
    # (An empty call checks no name, and read() would wait in it.)
    if params:
        yield "all by name", "%s(%s)" % (f, ", ".join("%s=%s" % (p.name, v) for p in params)), True
    if req:
        yield "required by name", "%s(%s)" % (f, ", ".join("%s=%s" % (p.name, v) for p in req)), True
    if pos:
        yield "positionals by position", "%s(%s)" % (f, ", ".join(v for p in pos)), True
    for p in req:
        rest = ", ".join("%s=%s" % (q.name, v) for q in req if q is not p)
        yield "without " + p.name, "%s(%s)" % (f, rest), False
    yield "unknown name", "%s(%s)" % (f, ", ".join(["%s=%s" % (p.name, v) for p in req] + ["zz_unknown=1"])), False
    yield "one positional too many", "%s(%s)" % (f, ", ".join([v] * (len(pos) + 1))), False


SCRIPT_HEAD = """
import coap
X = object()
coap.init()
r = coap.add_resource("stub")
sess = coap.new_client_session("127.0.0.1", 9)
def probe(label, fn):
    try:
        fn()
        print("RESULT|%s|ok|" % label)
    except Exception as e:
        print("RESULT|%s|%s|%s" % (label, type(e).__name__, e.args[0] if e.args else ""))
"""


class TestStubMatchesModule(unittest.TestCase):
    def test_every_signature(self):
        mp = s.micropython()
        if not os.path.exists(mp):
            self.skipTest("MicroPython binary %s not built" % mp)
        funcs = stub_functions()
        self.assertTrue(len(funcs) >= 15, [n for _, n, _ in funcs])
        lines, expect = [SCRIPT_HEAD], {}
        for owner, name, params in funcs:
            if (owner, name) == (None, "deinit"):
                continue  # would end the run; it takes no arguments, like get_client_sessions
            for label, call, accepted in calls(owner, name, params):
                key = "%s.%s %s" % (owner or "coap", name, label)
                expect[key] = (accepted, call)
                lines.append("probe(%r, lambda: %s)" % (key, call))
        path = s.write_script(self, "\n".join(lines) + "\n")
        r = s.run([mp, path], env=dict(os.environ, **s.mp_env()), timeout=60)
        out = r.stdout.decode(errors="replace")
        got = {}
        for line in out.splitlines():
            if line.startswith("RESULT|"):
                _, key, exc, msg = line.split("|", 3)
                got[key] = (exc, msg)
        bad = []
        for key, (accepted, call) in expect.items():
            if key not in got:
                bad.append("%s: no result (%s)" % (key, call))
                continue
            exc, msg = got[key]
            parser = exc == "TypeError" and any(m in msg for m in PARSER)
            if accepted and parser:
                bad.append("%s: %s raised %s(%r), the stub says it is valid" % (key, call, exc, msg))
            if not accepted and not parser:
                bad.append("%s: %s gave %s %r, the stub says the parser refuses it" % (key, call, exc, msg))
        self.assertEqual(bad, [], "\n" + "\n".join(bad) + "\n--- output ---\n" + out[-2000:])


if __name__ == "__main__":
    unittest.main()


ASYNC_STUB = os.path.join(s.ROOT, "coap_asyncio.pyi")
ASYNC_SOURCE = os.path.join(s.ROOT, "mod", "coap_asyncio.py")


def public_defs(path):
    """{name: (is_async, positional names, keyword-only names, names with a default)}
    of the module-level public functions in a Python file or stub."""
    out = {}
    for node in ast.parse(open(path).read()).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("_"):
            a = node.args
            pos = [x.arg for x in a.posonlyargs + a.args]
            defaults = set(pos[len(pos) - len(a.defaults):]) | {
                k.arg for k, d in zip(a.kwonlyargs, a.kw_defaults) if d is not None}
            out[node.name] = (isinstance(node, ast.AsyncFunctionDef), pos, [k.arg for k in a.kwonlyargs], defaults)
    return out


class AsyncioStub(unittest.TestCase):
    """coap_asyncio.pyi against mod/coap_asyncio.py (plain Python, so its
    source is the signature): the same public functions, async alike, the
    same parameters, positional or keyword-only alike, the same optional."""

    def test_stub_matches_module(self):
        stub, source = public_defs(ASYNC_STUB), public_defs(ASYNC_SOURCE)
        self.assertTrue(stub, "no functions found in the stub")
        self.assertEqual(stub, source)
