"""A small declarative state machine for orchestrators.

The model: docs/arvo-model.md §6.1.

The machine is the part of xstate that Arvo orchestrators use: named states with
entry actions, transitions on event types (with guards and actions), final states
and an output. Actions are :func:`assign` (update the context) and :func:`emit`
(queue a service call). Like every user function in this package, action, guard,
context and output functions declare by parameter name what they need: ``context``
and ``event`` for actions and guards, ``input`` (the init event) for ``context``,
``context`` for ``output``.

A snapshot is a plain dict ``{"status", "value", "context", "output"}`` so any
machine memory can store it. The machine never mutates a snapshot or context it was
given: every step builds new dicts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from arvo_concurrent.arvo.event import ArvoEvent
from arvo_concurrent.arvo.handler import HandlerConfigError
from arvo_concurrent.arvo.injection import Injector
from arvo_concurrent.arvo.workflow_contracts import OrchestrationContracts
from arvo_concurrent.errors import ArgumentTypeError

__all__ = [
    "ArvoMachine",
    "Assign",
    "Emit",
    "MachineSetup",
    "MachineStep",
    "assign",
    "emit",
    "setup_arvo_machine",
]

_ACTION_PARAMS = ("context", "event")
_STATE_KEYS = frozenset({"entry", "on", "type", "description"})
_TRANSITION_KEYS = frozenset({"target", "actions", "guard", "description"})


class Assign:
    """An action that updates the machine context; build it with :func:`assign`."""

    __slots__ = ("_fields", "_whole")

    def __init__(self, whole: Injector | None, fields: tuple[tuple[str, Injector], ...]) -> None:
        self._whole = whole
        self._fields = fields

    def apply(self, context: dict[str, Any], event: ArvoEvent) -> dict[str, Any]:
        """Return a new context with this action's updates; ``context`` is left untouched."""
        values = {"context": context, "event": event}
        updated = dict(context)
        if self._whole is not None:
            partial = self._whole(values)
            if not isinstance(partial, Mapping):
                raise ArgumentTypeError(
                    f"assign() function must return a dict, got {partial!r}", "assign", partial
                )
            updated.update(partial)
        for key, fn in self._fields:
            updated[key] = fn(values)
        return updated


class Emit:
    """An action that queues service calls; build it with :func:`emit`."""

    __slots__ = ("_fn",)

    def __init__(self, fn: Injector) -> None:
        self._fn = fn

    def items(self, context: dict[str, Any], event: ArvoEvent) -> list[Mapping[str, Any]]:
        """The items (``{type, data, ...}``) this action emits for the given context."""
        result = self._fn({"context": context, "event": event})
        if result is None:
            return []
        if isinstance(result, Mapping):
            return [result]
        if isinstance(result, Sequence) and not isinstance(result, str | bytes):
            return list(result)
        raise ArgumentTypeError(
            f"emit() function must return a dict, a list of dicts or None: {result!r}",
            "emit",
            result,
        )


Action = Assign | Emit


def assign(
    fn: Callable[..., Mapping[str, Any]] | None = None, /, **fields: Callable[..., Any]
) -> Assign:
    """Build an action that updates the context.

    ``assign(lambda context, event: {...})`` merges the returned dict into the
    context; ``assign(sum=lambda event: event.data["result"])`` sets one key per
    keyword. Each function declares ``context`` and/or ``event``.

    Raises:
        HandlerConfigError: nothing to assign, or a function declares another parameter.
    """
    if fn is None and not fields:
        raise HandlerConfigError("assign", None, "assign() needs a function or keyword updaters")
    whole = Injector(fn, _ACTION_PARAMS, "assign() function") if fn is not None else None
    compiled = tuple(
        (key, Injector(updater, _ACTION_PARAMS, f"assign() updater for {key!r}"))
        for key, updater in fields.items()
    )
    return Assign(whole, compiled)


