# tests/preload/python_check.py: run by preload.python inside the interpreter
# to show which allocator Python really uses: whether the library in argv[1] is
# mapped, and whether tarena's ta_owns() claims a block Python allocated.
import ctypes
import os
import sys

lib = os.path.realpath(sys.argv[1])
with open("/proc/self/maps") as f:
    paths = {line.split(None, 5)[5].strip() for line in f if len(line.split(None, 5)) == 6}
print("mapped:", "yes" if lib in paths else "no")

try:
    ta_owns = ctypes.CDLL(None).ta_owns
except AttributeError:
    print("ta_owns: absent")
    sys.exit(0)
ta_owns.restype = ctypes.c_int
ta_owns.argtypes = [ctypes.c_void_p]
# A bytes object this large is a malloc block starting at the object itself
# (id() is its address) in both PYTHONMALLOC=malloc and pymalloc modes.
b = bytes(100000)
print("ta_owns(bytes):", ta_owns(id(b)))
# None lives in libpython's data segment: a pointer tarena never handed out.
print("ta_owns(None):", ta_owns(id(None)))
