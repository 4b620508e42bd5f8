"""Each environment's settings, read from `config/<env>.toml` by walking the props fields.

Why so strict: a config mistake should stop the build with one clear line that names the
file, the key, the value and what is allowed, before anything is written. Unknown keys are
errors too, because a misspelt optional key would otherwise be silently ignored, and a key
that was renamed names its new spelling. No line here is about one backend: each backend's
keys, types, defaults and rules come from its props, found through the registry
(constructs_lib/registry.py); only the environment-wide settings and the renames are here.
No jsii: a typo is answered before cdktf loads.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

from constructs_lib import limits
from constructs_lib.backend_spec import EMULATOR, TERRAFORM, Backend
from constructs_lib.limits import show
from constructs_lib.props import (
    Field,
    fields_of,
    first_violation,
    inline_fields,
    setting,
    values_of,
)
from constructs_lib.registry import backends, part, ways

# `local` runs on this machine: SQS deployed into moto by Terraform, Pub/Sub and RabbitMQ
# loaded into their emulators (`make local-up`), for the integration tests and for trying the
# whole app without a cloud account.
ENVIRONMENTS = ("dev", "staging", "prod", "local")

# Our own convention, not a cloud limit: short enough for every backend's names once
# appended, and lowercase so it reads the same in all of them.
# No `worker` between hyphens: the producer's grant covers `mlTrainingQueue-<suffix>-worker-*`,
# so a suffix `dev-worker-1` (or `dev-worker`) would put its queues under dev's grant.
NAME_SUFFIX = limits.NameRule(
    r"(?!(?:.*-)?worker(?:-|$))[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?",
    "1 to 32 lowercase letters, digits and hyphens, not starting or ending with a hyphen,"
    " without 'worker' between hyphens (another environment's '<name>-worker-*' grants would"
    " cover its queues)",
)
# Relative, inside the project, so the JSON holds no machine-specific path.
LOCAL_STATE_PATH = limits.NameRule(
    r"(?!/)(?!.*\.\.)[A-Za-z0-9._/-]+\.tfstate",
    "a relative path inside the project ending in '.tfstate', without '..'",
)
STATE_KEY = limits.NameRule(
    r"[A-Za-z0-9!_.*'()/-]{1,1024}", "an object key of 1 to 1024 safe characters"
)
# Positive; each enabled backend's own cap is checked once the backends are known.
TASK_DURATION = limits.IntRange(1)

# Keys renamed so that one idea has one word on every backend; the old spelling fails and
# names the new one, so an old config cannot silently lose a setting.
RENAMED = {
    "sqs.dead_letter_queue": "dead_letter",
    "sqs.shared_queue": "shared",
    "sqs.kms_key_id": "kms_key",
    "sqs.alarm_topic_arn": "alarm_target",
    "sqs.producer_role": "producer",
    "sqs.worker_role_template": "worker_template",
    "pubsub.shared_subscription": "shared",
    "pubsub.kms_key_name": "kms_key",
    "pubsub.alerts": "alarms",
    "pubsub.oldest_message_alert_seconds": "oldest_message_alarm_seconds",
    "pubsub.alert_notification_channel": "alarm_target",
    "pubsub.producer_member": "producer",
    "pubsub.worker_member_template": "worker_template",
    "rabbitmq.producer_role": "producer",
    "rabbitmq.worker_role_template": "worker_template",
}


def common_tags(environment: str) -> dict[str, str]:
    """On everything that takes tags or labels, so costs and owners can be traced.

    Lowercase keys and values with underscores, which both AWS tags and Google labels
    accept (jsii rewrites a hyphen in a Google label key to an underscore anyway).
    """
    return {"project": "ml-queues", "environment": environment, "managed_by": "cdktf"}


P = TypeVar("P")


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True, kw_only=True)
class LocalState:
    """State in a file under the project root, for one person's environment."""

    path: str = setting(
        rule=LOCAL_STATE_PATH, meaning="state file, relative to the project root (`local`)"
    )


