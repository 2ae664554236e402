"""What the simulators of samples/ share (simulate_bmode.py, simulate_xa.py)."""
import hashlib


def uid(seed, *parts):
    """A 2.25 UID derived from the seed and the parts: reproducible runs."""
    digest = hashlib.sha256(repr((seed,) + parts).encode()).digest()
    return "2.25." + str(int.from_bytes(digest[:15], "big"))
