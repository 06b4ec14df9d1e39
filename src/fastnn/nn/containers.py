"""Identity, ModuleList and ModuleDict: containers that register their
modules (so parameters, train/eval and state dicts reach them) under
torch's names: "0", "1", ... for a ModuleList, the keys for a ModuleDict."""
from collections import OrderedDict

from .module import Module


def _put(container, name, m):
    """Register m under name, in place when the name exists (order kept)."""
    container._modules[name] = m
    object.__setattr__(container, name, m)


def _check_module(container, m, where):
    if not isinstance(m, Module):
        raise TypeError(f"{container}: {where} is a {type(m).__name__}, not a Module")
    return m


class Identity(Module):
    """Returns its input; takes (and ignores) any arguments, as torch's."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class ModuleList(Module):
    """A list of modules, indexed like a Python list."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _index(self, i):
        n = len(self._modules)
        if isinstance(i, bool) or not hasattr(i, "__index__"):
            raise TypeError(f"ModuleList: indices must be ints or slices, got {type(i).__name__}")
        i = i.__index__()
        if not -n <= i < n:
            raise IndexError(f"ModuleList: index {i} is out of range for {n} modules")
        return i % n

    def _reset(self, modules):
        for name in list(self._modules):
            object.__delattr__(self, name)
        self._modules.clear()
        for i, m in enumerate(modules):
            _put(self, str(i), m)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(list(self._modules.values()))

    def __getitem__(self, i):
        mods = list(self._modules.values())
        if isinstance(i, slice):
            return ModuleList(mods[i])
        return mods[self._index(i)]

    def __setitem__(self, i, m):
        _put(self, str(self._index(i)), _check_module("ModuleList", m, "the value"))

    def __delitem__(self, i):
        mods = list(self._modules.values())
        gone = set(range(len(mods))[i]) if isinstance(i, slice) else {self._index(i)}
        self._reset([m for k, m in enumerate(mods) if k not in gone])

    def __iadd__(self, modules):
        return self.extend(modules)

    def __add__(self, other):
        return ModuleList(list(self) + list(other))

    def append(self, module):
        _put(self, str(len(self._modules)), _check_module("ModuleList", module, "the appended value"))
        return self

    def extend(self, modules):
        for k, m in enumerate(list(modules)):
            _check_module("ModuleList", m, f"element {k}")
        for m in modules:
            self.append(m)
        return self

    def insert(self, index, module):
        _check_module("ModuleList", module, "the inserted value")
        mods = list(self._modules.values())
        mods.insert(index, module)
        self._reset(mods)

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleList has no forward: iterate over it and call its modules")


class ModuleDict(Module):
    """An ordered dict of modules by string key."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def _key(self, key):
        if not isinstance(key, str):
            raise TypeError(f"ModuleDict: keys must be strings, got {type(key).__name__}")
        if not key or "." in key:
            raise KeyError(f"ModuleDict: key {key!r} must be non-empty and contain no '.'")
        if key not in self._modules and hasattr(self, key):
            raise KeyError(f"ModuleDict: key {key!r} is the name of an attribute of ModuleDict")
        return key

    def __getitem__(self, key):
        try:
            return self._modules[key]
        except KeyError:
            raise KeyError(f"ModuleDict: no module {key!r}; keys are {list(self._modules)}") from None

    def __setitem__(self, key, module):
        _put(self, self._key(key), _check_module("ModuleDict", module, f"the value for {key!r}"))

    def __delitem__(self, key):
        self[key]
        del self._modules[key]
        object.__delattr__(self, key)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(list(self._modules))

    def __contains__(self, key):
        return key in self._modules

    def keys(self):
        return list(self._modules.keys())

    def values(self):
        return list(self._modules.values())

    def items(self):
        return list(self._modules.items())

    def pop(self, key):
        m = self[key]
        del self[key]
        return m

    def clear(self):
        for key in list(self._modules):
            del self[key]

    def update(self, modules):
        items = modules.items() if isinstance(modules, (dict, OrderedDict, ModuleDict)) else modules
        for pair in list(items):
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise TypeError(f"ModuleDict.update: expected a mapping or (key, module) pairs, got {pair!r}")
            self[pair[0]] = pair[1]

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleDict has no forward: look its modules up by key and call them")