@dataclass(frozen=True, kw_only=True)
class S3State:
    bucket: str = setting(rule=limits.S3_BUCKET, meaning="S3 bucket (`s3`)")
    key: str = setting(
        rule=STATE_KEY,
        meaning="object key (`s3`); the state is encrypted and locked (`use_lockfile`)",
    )
    region: str = setting(rule=limits.AWS_REGION, meaning="the bucket's region (`s3`)")


@dataclass(frozen=True, kw_only=True)
class GcsState:
    bucket: str = setting(rule=limits.GCS_BUCKET, meaning="Cloud Storage bucket (`gcs`)")
    prefix: str = setting(rule=STATE_KEY, meaning="object prefix (`gcs`)")


StateSettings = LocalState | S3State | GcsState
STATE_BACKENDS: Mapping[str, type[StateSettings]] = {
    "local": LocalState,
    "s3": S3State,
    "gcs": GcsState,
}
STATE_BACKEND_MEANING = "`local`, `s3` or `gcs`"

# Beside `stacks/` in the app's output (`cdktf.out/emulated/stacks/<env>`): the parts of
# environments loaded into local emulators, in an app of their own (stacks/app.py).
EMULATED = "emulated"

DEPLOY_WAY = limits.NameRule(f"{TERRAFORM}|{EMULATOR}", f"'{TERRAFORM}' or '{EMULATOR}'")


@dataclass(frozen=True, kw_only=True)
class Deployment:
    """The `deploy` key, in the table of each backend that declares an emulator
    (`Backend.emulator`); the config reference names that emulator after the meaning."""

    deploy: str = setting(
        TERRAFORM,
        rule=DEPLOY_WAY,
        meaning="how the backend reaches the environment: `terraform`, in the environment's"
        " Terraform stack (`make deploy`); `emulator`, left out of that stack, so that"
        " Terraform needs no provider for it, synthesized apart"
        " (`cdktf.out/emulated/stacks/<env>/cdk.tf.json`) and loaded into",
    )


[_DEPLOY] = fields_of(Deployment)


@dataclass(frozen=True, kw_only=True)
class EnvironmentSettings:
    """Everything one environment's stack is built from."""

    name: str
    source: str
    name_suffix: str = setting(
        rule=NAME_SUFFIX,
        meaning="appended to SQS and Pub/Sub names (`mlTrainingQueue-<suffix>`) and to"
        " RabbitMQ user names; unique per environment",
    )
    workers: int = setting(
        rule=limits.WORKER_COUNT,
        meaning="number of workers: an SQS queue, a Pub/Sub topic and subscription, a RabbitMQ"
        " queue and user each",
    )
    max_task_duration_seconds: int = setting(
        30,
        rule=TASK_DURATION,
        meaning="how long one task may stay with a worker before it goes to another: SQS"
        " visibility timeout (up to 43200), Pub/Sub ack deadline (10 to 600), RabbitMQ"
        " `consumer-timeout` (from broker 3.12, at least 60: under it, 60 is written);"
        " checked against each enabled backend",
    )
    prevent_destroy: bool = setting(
        False,
        by_environment={"prod": True},
        meaning="Terraform refuses to destroy queues, topics, subscriptions, the vhost and"
        " exchanges",
    )
    state: StateSettings
    # Each registered backend's props by its key; None: switched off in this environment.
    backends: Mapping[str, Any]
    # How each enabled backend reaches the environment (`deploy`), by key; unsaid: TERRAFORM.
    deploy: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def props(self, kind: type[P]) -> P | None:
        """The enabled backend whose props are a `kind`, typed; None: none is enabled."""
        return next((props for props in self.backends.values() if isinstance(props, kind)), None)

    def part(self, way: str) -> EnvironmentSettings:
        """This environment with only the backends that reach it `way` (TERRAFORM: what
        Terraform plans and applies; EMULATOR: what is loaded into local emulators)."""
        return dataclasses.replace(self, backends=part(self.backends, self.deploy, way))

    def has_part(self, way: str) -> bool:
        return any(props is not None for props in self.part(way).backends.values())


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_.-]{1,64}")


