"""Python's side of `npm run bench -- --only pickle`: pickle.load of an EG3D network pickle with torch,
EG3D's own classes stubbed (the fixtures carry no module source). Prints the best of N wall times in ms.
Usage: python3 python_load.py FILE [REPEATS]"""
import pickle
import sys
import time

import torch  # noqa: F401  (the storages are rebuilt by torch.storage._load_from_bytes)


class Stub(dict):
    """Any EG3D / dnnlib class: keeps its state, runs nothing."""

    def __setstate__(self, state):
        self['__state__'] = state


def reconstruct_persistent_obj(meta):
    return meta


class Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if module == 'torch_utils.persistence' and name == '_reconstruct_persistent_obj':
            return reconstruct_persistent_obj
        if module.startswith(('torch_utils', 'dnnlib', 'training')):
            return Stub
        return super().find_class(module, name)


def main():
    path = sys.argv[1]
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    best = float('inf')
    for _ in range(repeats):
        t0 = time.perf_counter()
        with open(path, 'rb') as f:
            obj = Unpickler(f).load()
        best = min(best, time.perf_counter() - t0)
        del obj
    print(f'{best * 1000:.1f}')


main()
