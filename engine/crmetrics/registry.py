"""The plugin manager and what the plugins registered.

:func:`build_registry` is the only place that builds a pluggy manager: it is never done at
import time. It loads the ``crmetrics`` entry points (honouring ``CRMETRICS_DISABLE_PLUGINS``
and ``CRMETRICS_LOAD_PLUGINS``), registers in-process plugins, and calls each plugin's hooks
one plugin at a time, so that a plugin that fails to import, raises, or registers something
wrong is reported with its name while the others keep working.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import Distribution, entry_points
from pathlib import Path
from typing import Any

import pluggy
import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from crmetrics import hookspecs
from crmetrics.builtin_functions import builtin_functions
from crmetrics.connector import Connector
from crmetrics.connector_reference import ConnectorReference, Connectors
from crmetrics.errors import Issue
from crmetrics.formula.functions import FunctionSpec, FunctionTable
from crmetrics.output import BUILTIN_FORMATS, OutputFormat

DISABLE_ENV = "CRMETRICS_DISABLE_PLUGINS"
LOAD_ENV = "CRMETRICS_LOAD_PLUGINS"
TRACE_ENV = "CRMETRICS_TRACE_PLUGINS"


@dataclass
class PluginInfo:
    """A loaded (or failed) plugin and what it provided.

    Attributes:
        name: the entry point's name, or the in-process plugin's.
        declared_version: the version an in-process plugin declares (``__version__``).
        distribution: the installed package of an entry-point plugin, whose version is
            read only when asked: reading a package's metadata parses a mail-format file,
            milliseconds that a run which never shows versions need not spend.
    """

    name: str
    declared_version: str = ""
    hooks: list[str] = field(default_factory=list)
    provides: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    distribution: Distribution | None = field(default=None, repr=False)

    @property
    def version(self) -> str:
        """The installed package's version, or the declared one."""
        return self.distribution.version if self.distribution is not None else self.declared_version


@dataclass
class Registry:
    """Everything the plugins registered, with who registered it."""

    connectors: Connectors = field(default_factory=Connectors)
    functions: FunctionTable = field(default_factory=builtin_functions)
    definition_dirs: list[tuple[Path, str]] = field(default_factory=list)
    output_formats: dict[str, OutputFormat] = field(default_factory=lambda: dict(BUILTIN_FORMATS))
    plugins: dict[str, PluginInfo] = field(default_factory=dict)
    providers: dict[str, str] = field(default_factory=dict)

    @property
    def problems(self) -> list[Issue]:
        """A warning per plugin error: the caller decides how to show them."""
        return [
            Issue(
                "plugin",
                f"plugin {info.name!r}: {error}",
                severity="warning",
                hint=f"fix or uninstall the plugin, or set {DISABLE_ENV}={info.name}",
            )
            for info in self.plugins.values()
            for error in info.errors
        ]


def _selected(names: Iterable[str]) -> set[str]:
    wanted = {n.strip() for n in os.environ.get(LOAD_ENV, "").split(",") if n.strip()}
    blocked = {n.strip() for n in os.environ.get(DISABLE_ENV, "").split(",") if n.strip()}
    names = set(names)
    chosen = names & wanted if wanted else names
    if "all" in blocked:
        return set()
    return chosen - blocked


def build_registry(
    plugins: Iterable[object] = (), *, entry_point_group: str | None = hookspecs.PROJECT_NAME
) -> Registry:
    """Load plugins and collect what they register.

    Args:
        plugins: in-process plugins (modules or objects with ``@hookimpl`` functions), for
            tests and notebooks; registered after the installed ones.
        entry_point_group: the entry-point group to load installed plugins from; None loads
            none (an isolated registry).
    """
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    if os.environ.get(TRACE_ENV):
        manager.trace.root.setwriter(lambda text: sys.stderr.write(text))
        manager.enable_tracing()
    registry = Registry()
    found = list(entry_points(group=entry_point_group)) if entry_point_group else []
    chosen = _selected(ep.name for ep in found)
    for ep in found:
        if ep.name not in chosen:
            continue
        info = registry.plugins.setdefault(ep.name, PluginInfo(ep.name, distribution=ep.dist))
        try:
            module = ep.load()
            manager.register(module, name=ep.name)
        except Exception as error:  # a broken plugin must not take the others down
            info.errors.append(f"failed to load ({type(error).__name__}: {error})")
    for plugin in plugins:
        if manager.is_registered(plugin):  # installed and also passed in-process
            continue
        name = getattr(plugin, "__name__", None) or type(plugin).__name__
        registry.plugins.setdefault(name, PluginInfo(name, getattr(plugin, "__version__", "")))
        try:
            manager.register(plugin, name=name)
        except Exception as error:
            registry.plugins[name].errors.append(f"failed to register ({error})")
    try:
        manager.check_pending()
    except pluggy.PluginValidationError as error:  # e.g. a misspelled hook name
        name = manager.get_name(error.plugin) or repr(error.plugin)
        registry.plugins.setdefault(name, PluginInfo(name)).errors.append(str(error))
    # Hooks are called one plugin at a time (not through manager.hook) so that one raising
    # cannot stop the others; the hook tracer is fed by hand for the same reason.
    trace = manager.trace.root.get("hook")
    for hook_name in hookspecs.HOOK_NAMES:
        for impl in getattr(manager.hook, hook_name).get_hookimpls():
            _call(registry, hook_name, impl.plugin_name, impl.function, trace)
    return registry