# What a table may hold: its keys, each mapped to the keys of the table it is, or to None for
# a setting.
Known: TypeAlias = Mapping[str, "Known | None"]


def _known_keys(data: Mapping[str, Any]) -> Known:
    """Every key a config may hold, at every depth. [state]'s depend on its backend: all
    backends' keys while that is not (yet) a known one."""
    state = data.get("state")
    written = state.get("backend") if isinstance(state, dict) else None
    chosen = STATE_BACKENDS.get(written) if isinstance(written, str) else None
    state_props = [chosen] if chosen is not None else STATE_BACKENDS.values()
    return {
        **{field.name: None for field in fields_of(EnvironmentSettings)},
        "state": {
            "backend": None,
            **{field.name: None for props in state_props for field in fields_of(props)},
        },
        **{
            backend.key: {
                "enabled": None,
                **({_DEPLOY.name: None} if len(ways(backend)) > 1 else {}),
                **{field.name: None for field in fields_of(backend.props) if field.setting.config},
            }
            for backend in backends()
        },
    }


@dataclass(frozen=True)
class _Unknown:
    """A key that no setting reads, where it was found and what was known there."""

    parents: tuple[str, ...]
    key: str
    value: object
    known: Known


def _unknown_keys(
    data: Mapping[str, Any], known: Known, parents: tuple[str, ...] = ()
) -> Iterator[_Unknown]:
    """Every key the config holds and no setting reads, at any depth, in file order."""
    for key, value in data.items():
        inner = known.get(key)
        if key not in known:
            yield _Unknown(parents, key, value, known)
        elif inner is not None and isinstance(value, dict):
            yield from _unknown_keys(value, inner, (*parents, key))


def _key_text(key: str) -> str:
    """A key as it can be shown on one line: quoted keys may hold anything."""
    return key if _PLAIN_KEY.fullmatch(key) else repr(key)


def _value_text(value: object) -> str:
    text = show(value)
    return text if len(text) <= 80 else f"{text[:77]}..."


class _Table:
    """One TOML table being read: typed look-ups, each error naming the file and the key."""

    KINDS: Mapping[type, str] = {str: "a string", int: "an integer", bool: "true or false"}

    def __init__(self, data: Mapping[str, Any], *, source: str, path: str = "") -> None:
        self._data = data
        self._source = source
        self._path = path

    def name(self, key: str) -> str:
        return f"{self._path}.{key}" if self._path else key

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self._source}: {_key_text(self.name(key))} {message}")

    def check_keys(self, known: Known) -> None:
        """Name the first key that no setting reads, before anything else is judged: a typo
        would otherwise surface as the key it was meant to be, "missing", and never be named.
        A renamed key names its new spelling; any other, the nearest known key if one is
        close."""
        unknown = next(_unknown_keys(self._data, known), None)
        if unknown is not None:
            raise ConfigError(f"{self._source}: {_unknown_text(unknown)}")

    def table(self, key: str) -> _Table:
        value = self._data.get(key)
        if not isinstance(value, dict):
            found = "is missing" if value is None else f"= {_value_text(value)} is not a table"
            raise self.error(key, f"{found}; expected a [{self.name(key)}] table")
        return _Table(value, source=self._source, path=self.name(key))

    def value(
        self, key: str, kind: type, *, rule: limits.Rule | None = None, required: bool = True
    ) -> Any:
        """The value of `key`, checked; None when it is absent and not required."""
        if key not in self._data:
            if required:
                expected = rule.describe_for(None) if rule is not None else self.KINDS[kind]
                raise self.error(key, f"is missing; expected {expected}")
            return None
        value = self._data[key]
        if isinstance(value, bool) != (kind is bool) or not isinstance(value, kind):
            raise self.error(
                key, f"= {_value_text(value)} has the wrong type; expected {self.KINDS[kind]}"
            )
        if rule is not None and not rule.allows(value):
            raise self.error(
                key, f"= {_value_text(value)} is not allowed; expected {rule.describe_for(value)}"
            )
        return value

    def field(self, field: Field, *, environment: str, enabled: bool = True) -> Any:
        """A declared setting: its value, or its default (per environment where it has one)."""
        if enabled and environment in field.setting.required_in and field.name not in self._data:
            rule = field.setting.rule
            expected = rule.describe_for(None) if rule is not None else self.KINDS[field.kind]
            raise self.error(
                field.name, f"is missing; {environment} must set it: expected {expected}"
            )
        value = self.value(
            field.name,
            field.kind,
            rule=field.setting.rule,
            required=enabled and field.setting.required,
        )
        if value is None and not field.optional:
            return field.setting.by_environment.get(environment, field.default)
        return value


