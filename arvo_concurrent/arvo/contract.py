"""Arvo contracts: which event types a service accepts and emits, with a schema per version.

Schemas are msgspec Struct types. Parsing data against a schema behaves like Arvo's zod object
schemas: unknown keys are stripped, defaults applied and ``msgspec.Meta`` constraints enforced
(:func:`decode_data`, :func:`parse_data`).

Contract objects refuse attribute assignment after construction and are safe to share between
threads (their dicts, ``metadata``, ``versions`` and ``emits``, must not be mutated); nothing
here blocks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import msgspec

from arvo_concurrent.arvo.event import DOMAIN_PATTERN, TYPE_PATTERN
from arvo_concurrent.arvo.uri import validate_uri
from arvo_concurrent.errors import ArvoConcurrentError

__all__ = [
    "ORCHESTRATOR_CONTRACT_TYPE",
    "PARENT_SUBJECT_FIELD",
    "WILDCARD_VERSION",
    "AcceptsInfo",
    "ArvoContract",
    "ArvoContractError",
    "ArvoErrorSchema",
    "EmitInfo",
    "SchemaValidationError",
    "SystemErrorInfo",
    "VersionedArvoContract",
    "create_arvo_contract",
    "create_arvo_orchestrator_contract",
    "create_simple_arvo_contract",
    "decode_data",
    "error_path",
    "is_orchestrator_contract",
    "is_schema",
    "parse_data",
    "parse_dataschema",
]

S = TypeVar("S", bound=msgspec.Struct)
Schema = type[msgspec.Struct]

# The wire key an orchestrator init carries its parent subject in, and its Python attribute.
PARENT_SUBJECT_FIELD = "parentSubject$$"
_PARENT_SUBJECT_ATTR = "parent_subject"

# The metadata ``contractType`` of orchestrator contracts.
ORCHESTRATOR_CONTRACT_TYPE = "ArvoOrchestratorContract"
# The version in a dataschema that matches every version (system errors carry it).
WILDCARD_VERSION = "0.0.0"

_SEMVER = re.compile(r"\d+\.\d+\.\d+")
_LOCATION = re.compile(r" - at `(\$[^`]*)`\Z")
_MISSING_FIELD = re.compile(r"missing required field `([^`]*)`")
_ORCHESTRATOR_NAME = re.compile(r"[a-z0-9.]+")
_ORCHESTRATOR_PREFIX = "arvo.orc"


class ArvoContractError(ArvoConcurrentError, ValueError):
    """A contract that breaks the naming rules, or a version the contract does not have.

    Attributes:
        value: the offending value.
    """

    def __init__(self, message: str, value: object) -> None:
        super().__init__(message)
        self.value = value


class SchemaValidationError(ArvoConcurrentError, ValueError):
    """Data that does not fit its schema.

    Attributes:
        path: where the problem is, as msgspec writes it (``"$"``, ``"$.numbers[0]"``).
        schema: the Struct type the data was checked against.
        data: the rejected data.
    """

    def __init__(self, message: str, *, path: str, schema: Schema, data: object) -> None:
        super().__init__(message)
        self.path = path
        self.schema = schema
        self.data = data


class ArvoErrorSchema(msgspec.Struct, kw_only=True):
    """The data of every system error event."""

    errorName: str  # noqa: N815  # wire name
    errorMessage: str  # noqa: N815  # wire name
    errorStack: str | None  # noqa: N815  # wire name


ErrorSchema = type[ArvoErrorSchema]


def is_schema(value: object) -> bool:
    """True when ``value`` is a msgspec Struct type (what contracts take as a schema)."""
    return isinstance(value, type) and issubclass(value, msgspec.Struct)


def is_orchestrator_contract(contract: object) -> bool:
    """True for an orchestrator contract or one of its versions (by ``metadata.contractType``)."""
    metadata = getattr(contract, "metadata", None)
    return (
        isinstance(metadata, Mapping) and metadata.get("contractType") == ORCHESTRATOR_CONTRACT_TYPE
    )


def decode_data(
    schema: type[S], data: Mapping[str, Any] | msgspec.Struct, *, error_prefix: str = ""
) -> S:
    """Validate ``data`` (a dict or a Struct) against ``schema``; return a ``schema`` instance.

    Unknown keys are stripped, defaults applied, ``msgspec.Meta`` constraints enforced. A Struct
    is validated again through its builtin form, since constructing a Struct checks nothing.

    Args:
        schema: the msgspec Struct type.
        data: the data to validate.
        error_prefix: text put before the error message (the event factories use it).

    Raises:
        SchemaValidationError: the message names the field path and keeps msgspec's text.
    """
    source = msgspec.to_builtins(data) if isinstance(data, msgspec.Struct) else data
    try:
        return msgspec.convert(source, schema)
    except msgspec.ValidationError as exc:
        path = error_path(exc)
        raise SchemaValidationError(
            f"{error_prefix}{schema.__name__} at {path}: {exc}",
            path=path,
            schema=schema,
            data=data,
        ) from None


def error_path(error: msgspec.ValidationError) -> str:
    """The path of the field a msgspec validation error is about, e.g. ``"$.numbers[0]"``.

    For a missing field it is the path of that field (``"$.numbers"``), not of its parent.
    """
    text = str(error)
    location = _LOCATION.search(text)
    path = location.group(1) if location else "$"
    missing = _MISSING_FIELD.search(text)
    return f"{path}.{missing.group(1)}" if missing else path


def parse_data(
    schema: Schema, data: Mapping[str, Any] | msgspec.Struct, *, error_prefix: str = ""
) -> dict[str, Any]:
    """Like :func:`decode_data`, but return JSON-ready builtins (keys in schema order).

    Raises:
        SchemaValidationError: as :func:`decode_data`.
    """
    result: dict[str, Any] = msgspec.to_builtins(
        decode_data(schema, data, error_prefix=error_prefix)
    )
    return result


def parse_dataschema(dataschema: str | None) -> tuple[str, str] | None:
    """Split a ``dataschema`` (``"<uri>/<X.Y.Z>"``) into ``(uri, version)``; None if invalid."""
    if not isinstance(dataschema, str):
        return None
    uri, sep, version = dataschema.rpartition("/")
    if not sep or not uri or not _SEMVER.fullmatch(version):
        return None
    return uri, version


@dataclass(frozen=True, slots=True)
class AcceptsInfo:
    """The event type a contract accepts, and its schema."""

    type: str
    schema: Schema


@dataclass(frozen=True, slots=True)
class EmitInfo:
    """One event type a contract emits, and its schema."""

    type: str
    schema: Schema


@dataclass(frozen=True, slots=True)
class SystemErrorInfo:
    """The system error event of a contract (``dataschema`` is set on a versioned contract)."""

    type: str
    schema: ErrorSchema
    dataschema: str | None = None


class _Sealed:
    """Refuses attribute assignment once ``_seal()`` ran, so built contracts stay as built."""

    __slots__ = ("_sealed",)

    def _seal(self) -> None:
        object.__setattr__(self, "_sealed", True)

    def __setattr__(self, name: str, value: object) -> None:
        if getattr(self, "_sealed", False):
            raise AttributeError(f"{type(self).__name__} is immutable (cannot set {name!r})")
        object.__setattr__(self, name, value)


class VersionedArvoContract(_Sealed):
    """One version of an :class:`ArvoContract`. Immutable and thread-safe.

    Attributes:
        contract: the parent contract.
        version: the version string ``X.Y.Z``.
        accepts: the accepted type and schema.
        emits: emitted event type -> schema.
        emit_list: the same as a list of :class:`EmitInfo`.
        system_error: type, schema and wildcard dataschema (``uri/0.0.0``) of system errors.
        dataschema: ``uri/version``.
    """

    __slots__ = (
        "accepts",
        "contract",
        "dataschema",
        "emit_list",
        "emits",
        "system_error",
        "version",
    )

    def __init__(self, contract: ArvoContract, version: str) -> None:
        spec = contract.versions[version]
        self.contract = contract
        self.version = version
        self.accepts = AcceptsInfo(contract.type, spec["accepts"])
        self.emits: dict[str, Schema] = dict(spec["emits"])
        self.emit_list = [EmitInfo(key, schema) for key, schema in self.emits.items()]
        self.dataschema = f"{contract.uri}/{version}"
        self.system_error = SystemErrorInfo(
            contract.system_error.type, ArvoErrorSchema, f"{contract.uri}/{WILDCARD_VERSION}"
        )
        self._seal()

    @property
    def uri(self) -> str:
        """The contract uri."""
        return self.contract.uri

    @property
    def type(self) -> str:
        """The accepted event type."""
        return self.contract.type

    @property
    def domain(self) -> str | None:
        """The contract domain."""
        return self.contract.domain

    @property
    def description(self) -> str | None:
        """The contract description."""
        return self.contract.description

    @property
    def metadata(self) -> dict[str, Any]:
        """The contract metadata (``contractType``, ``rootType``... for generated contracts)."""
        return self.contract.metadata

    def __repr__(self) -> str:
        return f"VersionedArvoContract(uri={self.uri!r}, version={self.version!r})"


class ArvoContract(_Sealed):
    """A contract: ``uri``, accepted ``type`` and, per version, accepts/emits schemas.

    Build it with :func:`create_arvo_contract`, :func:`create_simple_arvo_contract` or
    :func:`create_arvo_orchestrator_contract`. Immutable and thread-safe once built.

    Raises:
        ArvoContractError: on construction, naming the value that breaks a rule
            (docs/arvo-model.md §2.1).
    """

    __slots__ = (
        "_versioned",
        "description",
        "domain",
        "metadata",
        "system_error",
        "type",
        "uri",
        "version_list",
        "versions",
    )

    def __init__(
        self,
        *,
        uri: str,
        type: str,  # the Arvo name
        versions: Mapping[str, Mapping[str, Any]],
        domain: str | None = None,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        _check_uri(uri)
        _check_type("type", type)
        _check_domain(domain)
        if description is not None and not isinstance(description, str):
            raise ArvoContractError(
                f"Contract description must be a string, got {description!r}", description
            )
        self.uri = uri
        self.type = type
        self.domain = domain
        self.description = description
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.versions = _checked_versions(versions)
        self.version_list = sorted(self.versions, key=_semver_key)
        self.system_error = SystemErrorInfo(f"sys.{type}.error", ArvoErrorSchema)
        self._versioned = {v: VersionedArvoContract(self, v) for v in self.version_list}
        self._seal()

    def version(self, version: str) -> VersionedArvoContract:
        """The given version: ``"X.Y.Z"``, ``"latest"``/``"any"`` (highest) or ``"oldest"``.

        Raises:
            ArvoContractError: the contract has no such version.
        """
        if version in ("latest", "any"):
            version = self.version_list[-1]
        elif version == "oldest":
            version = self.version_list[0]
        found = self._versioned.get(version)
        if found is None:
            raise ArvoContractError(
                f"The contract (uri={self.uri}) does not have version={version}", version
            )
        return found

    def __repr__(self) -> str:
        return f"ArvoContract(uri={self.uri!r}, type={self.type!r}, versions={self.version_list})"


def create_arvo_contract(
    *,
    uri: str,
    type: str,  # the Arvo name
    versions: Mapping[str, Mapping[str, Any]],
    domain: str | None = None,
    description: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> ArvoContract:
    """A contract: ``versions={"1.0.0": {"accepts": S, "emits": {"evt.x.y": S2}}}``.

    Raises:
        ArvoContractError: a naming rule is broken; also when ``type`` or an emit type starts
            with ``arvo.orc`` (reserved for orchestrators, a plain prefix test as in arvo-core).
    """
    for event_type in [type, *(t for spec in versions.values() for t in spec.get("emits", {}))]:
        if isinstance(event_type, str) and event_type.startswith(_ORCHESTRATOR_PREFIX):
            raise ArvoContractError(
                f"Event type {event_type!r} starts with the reserved prefix "
                f"'{_ORCHESTRATOR_PREFIX}'",
                event_type,
            )
    return ArvoContract(
        uri=uri,
        type=type,
        versions=versions,
        domain=domain,
        description=description,
        metadata=metadata,
    )


def create_simple_arvo_contract(
    *,
    uri: str,
    type: str,  # the Arvo name
    versions: Mapping[str, Mapping[str, Any]],
    domain: str | None = None,
    description: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> ArvoContract:
    """A request/reply contract: accepts ``com.<type>``, emits ``evt.<type>.success``.

    ``versions={"1.0.0": {"accepts": S, "emits": S2}}``; metadata gains
    ``contractType="SimpleArvoContract"`` and ``rootType=<type>``.

    Raises:
        ArvoContractError: a naming rule is broken (the message names the value).
    """
    if not isinstance(type, str) or not type:
        raise ArvoContractError(
            f"Simple contract type must be a non-empty string, got {type!r}", type
        )
    emit_type = f"evt.{type}.success"
    full_versions = {
        version: {"accepts": spec.get("accepts"), "emits": {emit_type: spec.get("emits")}}
        for version, spec in _version_mappings(versions).items()
    }
    return create_arvo_contract(
        uri=uri,
        type=f"com.{type}",
        versions=full_versions,
        domain=domain,
        description=description,
        metadata={**(metadata or {}), "contractType": "SimpleArvoContract", "rootType": type},
    )


def create_arvo_orchestrator_contract(
    *,
    uri: str,
    name: str,
    versions: Mapping[str, Mapping[str, Any]],
    domain: str | None = None,
    description: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> ArvoContract:
    """An orchestrator contract: init ``arvo.orc.<name>``, complete ``arvo.orc.<name>.done``.

    ``versions={"1.0.0": {"init": S, "complete": S2}}``. Each version accepts ``S`` with one
    more required field first: ``parentSubject$$`` (Python attribute ``parent_subject``), a
    non-empty string or None (None for a root workflow). Metadata gains ``contractType``,
    ``rootType``, ``completeEventType`` and ``initEventType``.

    Raises:
        ArvoContractError: a naming rule is broken (the message names the value).
    """
    if not isinstance(name, str) or not _ORCHESTRATOR_NAME.fullmatch(name):
        raise ArvoContractError(f"Orchestrator name must match ^[a-z0-9.]+$, got {name!r}", name)
    init_type = f"{_ORCHESTRATOR_PREFIX}.{name}"
    complete_type = f"{init_type}.done"
    full_versions = {
        version: {
            "accepts": _with_parent_subject(version, spec.get("init")),
            "emits": {complete_type: spec.get("complete")},
        }
        for version, spec in _version_mappings(versions).items()
    }
    return ArvoContract(
        uri=uri,
        type=init_type,
        versions=full_versions,
        domain=domain,
        description=description,
        metadata={
            **(metadata or {}),
            "contractType": ORCHESTRATOR_CONTRACT_TYPE,
            "rootType": name,
            "completeEventType": complete_type,
            "initEventType": init_type,
        },
    )


_ParentSubject = Annotated[str, msgspec.Meta(min_length=1)] | None


def _with_parent_subject(version: str, init: object) -> Schema:
    """``init`` with a required ``parentSubject$$`` field put first."""
    if not is_schema(init):
        raise ArvoContractError(
            f"Version {version}: 'init' must be a msgspec Struct type, got {init!r}", init
        )
    init_fields = msgspec.structs.fields(init)  # type: ignore[arg-type]  # is_schema checked it
    for field in init_fields:
        if (
            PARENT_SUBJECT_FIELD in (field.name, field.encode_name)
            or field.name == _PARENT_SUBJECT_ATTR
        ):
            raise ArvoContractError(
                f"Version {version}: the init schema may not define {field.name!r} itself", init
            )
    fields: list[tuple[str, Any, Any]] = [
        (_PARENT_SUBJECT_ATTR, _ParentSubject, msgspec.field(name=PARENT_SUBJECT_FIELD))
    ]
    for field in init_fields:
        default: Any = msgspec.field(name=field.encode_name)
        if field.default is not msgspec.NODEFAULT:
            default = msgspec.field(default=field.default, name=field.encode_name)
        elif field.default_factory is not msgspec.NODEFAULT:
            default = msgspec.field(default_factory=field.default_factory, name=field.encode_name)
        fields.append((field.name, field.type, default))
    name = getattr(init, "__name__", "Init")
    return msgspec.defstruct(f"{name}WithParentSubject", fields, kw_only=True)


def _version_mappings(versions: object) -> dict[str, Mapping[str, Any]]:
    if not isinstance(versions, Mapping) or not versions:
        raise ArvoContractError(
            f"A contract needs at least one version, got {versions!r}", versions
        )
    for version, spec in versions.items():
        if not isinstance(spec, Mapping):
            raise ArvoContractError(f"Version {version!r} must map to a dict, got {spec!r}", spec)
    return dict(versions)


def _checked_versions(versions: object) -> dict[str, dict[str, Any]]:
    checked: dict[str, dict[str, Any]] = {}
    for version, spec in _version_mappings(versions).items():
        if not isinstance(version, str) or not _SEMVER.fullmatch(version):
            raise ArvoContractError(f"Contract version must be X.Y.Z, got {version!r}", version)
        if version == WILDCARD_VERSION:
            raise ArvoContractError("Contract version 0.0.0 is reserved", version)
        accepts, emits = spec.get("accepts"), spec.get("emits")
        if not is_schema(accepts):
            raise ArvoContractError(
                f"Version {version}: 'accepts' must be a msgspec Struct type, got {accepts!r}",
                accepts,
            )
        if not isinstance(emits, Mapping):
            raise ArvoContractError(
                f"Version {version}: 'emits' must map event types to schemas, got {emits!r}", emits
            )
        for emit_type, schema in emits.items():
            _check_type(f"Version {version}: emit type", emit_type)
            if not is_schema(schema):
                raise ArvoContractError(
                    f"Version {version}: the schema of {emit_type!r} must be a msgspec Struct "
                    f"type, got {schema!r}",
                    schema,
                )
        checked[version] = {"accepts": accepts, "emits": dict(emits)}
    return checked


def _semver_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _check_uri(uri: object) -> None:
    if not isinstance(uri, str) or not uri or not validate_uri(uri):
        raise ArvoContractError(f"Contract uri must be a non-empty valid URI, got {uri!r}", uri)


def _check_type(what: str, value: object) -> None:
    if not isinstance(value, str) or not TYPE_PATTERN.fullmatch(value):
        raise ArvoContractError(
            f"{what} must be 3+ dot-separated segments of lowercase letters and digits, "
            f"got {value!r}",
            value,
        )


def _check_domain(domain: object) -> None:
    if domain is not None and not (isinstance(domain, str) and DOMAIN_PATTERN.fullmatch(domain)):
        raise ArvoContractError(
            f"Contract domain must be null or match ^[a-z0-9.]+$, got {domain!r}", domain
        )