def emit(fn: Callable[..., Any]) -> Emit:
    """Build an action that emits service calls.

    ``fn`` declares ``context`` and/or ``event`` and returns one item
    ``{"type", "data", ...}`` (the fields of docs/arvo-model.md §5.2), a list of them, or None.

    Raises:
        HandlerConfigError: ``fn`` declares a parameter other than ``context``/``event``.
    """
    return Emit(Injector(fn, _ACTION_PARAMS, "emit() function"))


class MachineStep(NamedTuple):
    """The result of starting a machine or sending it one event.

    Attributes:
        snapshot: the new snapshot ``{"status", "value", "context", "output"}``.
        emitted: the items queued by emit actions, in execution order.
        completed: True when this step reached a final state.
    """

    snapshot: dict[str, Any]
    emitted: list[Mapping[str, Any]]
    completed: bool


@dataclass(frozen=True, slots=True)
class _Transition:
    target: str | None
    actions: tuple[Action, ...]
    guard: Injector | None


@dataclass(frozen=True, slots=True)
class _State:
    entry: tuple[Action, ...]
    on: Mapping[str, tuple[_Transition, ...]]
    final: bool


class ArvoMachine:
    """A compiled, immutable state machine bound to one orchestrator contract version.

    Build it with ``setup_arvo_machine(contracts=...).create_machine(...)``. The
    machine holds no per-workflow state, so one instance serves every workflow and
    every thread at once; ``start``/``send`` are pure functions of their arguments
    (plus whatever the user's actions do) and do not block.

    Attributes:
        id: the machine id.
        version: the self contract version it implements.
        source: the orchestrator's source (the init event type ``arvo.orc.<name>``).
        contracts: the self contract and the service contracts.
    """

    def __init__(
        self,
        *,
        id: str,
        contracts: OrchestrationContracts,
        states: Mapping[str, _State],
        initial: str,
        context: Injector | None,
        output: Injector | None,
    ) -> None:
        self.id = id
        self.contracts = contracts
        self.version: str = contracts.self_contract.version
        self.source: str = contracts.self_contract.accepts.type
        self._states = states
        self._initial = initial
        self._context = context
        self._output = output

    def start(self, input_event: ArvoEvent) -> MachineStep:
        """Create the initial snapshot for ``input_event`` (the init event) and run entry actions.

        Raises:
            Exception: whatever a user function raises (the orchestrator turns it
                into a system error and a failed workflow).
        """
        context = self._context({"input": input_event}) if self._context is not None else {}
        if not isinstance(context, dict):
            raise ArgumentTypeError(
                f"The machine {self.id!r} context function must return a dict",
                "context",
                context,
            )
        emitted: list[Mapping[str, Any]] = []
        context = self._run(self._states[self._initial].entry, context, input_event, emitted)
        return self._step(self._initial, context, emitted)

    def send(self, snapshot: Mapping[str, Any], event: ArvoEvent) -> MachineStep:
        """Deliver ``event`` to a stored snapshot and return the next one.

        An event without an enabled transition in the current state, or sent to a
        finished machine, leaves the snapshot as it is and emits nothing.
        """
        value = snapshot["value"]
        state = self._states.get(value)
        if snapshot["status"] == "done" or state is None:
            return MachineStep(dict(snapshot), [], False)
        context: dict[str, Any] = snapshot["context"]
        transition = self._select(state, context, event)
        if transition is None:
            return MachineStep(dict(snapshot), [], False)
        emitted: list[Mapping[str, Any]] = []
        context = self._run(transition.actions, context, event, emitted)
        target = transition.target
        if target is None or target == value:
            return self._step(value, context, emitted)
        context = self._run(self._states[target].entry, context, event, emitted)
        return self._step(target, context, emitted)

    def _select(
        self, state: _State, context: dict[str, Any], event: ArvoEvent
    ) -> _Transition | None:
        for transition in state.on.get(event.type, ()):
            guard = transition.guard
            if guard is None or guard({"context": context, "event": event}):
                return transition
        return None

    @staticmethod
    def _run(
        actions: Sequence[Action],
        context: dict[str, Any],
        event: ArvoEvent,
        emitted: list[Mapping[str, Any]],
    ) -> dict[str, Any]:
        for action in actions:
            if isinstance(action, Assign):
                context = action.apply(context, event)
            else:
                emitted.extend(action.items(context, event))
        return context

    def _step(
        self, value: str, context: dict[str, Any], emitted: list[Mapping[str, Any]]
    ) -> MachineStep:
        if not self._states[value].final:
            snapshot = {"status": "active", "value": value, "context": context, "output": None}
            return MachineStep(snapshot, emitted, False)
        output = self._output({"context": context}) if self._output is not None else None
        snapshot = {"status": "done", "value": value, "context": context, "output": output}
        return MachineStep(snapshot, emitted, True)