def _unknown_text(unknown: _Unknown) -> str:
    """`sqs.regoin is not a known setting; did you mean region?`, or, with nothing close,
    what the table holds. A renamed key names its new spelling. What was written as a table
    is called one, and so is a suggestion that is one."""
    known, parents = unknown.known, unknown.parents
    dotted = ".".join((*parents, unknown.key))
    if dotted in RENAMED:
        new = ".".join((*parents, RENAMED[dotted]))
        return f"{dotted} has been renamed; write {new} instead (same values, same meaning)"

    def table(name: str) -> str:
        return f"[{_key_text('.'.join((*parents, name)))}]"

    if isinstance(unknown.value, dict):
        what = f"{table(unknown.key)} is not a known table"
    else:
        what = f"{_key_text(dotted)} is not a known setting"
    # 0.75: one wrong letter in four, or two swapped in six (`regoin`); below it, nearest
    # keys are other words (`bucket` for `backend`), better answered with the whole list.
    nearest = difflib.get_close_matches(unknown.key, list(known), n=1, cutoff=0.75)
    if nearest:
        [name] = nearest
        return f"{what}; did you mean {table(name) if known[name] is not None else name}?"
    tables = [table(name) for name in sorted(known) if known[name] is not None]
    if isinstance(unknown.value, dict) and tables:
        return f"{what}; known tables: {', '.join(tables)}"
    if isinstance(unknown.value, dict):
        return f"{what}; [{_key_text('.'.join(parents))}] holds settings only"
    return f"{what}; allowed here: {', '.join(sorted(known))}"


def _build(props: type, values: Mapping[str, Any]) -> Any:
    """`props` from the values read, its inline props too; unread fields keep their default."""
    given = {
        field.name: values[field.name]
        for field in dataclasses.fields(props)
        if field.name in values and values[field.name] is not None
    }
    for name, inner in inline_fields(props):
        given[name] = _build(inner, values)
    return props(**given)


def _state(table: _Table, environment: str) -> StateSettings:
    backend = table.value("backend", str)
    if backend not in STATE_BACKENDS:
        raise table.error(
            "backend",
            f"= {_value_text(backend)} is not allowed; expected 'local', 's3' or 'gcs'",
        )
    props = STATE_BACKENDS[backend]
    values = {field.name: table.field(field, environment=environment) for field in fields_of(props)}
    state: StateSettings = _build(props, values)
    return state


def _backend(
    root: _Table, backend: Backend, environment: Mapping[str, Any], *, name: str
) -> tuple[Any, str]:
    """The backend's props, or None when it is switched off, and how it reaches the
    environment; every key is checked either way."""
    table = root.table(backend.key)
    enabled = table.value("enabled", bool)
    way = TERRAFORM
    if len(ways(backend)) > 1:
        way = table.field(_DEPLOY, environment=name, enabled=enabled)
    fields = list(fields_of(backend.props))
    values = {
        field.name: table.field(field, environment=name, enabled=enabled)
        for field in fields
        if field.setting.config
    }
    if not enabled:
        return None, way
    for field in fields:
        if field.setting.from_environment is not None:
            values[field.name] = _from_environment(root, field, environment)
    props = _build(backend.props, values)
    # Rules on what the stack sets (names) are the constructs' to report.
    keys = [field.name for field in fields if field.setting.config]
    violation = first_violation(backend.props, values_of(props), among=keys)
    if violation is not None:
        key, expected = violation
        value = values_of(props)[key]
        found = "is missing" if value is None else f"= {show(value)} is not allowed"
        raise table.error(key, f"{found}; {expected}")
    return props, way