def _call(
    registry: Registry,
    hook_name: str,
    plugin: str,
    function: Callable[..., Any],
    trace: Callable[..., None],
) -> None:
    info = registry.plugins.setdefault(plugin, PluginInfo(plugin))
    info.hooks.append(hook_name)
    register = _REGISTER[hook_name](registry, info)
    provided, failed = len(info.provides), len(info.errors)
    trace(hook_name, {"plugin": plugin})
    try:
        function(register=register)
    except Exception as error:
        info.errors.append(f"hook {hook_name} raised {type(error).__name__}: {error}")
    trace("finish", hook_name, "-->", info.provides[provided:], *info.errors[failed:])


def _register_connector(registry: Registry, info: PluginInfo) -> Callable[[Any], None]:
    def register(connector: Any) -> None:
        is_class = isinstance(connector, type) and issubclass(connector, Connector)
        if not (is_class or isinstance(connector, ConnectorReference)):
            info.errors.append(f"register_connectors gave {connector!r}, not a Connector subclass")
            return
        scheme = getattr(connector, "scheme", None)
        if not isinstance(scheme, str) or not scheme.isidentifier():
            named = connector.__name__ if is_class else connector.target
            info.errors.append(f"connector {named} has no valid 'scheme' attribute")
            return
        key = f"connector:{scheme}"
        if scheme in registry.connectors:
            info.errors.append(
                f"connector scheme {scheme!r} is already registered by {registry.providers[key]}"
            )
            return
        registry.connectors.add(scheme, connector, info.name)
        registry.providers[key] = info.name
        info.provides.append(f"connector {scheme}:")

    return register


def _register_function(registry: Registry, info: PluginInfo) -> Callable[[Any], None]:
    def register(spec: Any) -> None:
        if not isinstance(spec, FunctionSpec):
            info.errors.append(f"register_functions gave {spec!r}, not a FunctionSpec")
            return
        if not _is_free_function_name(spec):
            info.errors.append(
                f"function {spec.name!r} cannot be called from formulas: SQL already gives "
                f"{spec.name}() a meaning; choose another name"
            )
            return
        try:
            registry.functions.add(spec, info.name)
        except ValueError as error:
            info.errors.append(str(error))
            return
        info.provides.append(f"function {spec.name}()")

    return register


def _is_free_function_name(spec: FunctionSpec) -> bool:
    """Whether a call of ``spec`` in a formula reaches the function table.

    sqlglot parses names it knows as SQL functions (``sqrt``, ``left``, ``log``...) into
    their own nodes, so a plugin function with such a name would never be called.
    """
    call = f"{spec.name}({', '.join(f'a{i}' for i in range(len(spec.args)))})"
    try:
        return isinstance(sqlglot.parse_one(call), exp.Anonymous)
    except SqlglotError:
        return False


def _register_dir(registry: Registry, info: PluginInfo) -> Callable[[Any], None]:
    def register(path: Any) -> None:
        folder = Path(path)
        if not folder.is_dir():
            info.errors.append(f"definition folder {folder} does not exist")
            return
        registry.definition_dirs.append((folder, info.name))
        info.provides.append(f"definitions {folder.name}/")

    return register


def _register_format(registry: Registry, info: PluginInfo) -> Callable[[Any], None]:
    def register(output: Any) -> None:
        if not isinstance(output, OutputFormat):
            info.errors.append(f"register_output_formats gave {output!r}, not an OutputFormat")
            return
        key = f"format:{output.name}"
        if output.name in registry.output_formats:
            info.errors.append(
                f"output format {output.name!r} is already registered by "
                f"{registry.providers.get(key, 'crmetrics')}"
            )
            return
        registry.output_formats[output.name] = output
        registry.providers[key] = info.name
        info.provides.append(f"format {output.name}")

    return register


_REGISTER: dict[str, Callable[[Registry, PluginInfo], Callable[[Any], None]]] = {
    "register_connectors": _register_connector,
    "register_functions": _register_function,
    "register_definition_dirs": _register_dir,
    "register_output_formats": _register_format,
}
