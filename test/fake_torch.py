"""torch.save without torch: CPython's own pickler, driven the way torch/serialization.py drives it.

Stand-ins for torch.<Type>Storage, torch._utils._rebuild_tensor_v2 and Tensor.__reduce_ex__ give
CPython the same object graph a real state dict gives it (fresh TypedStorage, size and stride
tuples and backward-hooks OrderedDict per tensor; 'storage' and 'cpu' constants; storage keys from
id_map.setdefault in the zip format, a new str(address) per reference in the legacy one), so
the bytes it writes are the bytes torch writes. Nothing here imports real torch.

usage: fake_torch.py zip-pkl|zip|legacy SPEC.json OUT
  SPEC: {"container": "OrderedDict"|"dict", "metadata": [[prefix, version], ...] | null,
         "folder": "archive", "legacy_keys": [key of storage 0, 1, ...],
         "entries": [{"name", "dtype", "shape", "data": base64} |
                     {"name", "view_of", "shape", "stride", "offset"}]}
"""
import base64
import collections
import io
import json
import pickle
import struct
import sys
import types
import zipfile

torch = types.ModuleType("torch")
torch_utils = types.ModuleType("torch._utils")
torch._utils = torch_utils
sys.modules["torch"] = torch
sys.modules["torch._utils"] = torch_utils


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks, metadata=None):
    raise RuntimeError("fake torch cannot load")


def _rebuild_parameter(data, requires_grad, backward_hooks):
    raise RuntimeError("fake torch cannot load")


def _rebuild_parameter_with_state(data, requires_grad, backward_hooks, state):
    raise RuntimeError("fake torch cannot load")


for fn in (_rebuild_tensor_v2, _rebuild_parameter, _rebuild_parameter_with_state):
    fn.__module__ = "torch._utils"
    setattr(torch_utils, fn.__name__, fn)

STORAGE_CLASS = {"float32": "FloatStorage", "float64": "DoubleStorage", "int64": "LongStorage",
                 "float16": "HalfStorage", "bfloat16": "BFloat16Storage"}
ITEM_SIZE = {"float32": 4, "float64": 8, "int64": 8, "float16": 2, "bfloat16": 2}
for cls_name in STORAGE_CLASS.values():
    setattr(torch, cls_name, type(cls_name, (), {"__module__": "torch"}))


class UntypedStorage:
    def __init__(self, dtype, data):
        self.dtype, self.data = dtype, data
        self.numel = len(data) // ITEM_SIZE[dtype]


class TypedStorage:
    """What Tensor.__reduce_ex__ wraps the storage in: a new one at every call."""

    def __init__(self, untyped):
        self.untyped = untyped


class Tensor:
    def __init__(self, untyped, offset, size, stride):
        self.untyped, self.offset, self.size, self.stride = untyped, offset, size, stride

    def __reduce_ex__(self, proto):
        return (_rebuild_tensor_v2, (TypedStorage(self.untyped), self.offset, tuple(self.size),
                                     tuple(self.stride), False, collections.OrderedDict()))


class Parameter:
    """nn.Parameter.__reduce_ex__: the data tensor, plus the instance state when it has any."""

    def __init__(self, data, state=None):
        self.data, self.state = data, state

    def __reduce_ex__(self, proto):
        hooks = collections.OrderedDict()
        if not self.state:
            return (_rebuild_parameter, (self.data, True, hooks))
        return (_rebuild_parameter_with_state, (self.data, True, hooks, self.state))


def contiguous(shape):
    stride, step = [], 1
    for n in reversed(shape):
        stride.insert(0, step)
        step *= n
    return stride


def build(spec):
    bases = {}
    container = collections.OrderedDict() if spec.get("container", "OrderedDict") == "OrderedDict" else {}
    for e in spec["entries"]:
        if "view_of" in e:
            container[e["name"]] = Tensor(bases[e["view_of"]], e["offset"], e["shape"], e["stride"])
        else:
            bases[e["name"]] = UntypedStorage(e["dtype"], base64.b64decode(e["data"]))
            container[e["name"]] = Tensor(bases[e["name"]], 0, e["shape"], contiguous(e["shape"]))
    if spec.get("metadata") is not None:
        container._metadata = collections.OrderedDict((p, dict(version=v)) for p, v in spec["metadata"])
    return container


def zip_pickle(obj, protocol=2):
    """torch.serialization._save's pickling of obj; returns (data.pkl, {key: storage})."""
    id_map, storages = {}, {}

    class PyTorchPickler(pickle.Pickler):
        def persistent_id(self, o):
            if isinstance(o, TypedStorage):
                key = id_map.setdefault(id(o.untyped), str(len(id_map)))
                storages[key] = o.untyped
                return ("storage", getattr(torch, STORAGE_CLASS[o.untyped.dtype]), key, "cpu", o.untyped.numel)
            return None

    buf = io.BytesIO()
    PyTorchPickler(buf, protocol=protocol).dump(obj)
    return buf.getvalue(), storages


def legacy_save(obj, keys, f):
    """torch.serialization._legacy_save, with storage i's _cdata address given as keys[i]."""
    order, storages = {}, {}

    def persistent_id(o):
        if isinstance(o, TypedStorage):
            index = order.setdefault(id(o.untyped), len(order))
            key = str(int(keys[index]))  # str(obj._cdata): a new str at every call
            storages[key] = o.untyped
            return ("storage", getattr(torch, STORAGE_CLASS[o.untyped.dtype]), key, "cpu", o.untyped.numel, None)
        return None

    sys_info = dict(protocol_version=1001, little_endian=sys.byteorder == "little",
                    type_sizes=dict(short=2, int=4, long=8))
    pickle.dump(0x1950a86a20f9469cfc6c, f, protocol=2)
    pickle.dump(1001, f, protocol=2)
    pickle.dump(sys_info, f, protocol=2)
    pickler = pickle.Pickler(f, protocol=2)
    pickler.persistent_id = persistent_id
    pickler.dump(obj)
    sorted_keys = sorted(storages.keys())
    pickle.dump(sorted_keys, f, protocol=2)
    for key in sorted_keys:
        f.write(struct.pack("<q", storages[key].numel))
        f.write(storages[key].data)


def main():
    mode, spec_path, out = sys.argv[1:4]
    with open(spec_path) as f:
        spec = json.load(f)
    obj = build(spec)
    if mode == "zip-pkl":
        with open(out, "wb") as f:
            f.write(zip_pickle(obj)[0])
    elif mode == "zip":
        # Python's zipfile as the container: an independent writer of a stored archive.
        data, storages = zip_pickle(obj)
        folder = spec.get("folder", "archive")
        with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
            z.writestr(f"{folder}/data.pkl", data)
            z.writestr(f"{folder}/byteorder", "little")
            for key, s in storages.items():
                z.writestr(f"{folder}/data/{key}", s.data)
            z.writestr(f"{folder}/version", "3\n")
    elif mode == "legacy":
        with open(out, "wb") as f:
            legacy_save(obj, spec["legacy_keys"], f)
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