def _from_environment(root: _Table, field: Field, environment: Mapping[str, Any]) -> Any:
    """An environment-wide value beyond what this backend takes: say what to do instead."""
    origin = field.setting.from_environment
    assert origin is not None
    value = environment[origin.key]
    rule = field.setting.rule
    if rule is not None and not rule.allows(value):
        raise root.error(
            origin.key,
            f"= {show(value)} is beyond {origin.becomes} ({rule.describe_for(value)}); set a"
            f" value in range and have workers on longer tasks {origin.advice} while they work",
        )
    return value


def parse_environment(name: str, data: Mapping[str, Any], *, source: str) -> EnvironmentSettings:
    """Build one environment's settings from parsed TOML; `source` names it in errors."""
    root = _Table(data, source=source)
    root.check_keys(_known_keys(data))
    top = {
        field.name: root.field(field, environment=name) for field in fields_of(EnvironmentSettings)
    }
    state = _state(root.table("state"), name)
    read = {backend.key: _backend(root, backend, top, name=name) for backend in backends()}
    return EnvironmentSettings(
        name=name,
        source=source,
        state=state,
        backends={key: props for key, (props, _) in read.items()},
        deploy={key: way for key, (props, way) in read.items() if props is not None},
        **top,
    )


def load_environment(config_dir: Path, name: str) -> EnvironmentSettings:
    """Read and check `config/<name>.toml`; whatever the file holds, a bad one is one line."""
    path = config_dir / f"{name}.toml"
    source = f"config/{path.name}"
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{source}: file not found in {config_dir}; every environment"
            f" ({', '.join(ENVIRONMENTS)}) needs one"
        ) from None
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"{source}: not UTF-8 text (byte {error.start}); TOML files are UTF-8"
        ) from None
    except OSError as error:
        raise ConfigError(f"{source}: cannot be read: {error.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{source}: not valid TOML: {error}") from None
    except RecursionError:
        raise ConfigError(f"{source}: not valid TOML: nested too deeply") from None
    return parse_environment(name, data, source=source)


def load_all(config_dir: Path) -> list[EnvironmentSettings]:
    """Read every environment, then check that no two of them would share anything."""
    extra = sorted(path.name for path in config_dir.glob("*.toml") if path.stem not in ENVIRONMENTS)
    if extra:
        raise ConfigError(
            f"config/{_key_text(extra[0])}: not a known environment; expected one of"
            f" {', '.join(f'{env}.toml' for env in ENVIRONMENTS)}"
        )
    environments = [load_environment(config_dir, name) for name in ENVIRONMENTS]
    _check_no_sharing(environments)
    return environments


def _unique_value(key: str, field: str) -> Callable[[EnvironmentSettings], object]:
    def value(env: EnvironmentSettings) -> object:
        props = env.backends.get(key)
        return getattr(props, field) if props is not None else None

    return value


def _check_no_sharing(environments: list[EnvironmentSettings]) -> None:
    """Two environments with one name suffix, vhost or state would overwrite each other."""
    checks: list[tuple[str, Callable[[EnvironmentSettings], object]]] = [
        ("name_suffix", lambda env: env.name_suffix),
        ("state", lambda env: env.state),
    ]
    for backend in backends():
        for field in backend.unique:
            checks.insert(-1, (f"{backend.key}.{field}", _unique_value(backend.key, field)))
    for what, key in checks:
        owners: dict[object, EnvironmentSettings] = {}
        for env in environments:
            value = key(env)
            if value is None:
                continue
            if value in owners:
                raise ConfigError(
                    f"{env.source}: {what} = {value!r} is already used by"
                    f" {owners[value].source}; each environment needs its own"
                )
            owners[value] = env
