"""Shared pieces of the fuzz tests (tests/test_fuzz_*.py): mutation strategies, the
property every parser of outside files must keep, and the fixed-seed settings.

Property: a parser given any bytes returns a result or raises one ValueError whose message
is a single line naming the file; any other exception type is a failure. Hangs are bounded
by hypothesis' per-example deadline and the test's pytest timeout.
"""
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Derandomized (a fixed seed) and no example database: every run sees the same inputs.
FUZZ = settings(max_examples=400, derandomize=True, database=None, deadline=5000, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large])

STRUCTURAL = [b"\n", b" ", b":", b"{", b"}", b"[", b"]", b",", b"-", b"<", b">", b"/", b'"', b"'", b"!!",
              b"\x00", b"\xff", b"1e999", b"nan", b"-1", b"0", b"999999999999", b"begin", b"end", b"ROOT",
              b"JOINT", b"End Site", b"OFFSET", b"CHANNELS", b"MOTION", b"Frames:", b"Frame Time:", b"&a", b"*a"]


@st.composite
def mutated(draw, seeds):
    """One of `seeds` (bytes) after a few random edits: cut, insert, overwrite, duplicate."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.sampled_from(["truncate", "insert", "overwrite", "delete", "duplicate"]))
        i = draw(st.integers(0, len(data)))
        piece = draw(st.one_of(st.sampled_from(STRUCTURAL), st.binary(max_size=12)))
        if op == "truncate":
            del data[i:]
        elif op == "insert":
            data[i:i] = piece
        elif op == "overwrite":
            data[i:i + len(piece)] = piece
        elif op == "delete":
            del data[i:i + draw(st.integers(1, 64))]
        else:
            j = draw(st.integers(i, min(len(data), i + 200)))
            data[j:j] = data[i:j]
    return bytes(data)


class Tally:
    """Counts the examples a fuzz test ran and how they ended (printed with pytest -s)."""

    def __init__(self, name):
        self.name, self.results, self.errors = name, 0, 0

    def check(self, call, path):
        try:
            out = call()
        except ValueError as e:
            message = str(e)
            assert message and "\n" not in message, f"not a one-line error: {message!r}"
            assert str(path) in message, f"the error does not name the file: {message!r}"
            self.errors += 1
            return None
        self.results += 1
        return out

    def report(self, minimum):
        total = self.results + self.errors
        print(f"\nfuzz {self.name}: {total} examples ({self.results} parsed, {self.errors} one-line errors)")
        assert total >= minimum