class MachineSetup:
    """Contracts plus named actions and guards, from which machines are created.

    Returned by :func:`setup_arvo_machine`; immutable and thread-safe.
    """

    def __init__(
        self,
        contracts: OrchestrationContracts,
        actions: Mapping[str, Action],
        guards: Mapping[str, Injector],
    ) -> None:
        self._contracts = contracts
        self._actions = actions
        self._guards = guards

    def create_machine(
        self,
        *,
        id: str,
        states: Mapping[str, Mapping[str, Any]],
        initial: str,
        context: Callable[..., dict[str, Any]] | None = None,
        output: Callable[..., Any] | None = None,
        version: str | None = None,
    ) -> ArvoMachine:
        """Compile a machine definition.

        Args:
            id: the machine's name (used in error messages).
            states: ``{name: {"entry": [actions], "on": {event_type: transition},
                "type": "final"}}``. A transition is a target state name, a dict
                ``{"target", "actions", "guard"}`` (target None: stay, no re-entry),
                or a list of such dicts tried in order (the first whose guard passes).
                Actions and guards are :func:`assign`/:func:`emit` objects and
                callables, or names given to :func:`setup_arvo_machine`.
            initial: the initial state.
            context: ``fn(input) -> dict``, the initial context from the init event.
            output: ``fn(context) -> dict``, the completion data on reaching a final state.
            version: when given, must equal the self contract version.

        Raises:
            HandlerConfigError: naming the state, event type, target or action that is wrong.
        """
        self_version = self._contracts.self_contract.version
        if version is not None and version != self_version:
            raise HandlerConfigError(
                "version",
                version,
                f"Machine {id!r} version {version!r} differs from its self contract "
                f"version {self_version!r}",
            )
        if initial not in states:
            raise HandlerConfigError(
                "initial", initial, f"Machine {id!r}: initial state {initial!r} is not in states"
            )
        compiled = {
            name: self._compile_state(id, name, cfg, states) for name, cfg in states.items()
        }
        return ArvoMachine(
            id=id,
            contracts=self._contracts,
            states=compiled,
            initial=initial,
            context=Injector(context, ("input",), "machine context") if context else None,
            output=Injector(output, ("context",), "machine output") if output else None,
        )

    def _compile_state(
        self, machine: str, name: str, cfg: Mapping[str, Any], states: Mapping[str, Any]
    ) -> _State:
        where = f"Machine {machine!r} state {name!r}"
        unknown = set(cfg) - _STATE_KEYS
        if unknown:
            raise HandlerConfigError(
                "states",
                name,
                f"{where} has unsupported keys {sorted(unknown)}; allowed: {sorted(_STATE_KEYS)}",
            )
        kind = cfg.get("type")
        if kind not in (None, "final"):
            raise HandlerConfigError("states", name, f"{where}: type must be 'final', not {kind!r}")
        on: Mapping[str, Any] = cfg.get("on") or {}
        if kind == "final" and on:
            raise HandlerConfigError("states", name, f"{where} is final and cannot have 'on'")
        receivable = self._contracts.services.response_types
        compiled_on: dict[str, tuple[_Transition, ...]] = {}
        for event_type, spec in on.items():
            if event_type not in receivable:
                raise HandlerConfigError(
                    "states",
                    event_type,
                    f"{where} listens for {event_type!r}, which no service contract emits; "
                    f"known event types: {sorted(receivable)}",
                )
            compiled_on[event_type] = self._compile_transitions(
                f"{where} on {event_type!r}", spec, states
            )
        entry = self._compile_actions(where, cfg.get("entry"))
        return _State(entry=entry, on=compiled_on, final=kind == "final")

    def _compile_transitions(
        self, where: str, spec: Any, states: Mapping[str, Any]
    ) -> tuple[_Transition, ...]:
        specs = spec if isinstance(spec, list | tuple) else [spec]
        return tuple(self._compile_transition(where, one, states) for one in specs)

    def _compile_transition(self, where: str, spec: Any, states: Mapping[str, Any]) -> _Transition:
        if isinstance(spec, str):
            spec = {"target": spec}
        if not isinstance(spec, Mapping):
            raise HandlerConfigError(
                "on", spec, f"{where}: a transition must be a state name or a dict, got {spec!r}"
            )
        unknown = set(spec) - _TRANSITION_KEYS
        if unknown:
            raise HandlerConfigError(
                "on", sorted(unknown), f"{where}: unsupported transition keys {sorted(unknown)}"
            )
        target = spec.get("target")
        if target is not None and target not in states:
            raise HandlerConfigError("target", target, f"{where}: unknown target state {target!r}")
        return _Transition(
            target=target,
            actions=self._compile_actions(where, spec.get("actions")),
            guard=self._compile_guard(where, spec.get("guard")),
        )

    def _compile_actions(self, where: str, spec: Any) -> tuple[Action, ...]:
        if spec is None:
            return ()
        specs = spec if isinstance(spec, list | tuple) else [spec]
        actions: list[Action] = []
        for one in specs:
            action = self._actions.get(one) if isinstance(one, str) else one
            if not isinstance(action, Assign | Emit):
                raise HandlerConfigError(
                    "actions",
                    one,
                    f"{where}: action {one!r} is not an assign()/emit() action "
                    f"or a name from setup actions {sorted(self._actions)}",
                )
            actions.append(action)
        return tuple(actions)

    def _compile_guard(self, where: str, spec: Any) -> Injector | None:
        if spec is None:
            return None
        if isinstance(spec, str):
            if spec not in self._guards:
                raise HandlerConfigError(
                    "guard", spec, f"{where}: unknown guard {spec!r}; known: {sorted(self._guards)}"
                )
            return self._guards[spec]
        return Injector(spec, _ACTION_PARAMS, f"guard of {where}")


def setup_arvo_machine(
    *,
    contracts: Mapping[str, Any],
    actions: Mapping[str, Action] | None = None,
    guards: Mapping[str, Callable[..., bool]] | None = None,
) -> MachineSetup:
    """Bind the contracts (and optional named actions and guards) machines are built on.

    Args:
        contracts: ``{"self": orchestrator_contract.version(v),
            "services": {name: contract.version(v)}}``.
        actions: named :func:`assign`/:func:`emit` actions that states may refer to by name.
        guards: named guard functions (declaring ``context``/``event``) that transitions
            may refer to by name.

    Raises:
        HandlerConfigError: the contracts are malformed (see :class:`OrchestrationContracts`)
            or a named action is not an assign()/emit() action.
    """
    bound = OrchestrationContracts.from_mapping(contracts)
    named_actions = dict(actions or {})
    for name, action in named_actions.items():
        if not isinstance(action, Assign | Emit):
            raise HandlerConfigError(
                "actions", name, f"Named action {name!r} must be assign() or emit(), got {action!r}"
            )
    named_guards = {
        name: Injector(fn, _ACTION_PARAMS, f"guard {name!r}") for name, fn in (guards or {}).items()
    }
    return MachineSetup(bound, named_actions, named_guards)
